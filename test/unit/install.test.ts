import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), 'utf8');

// .ci/run's plain `npm ci` on a machine without NuGet is the check that matters; this one says why it holds.
test('npm ci downloads no GPU provider: onnxruntime-node\'s install script denied, opt-in by its documented flag, CI sets no variable', () => {
  const pkg = JSON.parse(read('package.json')) as { allowScripts: Record<string, boolean>; scripts: Record<string, string> };
  assert.equal(pkg.allowScripts['onnxruntime-node'], false);
  assert.match(pkg.scripts['gpu-providers']!, /node script\/install\.js --onnxruntime-node-install$/);
  const ci = read('.ci/run');
  assert.doesNotMatch(ci, /ONNXRUNTIME_NODE_INSTALL/);
  assert.doesNotMatch(ci, /AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED/, 'the CLI silences the SDK notice itself');
  assert.match(ci, /^npm ci --no-audit --no-fund$/m);
});
