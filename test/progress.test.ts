import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import os from 'node:os';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { events, imgtag } from './helpers/cli.js';
import { CLI } from './helpers/env.js';
import { photoPaths, plannedLocalRun } from './helpers/planned.js';

test('fleet logs: every JSON line names the run, host and array index; heartbeats move inside a shard; the summary comes last', async () => {
  const files = photoPaths(0, 160);
  const { run } = await plannedLocalRun('progress', files, 160);
  const res = await imgtag(['run', '--run', run, '--batch-size', '4'], { ...process.env, IMGTAG_HEARTBEAT_S: '0.3', AWS_BATCH_JOB_ARRAY_INDEX: '7' });
  assert.equal(res.code, 0, res.stderr);
  const lines = events(res.stderr);
  for (const e of lines) {
    assert.equal(e.run, run);
    assert.equal(e.host, os.hostname());
    assert.equal(e.arrayIndex, 7);
    assert.ok(!Number.isNaN(Date.parse(String(e.time))));
  }
  // One shard of 160 images: heartbeats between its start and its commit already count images.
  const shardAt = lines.findIndex((e) => e.event === 'shard');
  const inside = lines.slice(0, shardAt).filter((e) => e.event === 'heartbeat');
  assert.ok(inside.some((h) => Number(h.images) > 0 && Number(h.images) < 160), `no heartbeat inside the shard: ${JSON.stringify(inside)}`);
  for (const h of inside) for (const k of ['images', 'errors', 'imagesPerSecond', 'mbPerSecond', 'todoImages']) assert.equal(typeof h[k], 'number', k);
  const last = lines.at(-1)!;
  assert.equal(last.event, 'summary');
  assert.equal(last.exitCode, 0);
  assert.equal(last.images, 160);
  assert.equal(last.failures, 0);
  assert.equal(lines.filter((e) => e.event === 'progress').length, 0, 'per-batch progress stays off the log');
  assert.doesNotMatch(res.stderr, /NodeVersionSupportWarning/);
});

/** A real terminal of 80 columns (tmux, its own server with this process's environment). */
async function terminal(command: string): Promise<{ screen: () => string; keys: (k: string) => void; close: () => void }> {
  const socket = `imgtag-test-${process.pid}`;
  const tmux = (...args: string[]) => execFileSync('tmux', ['-L', socket, ...args], { encoding: 'utf8' });
  tmux('new-session', '-d', '-x', '80', '-y', '30', '-s', 't', `${command}; sleep 60`);
  return {
    screen: () => tmux('capture-pane', '-p', '-t', 't'),
    keys: (k) => void tmux('send-keys', '-t', 't', k),
    close: () => void tmux('kill-server'),
  };
}

async function until(what: string, check: () => boolean, seconds: number): Promise<void> {
  for (const end = Date.now() + seconds * 1000; !check(); await sleep(100)) if (Date.now() > end) assert.fail(`waited ${seconds} s for ${what}`);
}

