import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { script } from './helpers/cli.js';
import { closedPortUrl, fileMirror } from './helpers/file-mirror.js';
import { MODEL_DIR } from './helpers/env.js';

const fetchModel = (args: string[], env: NodeJS.ProcessEnv) => script('fetch-model', args, env);

test('fetch-model downloads into the cache with a sha256 check, and refuses wrong bytes', async () => {
  // A loopback HTTP mirror: serves the real files, or corrupted ones under /bad/.
  const mirror = await fileMirror((p) => {
    const file = path.join(MODEL_DIR, path.basename(p));
    return fs.existsSync(file) ? file : undefined;
  });
  const base = mirror.base;
  try {
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-cache-'));
    const env = { ...process.env, IMGTAG_CACHE_DIR: cache, IMGTAG_MODEL_DIR: path.join(cache, 'none') };
    const bad = await fetchModel(['--mirror', `${base}/bad`], env);
    assert.equal(bad.code, 1);
    assert.match(bad.out, /http:\/\/127\.0\.0\.1:\d+\/\S*mobilenetv2-12-int8\.onnx has sha256 \w+, expected cc028fe6.*not saved/);
    assert.equal(fs.existsSync(path.join(cache, 'models/mobilenetv2-12-int8.onnx')), false);
    const good = await fetchModel(['--mirror', base], env);
    assert.equal(good.code, 0, good.out);
    assert.match(good.out, /downloaded .*models\/mobilenetv2-12-int8\.onnx/);
    assert.match(good.out, /downloaded .*models\/synset\.txt/);
    const again = await fetchModel(['--mirror', base], env);
    assert.match(again.out, /present .*mobilenetv2-12-int8\.onnx/);
  } finally {
    mirror.close();
  }
});

test('a download that cannot start (offline, a host not reachable) names the URL and the ways around it, in one line', async () => {
  const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-cache-'));
  const env = { ...process.env, IMGTAG_CACHE_DIR: cache, IMGTAG_MODEL_DIR: path.join(cache, 'none') };
  const res = await fetchModel(['--mirror', `${await closedPortUrl()}/models`], env);
  assert.equal(res.code, 1);
  assert.match(res.out, /downloading http:\/\/127\.0\.0\.1:\d+\/models\/mobilenetv2-12-int8\.onnx failed \(ECONNREFUSED: offline, or no route to that host\): put mobilenetv2-12-int8\.onnx in a folder named by IMGTAG_MODEL_DIR, or download it through a mirror/);
  assert.doesNotMatch(res.out, /fetch failed\n|at .*\.js:\d+/, 'no bare "fetch failed", no stack');
});
