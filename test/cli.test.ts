import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { test } from 'node:test';
import { ROOT } from './helpers/env.js';

test('the README way in works: npx imgtag runs the built bin', () => {
  const out = execFileSync('npx', ['--no', '--', 'imgtag', '--help'], { cwd: ROOT, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  assert.match(out, /^Usage: imgtag /m);
  for (const command of ['plan', 'run', 'demo', 'nightly', 'tune', 'report', 'submit']) assert.match(out, new RegExp(`^  ${command} `, 'm'));
});
