import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { test } from 'node:test';
import { events, imgtag, type CliResult } from './helpers/cli.js';
import { ROOT } from './helpers/env.js';
import { closedPortUrl } from './helpers/file-mirror.js';
import { photoPaths } from './helpers/planned.js';
import { testS3 } from './helpers/s3.js';

test('the README way in works: npx imgtag runs the built bin', () => {
  const out = execFileSync('npx', ['--no', '--', 'imgtag', '--help'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(out, /^Usage: imgtag /m);
  for (const command of ['plan', 'run', 'demo', 'nightly', 'tune', 'report', 'submit']) assert.match(out, new RegExp(`^  ${command} `, 'm'));
});

test('the README\'s local S3 server: its --bucket is there, its credentials work, plan and run on s3:// as written', async () => {
  // `npm run s3-server -- --bucket photos` is this command; a free port instead of the README's 4568.
  const server = spawn(process.execPath, ['--openssl-legacy-provider', path.join(ROOT, 'dist/src/demo/s3-server-main.js'), '--port', '0', '--bucket', 'photos', '--with-parent'], { stdio: ['pipe', 'pipe', 'inherit'] });
  try {
    const [first] = (await once(readline.createInterface({ input: server.stdout! }), 'line')) as [string];
    const { endpoint } = JSON.parse(first) as { endpoint: string };
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-readme-s3-'));
    fs.mkdirSync(path.join(dir, 'my-photos'));
    for (const p of photoPaths(0, 3)) fs.copyFileSync(p, path.join(dir, 'my-photos', path.basename(p)));
    const env = { PATH: process.env.PATH, HOME: dir, IMGTAG_MODEL_DIR: process.env.IMGTAG_MODEL_DIR, AWS_ENDPOINT_URL: endpoint, AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };
    const plan = await imgtag(['plan', '--prefix', './my-photos', '--run', 's3://photos/runs/r1'], env, dir);
    assert.equal(plan.code, 0, plan.stderr);
    const run = await imgtag(['run', '--run', 's3://photos/runs/r1'], env, dir);
    assert.equal(run.code, 0, run.stderr);
    assert.match(run.stdout, /^tagged ok +3$/m);
    // A bare environment, as a newcomer's shell: no SDK notice nor warning of its own reaches them.
    assert.doesNotMatch(plan.stderr + run.stderr, /NodeVersionSupportWarning|Stream of unknown length/);
  } finally {
    server.kill();
  }
});

test('a new user\'s first-hour mistakes each get one line saying what was wrong and what to do', async () => {
  const s3 = await testS3();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-cli-'));
  const oneLine = (r: CliResult) => {
    assert.equal(r.code, 1);
    const lines = r.stderr.trim().split('\n');
    assert.ok(lines.length <= 2, `a short answer, not the usage:\n${r.stderr}`);
    assert.doesNotMatch(r.stderr, /^Options:/m);
    return lines[0]!;
  };
  // A folder as --manifest.
  assert.match(oneLine(await imgtag(['plan', '--manifest', dir, '--run', path.join(dir, 'run')])), /^imgtag: \S+ is a folder, not a file: name a file here/);
  // A bucket that does not exist.
  // (the endpoint given as the global flag, not the environment: the CLI configures S3 from its flags)
  const { AWS_ENDPOINT_URL: _, ...noEndpoint } = s3.env;
  assert.match(oneLine(await imgtag(['--endpoint', s3.endpoint, 'run', '--run', 's3://no-such-bucket-imgtag/runs/x2'], noEndpoint)), /^imgtag: bucket no-such-bucket-imgtag does not exist \(s3:\/\/no-such-bucket-imgtag\/runs\/x2\/plan\.json\): check the bucket name, or --region/);
  // No credentials anywhere in the AWS chain.
  const bare = { PATH: process.env.PATH, HOME: dir, AWS_EC2_METADATA_DISABLED: 'true', AWS_ENDPOINT_URL: s3.endpoint, IMGTAG_MODEL_DIR: process.env.IMGTAG_MODEL_DIR, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
  assert.match(oneLine(await imgtag(['plan', '--manifest', 's3://some-bucket/keys.txt', '--run', path.join(dir, 'r2')], bare)), /^imgtag: no AWS credentials for s3:\/\/some-bucket\/keys\.txt: set AWS_PROFILE/);
  // A bad flag value: the error and where to look, not 30 lines of usage.
  const zero = await imgtag(['run', '--run', dir, '--batch-size', '0']);
  assert.match(oneLine(zero), /^error: option '--batch-size <n>' argument '0' is invalid\. must be an integer >= 1$/);
  assert.match(zero.stderr, /^\(imgtag run --help shows its options\)$/m);
  // A mistyped flag is named, with the flag meant, before any required option is missed.
  const typo = await imgtag(['run', '--rn', 'x']);
  assert.equal(typo.code, 1);
  assert.match(typo.stderr, /^error: unknown option '--rn'\n/);
  assert.match(typo.stderr, /^\(Did you mean --run\?\)$/m);
  // A wrong endpoint: the endpoint named, not only the socket's "connect ECONNREFUSED".
  const closed = await closedPortUrl();
  assert.match(oneLine(await imgtag(['--endpoint', closed, 'plan', '--manifest', 's3://some-bucket/keys.txt', '--run', path.join(dir, 'r6')], noEndpoint)), new RegExp(`^imgtag: nothing answers at the S3 endpoint ${closed} \\(ECONNREFUSED\\) for s3://some-bucket/keys\\.txt: is the server running`));
  // Bare keys in a local list without --bucket are paths beside the list: planned, and warned.
  fs.writeFileSync(path.join(dir, 'bare.txt'), 'photos/2026/a.jpg\n');
  const bareKeys = await imgtag(['plan', '--manifest', path.join(dir, 'bare.txt'), '--run', path.join(dir, 'r7')]);
  assert.equal(bareKeys.code, 0, bareKeys.stderr);
  assert.ok(events(bareKeys.stderr).some((e) => e.event === 'notice' && /^warning: the first entry of \S+bare\.txt is read as the local path \S+photos\/2026\/a\.jpg, which is not there: if the list holds S3 keys, give --bucket BUCKET$/.test(String(e.message))), bareKeys.stderr);
  // --run naming a file.
  const file = path.join(dir, 'notes.txt');
  fs.writeFileSync(file, 'x');
  assert.match(oneLine(await imgtag(['run', '--run', file])), /^imgtag: --run \S+notes\.txt is a file, not a run directory/);
  // A plan.json from a newer imgtag.
  fs.mkdirSync(path.join(dir, 'newer'));
  fs.writeFileSync(path.join(dir, 'newer', 'plan.json'), JSON.stringify({ version: 2, shards: 1 }));
  assert.match(oneLine(await imgtag(['run', '--run', path.join(dir, 'newer')])), /was written by a newer imgtag \(plan version 2, this one reads 1\): upgrade imgtag/);
  // A plan.json claiming more shards than any plan has (it would list 1e8 shards to do).
  fs.writeFileSync(path.join(dir, 'newer', 'plan.json'), JSON.stringify({ version: 1, shards: 1e8 }));
  assert.match(oneLine(await imgtag(['run', '--run', path.join(dir, 'newer')])), /claims 100000000 shards, outside 0\.\.1000000: it is damaged/);
  // A CSV key list that is not CSV: the file is named.
  fs.writeFileSync(path.join(dir, 'keys.csv'), 'uri,size\n"a.jpg,1\n');
  assert.match(oneLine(await imgtag(['plan', '--manifest', path.join(dir, 'keys.csv'), '--run', path.join(dir, 'r3')])), /^imgtag: \S+keys\.csv: .*nothing was planned from it/);
  // --shards far beyond the images, and beyond any fleet.
  fs.writeFileSync(path.join(dir, 'two.txt'), 'a.jpg\nb.jpg\n');
  assert.match(oneLine(await imgtag(['plan', '--manifest', path.join(dir, 'two.txt'), '--run', path.join(dir, 'r4'), '--shards', '10000000'])), /--shards must be at most 1,000,000, not 10000000/);
  assert.match(oneLine(await imgtag(['plan', '--manifest', path.join(dir, 'two.txt'), '--run', path.join(dir, 'r5'), '--shards', '50'])), /--shards 50 is more than the 2 images the manifest lists: give --shards 2 or fewer/);
  assert.equal(fs.existsSync(path.join(dir, 'r5', 'plan.json')), false);
  // --stop-timeout larger than any timer: clamped, and said so.
  const clamped = await imgtag(['run', '--run', path.join(dir, 'r5'), '--stop-timeout', '3000000']);
  assert.match(clamped.stderr, /--stop-timeout 3000000 is more than 3600 s: using 3600/);
  assert.doesNotMatch(clamped.stderr, /TimeoutOverflowWarning/);
  // --version.
  const version = await imgtag(['--version']);
  assert.equal(version.code, 0);
  assert.equal(version.stdout.trim(), JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8')).version);
});
