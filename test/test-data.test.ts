import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { testData, testDataDirs } from '../scripts/test-data.js';
import { script } from './helpers/cli.js';
import { closedPortUrl, fileMirror } from './helpers/file-mirror.js';
import { IMAGE_DIR, MODEL_DIR } from './helpers/env.js';

const fetchTestData = (args: string[], env: NodeJS.ProcessEnv) => script('fetch-test-data', args, env);

test('a fresh clone without ../shared: the pinned models and photos are downloaded (here from a loopback mirror), sha256-checked, the rest made; the tests then find them', async () => {
  // The mirror serves each pinned URL's path (/owner/repo/commit/path) from this machine's copy;
  // /bad/ serves every file with one byte changed.
  const byPath = new Map(testData().files.map((f) => [new URL(f.url).pathname, f.path]));
  const mirror = await fileMirror((p) => {
    const rel = byPath.get(p);
    return rel && (rel.startsWith('models/') ? path.join(MODEL_DIR, rel.slice(7)) : path.join(IMAGE_DIR, rel.slice(7)));
  });
  const base = mirror.base;
  try {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-test-data-'));
    const root = path.join(cache, 'checkout');
    // No env folders, no ../shared beside the checkout: nothing is found before the download.
    const { IMGTAG_MODEL_DIR: _m, IMGTAG_IMAGE_DIR: _i, ...rest } = process.env;
    const env: NodeJS.ProcessEnv = { ...rest, IMGTAG_TEST_DATA_DIR: path.join(cache, 'data') };
    assert.equal(testDataDirs(env, root), undefined);

    const bad = await fetchTestData(['--mirror', `${base}/bad`], env);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /fetch-test-data: http:\/\/127\.0\.0\.1:\d+\/bad\/\S+ has sha256 [0-9a-f]{64}, expected [0-9a-f]{64}: not saved/);

    // Offline: the first failure ends it (not 500 in turn), said once in a whole sentence.
    const offline = await fetchTestData(['--mirror', await closedPortUrl()], env);
    assert.equal(offline.code, 1);
    assert.match(offline.out, /^fetch-test-data: downloading http:\/\/127\.0\.0\.1:\d+\/\S+ failed \(ECONNREFUSED: offline, or no route to that host\): point IMGTAG_MODEL_DIR and IMGTAG_IMAGE_DIR at folders that have the files, or download them through a mirror \(npm run fetch-test-data -- --mirror <url>\)$/m);
    assert.equal(offline.out.split('\n').filter((l) => l.startsWith('fetch-test-data:')).length, 1, offline.out);

    const good = await fetchTestData(['--mirror', base], env);
    assert.equal(good.code, 0, good.out);
    const files = testData().files;
    assert.match(good.out, new RegExp(`test data: \\d+ present, \\d+ downloaded`));
    for (const f of files) {
      const bytes = fs.readFileSync(path.join(cache, 'data', f.path));
      assert.equal(createHash('sha256').update(bytes).digest('hex'), f.sha256, f.path);
    }
    assert.equal(fs.readdirSync(path.join(cache, 'data/images/heic')).filter((f) => /^n\d+_.*\.heic$/.test(f)).length, 50);
    // The float32 twin loads, with float32 input and output where the original has float16.
    const twin = await ort.InferenceSession.create(path.join(cache, 'data/models/SqueezeNet_fp16_upcast_fp32.onnx'));
    assert.deepEqual(twin.inputNames, ['data_0']);
    const out = await twin.run({ data_0: new ort.Tensor('float32', new Float32Array(3 * 224 * 224), [1, 3, 224, 224]) });
    assert.equal(out.softmaxout_1!.type, 'float32');
    // The tests' folders are now found in the cache.
    assert.deepEqual(testDataDirs(env, root), { models: path.join(cache, 'data/models'), images: path.join(cache, 'data/images'), from: path.join(cache, 'data') });

    const before = mirror.served();
    const again = await fetchTestData(['--mirror', base], env);
    assert.match(again.out, new RegExp(`${files.length} present, 0 downloaded`));
    assert.equal(mirror.served(), before, 'nothing downloaded twice');
  } finally {
    mirror.close();
  }
});
