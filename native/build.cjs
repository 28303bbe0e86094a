// Builds the JPEG fast path (native/jpeg_fast.c over the system's libjpeg-turbo) at install. It
// never fails the install: without a compiler or libturbojpeg0-dev, imgtag decodes JPEGs with sharp
// and says so once, here and at the start of each run. IMGTAG_NO_NATIVE=1 skips the build.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

if (process.env.IMGTAG_NO_NATIVE === '1') process.exit(0);
// npm puts its bundled node-gyp on PATH for install scripts; npm_config_node_gyp names it too.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];
const res = spawnSync(cmd, args, { cwd: path.join(__dirname, '..'), encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
if (res.status === 0) {
  console.log('imgtag: built the JPEG fast path (libjpeg-turbo)');
} else {
  const why = `${res.error?.message ?? ''}\n${res.stderr ?? ''}\n${res.stdout ?? ''}`
    .split('\n')
    .find((l) => /error|not found|No such file|fatal/i.test(l) && !/^gyp ERR! (stack|System|command|cwd|node|not ok)/.test(l));
  console.log(`imgtag: the JPEG fast path was not built (${(why ?? 'node-gyp failed').trim().slice(0, 160)}): JPEGs are decoded with sharp, slower. For the fast path: apt-get install libturbojpeg0-dev build-essential, then npm rebuild`);
}
