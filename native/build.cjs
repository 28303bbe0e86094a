// Builds imgtag's native fast paths at install: planning (native/plan_lines.c, no library), JPEG
// decoding (native/jpeg_fast.c over the system's libjpeg-turbo) and HEIC decoding
// (native/heic_decode.c over the system's libheif). It never fails the install: whatever cannot be
// built is left out, and imgtag uses its fallback (JavaScript lines, sharp, libheif as WebAssembly),
// saying so once, here and where it is used. IMGTAG_NO_NATIVE=1 skips the build.
const { spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

if (process.env.IMGTAG_NO_NATIVE === '1') process.exit(0);

const prefix = path.resolve(path.dirname(process.execPath), '..');
/**
 * Where this Node's own headers are, when they came with it (Debian's and NodeSource's nodejs put
 * them in <prefix>/include/node): node-gyp would otherwise download them, and fail offline.
 */
function localNodedir() {
  if (process.env.npm_config_nodedir) return undefined;
  try {
    const h = fs.readFileSync(path.join(prefix, 'include/node/node_version.h'), 'utf8');
    const version = ['MAJOR', 'MINOR', 'PATCH'].map((k) => new RegExp(`define NODE_${k}_VERSION (\\d+)`).exec(h)?.[1]).join('.');
    return `v${version}` === process.version ? prefix : undefined;
  } catch {
    return undefined;
  }
}
// npm names its bundled node-gyp for install scripts; run by hand (node native/build.cjs), npm's
// copy beside this Node, else one on PATH.
const npmGyp = path.join(prefix, 'lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js');
const gyp = process.env.npm_config_node_gyp ?? (fs.existsSync(npmGyp) ? npmGyp : undefined);
const nodedir = localNodedir();
const gypArgs = ['rebuild', ...(nodedir ? [`--nodedir=${nodedir}`] : [])];
const [cmd, args] = gyp ? [process.execPath, [gyp, ...gypArgs]] : ['node-gyp', gypArgs];

const LIBRARY_PATHS = [
  { name: 'JPEG', variable: 'IMGTAG_NATIVE_JPEG', needs: 'libturbojpeg0-dev', fallback: 'JPEGs are decoded with sharp, slower' },
  { name: 'HEIC', variable: 'IMGTAG_NATIVE_HEIC', needs: 'libheif-dev', fallback: 'HEIC is decoded by libheif as WebAssembly, several times slower' },
  // Only adds to the HEIC path: never built, nor reported missing, without it.
  { name: 'FFmpeg HEVC', variable: 'IMGTAG_NATIVE_HEVC_FFMPEG', needs: 'libavcodec-dev', fallback: "native HEIC goes through libheif's libde265, 1.4-1.6x slower", within: 'IMGTAG_NATIVE_HEIC' },
];
// A path whose variable is 0 is left out on purpose (the GPU image builds HEIC without FFmpeg).
const WANTED = LIBRARY_PATHS.filter((p) => process.env[p.variable] !== '0');

/** undefined when node-gyp built it; else the first line that says why not. */
function build(withPaths) {
  const env = { ...process.env };
  for (const p of LIBRARY_PATHS) env[p.variable] = withPaths.includes(p) ? '1' : '0';
  const res = spawnSync(cmd, args, { cwd: path.join(__dirname, '..'), env, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  if (res.status === 0) return undefined;
  const why = `${res.error?.message ?? ''}\n${res.stderr ?? ''}\n${res.stdout ?? ''}`
    .split('\n')
    .find((l) => /error|not found|No such file|fatal/i.test(l) && !/^gyp ERR! (stack|System|command|cwd|node|not ok)/.test(l));
  return (why ?? 'node-gyp failed').trim().slice(0, 160);
}

/** A set of paths that can be built together: each path's `within` is in it too. */
const whole = (set) => set.every((p) => !p.within || set.some((x) => x.variable === p.within));

// The largest set of library paths that builds: all of them, then every set one fewer, down to planning alone.
const subsets = Array.from({ length: 2 ** WANTED.length }, (_, bits) => WANTED.filter((_, i) => bits & (1 << i)))
  .filter(whole)
  .sort((a, b) => b.length - a.length);
let first;
let last;
let built;
for (const subset of subsets) {
  const why = build(subset);
  if (why === undefined) {
    built = subset;
    break;
  }
  first ??= why;
  last = why;
}
if (built === undefined) {
  // The last try built planning alone: its failure is the compiler's, not a library's.
  console.log(`imgtag: the native fast paths were not built (${last}): planning reads lines in JavaScript, JPEGs go through sharp and HEIC through WebAssembly, all slower. For them: apt-get install build-essential libturbojpeg0-dev libheif-dev libavcodec-dev, then npm rebuild`);
} else {
  console.log(`imgtag: built the native fast paths: planning${built.map((p) => `, ${p.name} decoding`).join('')}`);
  for (const p of WANTED.filter((x) => !built.includes(x) && whole([...built, x]))) console.log(`imgtag: the ${p.name} fast path was not built (${first}): ${p.fallback}. For it: apt-get install ${p.needs}, then npm rebuild`);
}
