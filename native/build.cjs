// Builds imgtag's native fast paths at install: planning (native/plan_lines.c, no library) and JPEG
// decoding (native/jpeg_fast.c over the system's libjpeg-turbo). It never fails the install: without
// libturbojpeg0-dev only the planning path is built and JPEGs are decoded with sharp; without a
// compiler neither is, and planning reads lines in JavaScript. Each says so once, here and where it
// is used. IMGTAG_NO_NATIVE=1 skips the build.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

if (process.env.IMGTAG_NO_NATIVE === '1') process.exit(0);
// npm puts its bundled node-gyp on PATH for install scripts; npm_config_node_gyp names it too.
const gyp = process.env.npm_config_node_gyp;
const [cmd, args] = gyp ? [process.execPath, [gyp, 'rebuild']] : ['node-gyp', ['rebuild']];

function build(jpeg) {
  const env = { ...process.env, IMGTAG_NATIVE_JPEG: jpeg ? '1' : '0' };
  const res = spawnSync(cmd, args, { cwd: path.join(__dirname, '..'), env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (res.status === 0) return undefined;
  const why = `${res.error?.message ?? ''}\n${res.stderr ?? ''}\n${res.stdout ?? ''}`
    .split('\n')
    .find((l) => /error|not found|No such file|fatal/i.test(l) && !/^gyp ERR! (stack|System|command|cwd|node|not ok)/.test(l));
  return (why ?? 'node-gyp failed').trim().slice(0, 160);
}

const jpegProblem = build(true);
if (jpegProblem === undefined) {
  console.log('imgtag: built the native fast paths (planning; JPEG decoding over libjpeg-turbo)');
} else {
  const planProblem = build(false);
  const hint = 'apt-get install libturbojpeg0-dev build-essential, then npm rebuild';
  if (planProblem === undefined) {
    console.log(`imgtag: built the planning fast path; the JPEG fast path was not built (${jpegProblem}): JPEGs are decoded with sharp, slower. For it: ${hint}`);
  } else {
    console.log(`imgtag: the native fast paths were not built (${planProblem}): planning reads lines in JavaScript and JPEGs are decoded with sharp, both slower. For them: ${hint}`);
  }
}