test('a terminal of 80 columns: one progress line redrawn in place, never wrapped; Ctrl-C is acknowledged at once and unfinished shards are not counted as done', async () => {
  const { dir, run } = await plannedLocalRun('tty', photoPaths(0, 300), 10);
  const done = path.join(dir, 'exit-code');
  const cmd = `${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} run --run ${JSON.stringify(run)} --batch-size 4 >${JSON.stringify(path.join(dir, 'out.txt'))}; echo $? >${JSON.stringify(done)}`;
  const tty = await terminal(cmd);
  try {
    const lines = () => tty.screen().split('\n').filter((l) => l.trim() !== '');
    await until('the bar to count images', () => /\] [1-9]\d*\/300 images/.test(tty.screen()), 60);
    const bar = lines().filter((l) => l.includes('images'));
    assert.equal(bar.length, 1, `one progress line:\n${tty.screen()}`);
    assert.ok(bar[0]!.length <= 80);
    assert.match(bar[0]!, /^\[[#.]+\] \d+\/300 images {2}[\d.]+ images\/s {2}ETA /);
    assert.equal(lines().length, 1, `nothing else on the screen:\n${tty.screen()}`);
    tty.keys('C-c');
    const asked = Date.now();
    await until('the stop to be acknowledged', () => /stopping \(SIGINT\): \d shards? finishing, up to \d+:\d\d:\d\d; Ctrl-C again aborts/.test(tty.screen()), 2);
    assert.ok(Date.now() - asked < 2000);
    await until('the run to exit', () => fs.existsSync(done) && fs.readFileSync(done, 'utf8').trim() !== '', 60);
    assert.equal(fs.readFileSync(done, 'utf8').trim(), '3', 'interrupted with shards left: exit 3');
    // The last bar counts only the images of finished shards; the notes about the rest have lines of their own.
    const bars = lines().filter((l) => l.includes('images/s'));
    assert.equal(bars.length, 1, `still one progress line:\n${tty.screen()}`);
    assert.match(bars[0]!, /^\[[#.]+\] \d+\/300 images {2}[\d.]+ images\/s {2}ETA (\d+:\d\d:\d\d|unknown)( {2}\d+\/30 shards.*)?$/);
    assert.ok(Number(/(\d+)\/300 images/.exec(bars[0]!)![1]) < 300, bars[0]);
    assert.match(tty.screen(), /^imgtag: interrupted by SIGINT: \d+ shards? left unfinished/m);
    assert.match(fs.readFileSync(path.join(dir, 'out.txt'), 'utf8'), /shards +\d+ tagged, 0 already done, 0 held by other workers, [1-9]\d* unfinished \(of 30\)/);
  } finally {
    tty.close();
  }
});

test('a terminal: the summary starts on its own line below the last bar; a Ctrl-C that stops nothing is not called an interruption (exit 0)', async () => {
  const { dir, run } = await plannedLocalRun('tty-done', photoPaths(0, 300), 300);
  const done = path.join(dir, 'exit-code');
  const tty = await terminal(`${JSON.stringify(process.execPath)} ${JSON.stringify(CLI)} run --run ${JSON.stringify(run)} --batch-size 4 --workers 1 --stop-timeout 600; echo $? >${JSON.stringify(done)}`);
  try {
    // One shard of 300, in hand when Ctrl-C comes (the bar has counted some, not all): a grace time
    // longer than any machine needs lets it finish, so nothing is left unfinished.
    await until('the bar to count images', () => /\] [1-9]\d*\/300 images/.test(tty.screen()), 60);
    tty.keys('C-c');
    await until('the run to exit', () => fs.existsSync(done) && fs.readFileSync(done, 'utf8').trim() !== '', 60);
    assert.equal(fs.readFileSync(done, 'utf8').trim(), '0', tty.screen());
    const screen = tty.screen();
    assert.doesNotMatch(screen, /interrupted|exit 3|run the same command again/, screen);
    assert.match(screen, /^imgtag: SIGINT came as the last shards finished: nothing is left to do$/m);
    assert.match(screen, /^\[#+\] 300\/300 images .*$\n^shards +1 tagged, 0 already done/m, screen);
  } finally {
    tty.close();
  }
});

test('a resumed run counts exactly the images left: its bar and heartbeats end at their total', async () => {
  const { run } = await plannedLocalRun('resumed-total', photoPaths(0, 25), 10);
  const first = await imgtag(['run', '--run', run, '--shard', '0', '--progress', 'none']);
  assert.equal(first.code, 0, first.stderr);
  const rest = await imgtag(['run', '--run', run, '--progress', 'json']);
  assert.equal(rest.code, 0, rest.stderr);
  // Shards of 10, 10 and 5: the two left hold 15 (the plan's average shard would say 17).
  assert.equal(events(rest.stderr).find((e) => e.event === 'start')!.images, 15);
  assert.equal(events(rest.stderr).at(-1)!.images, 15);
});

test('--progress json: every line has a level; none: no progress lines at all', async () => {
  const { run } = await plannedLocalRun('progress-modes', photoPaths(0, 4), 2);
  // A terminal is not needed for json; the flag also works after the command.
  const json = await imgtag(['run', '--run', run, '--progress', 'json', '--no-compact']);
  assert.equal(json.code, 0, json.stderr);
  const lines = events(json.stderr);
  assert.ok(lines.length >= 3);
  for (const e of lines) assert.ok(['info', 'warn', 'error'].includes(String(e.level)), JSON.stringify(e));
  const { run: again } = await plannedLocalRun('progress-none', photoPaths(0, 4), 2);
  const none = await imgtag(['--progress', 'none', 'run', '--run', again, '--no-compact']);
  assert.equal(none.code, 0, none.stderr);
  assert.equal(events(none.stderr).length, 0, none.stderr);
  const bad = await imgtag(['run', '--run', again, '--progress', 'fancy']);
  assert.equal(bad.code, 1);
  assert.match(bad.stderr, /--progress.*fancy.*auto, bar, json, none/);
});
