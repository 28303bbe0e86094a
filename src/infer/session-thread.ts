import { parentPort, workerData } from 'node:worker_threads';
import * as ort from 'onnxruntime-node';
import type { SessionReply, SessionRequest, SessionThreadInit } from './remote-session.js';
import { probePixels, readTable, tableAddon } from './quant-table.js';

/**
 * Entry point of the inference thread. onnxruntime-node runs a model synchronously on the calling
 * thread, so on the main thread every batch would stall fetching and decoding for its whole run.
 */
const init = workerData as SessionThreadInit;
const port = parentPort!;
const post = (msg: SessionReply, transfer: ArrayBuffer[] = []) => port.postMessage(msg, transfer);

/**
 * The pre-quantized model's table, from onnxruntime running the normalising graph's QuantizeLinear
 * over every pixel value; undefined (the normalising model is used) when it is not exact or the
 * table's addon is not built.
 */
async function quantTable(): Promise<Uint8Array | undefined> {
  const pre = init.prequantized;
  if (!pre || !tableAddon()) return undefined;
  const probe = await ort.InferenceSession.create(pre.probe, init.options);
  try {
    const pixels = probePixels(pre.height, pre.width);
    const out = await probe.run({ [probe.inputNames[0]!]: new ort.Tensor('uint8', pixels, [1, pre.height, pre.width, 3]) });
    return readTable(pixels, out[probe.outputNames[0]!]!.data as Uint8Array, pre.nchw, pre.bgr);
  } finally {
    await probe.release();
  }
}

let session: ort.InferenceSession;
let table: Uint8Array | undefined;
try {
  table = await quantTable();
  session = await ort.InferenceSession.create(table ? init.prequantized!.bytes : init.bytes, init.options);
  const outputs = session.outputNames.map((name) => {
    const m = session.outputMetadata.find((o) => o.name === name);
    return { name, shape: m && m.isTensor ? [...m.shape] : undefined };
  });
  post({ type: 'ready', outputs, prequantized: table !== undefined });
} catch (e) {
  post({ type: 'error', message: (e as Error).message });
  process.exit(0);
}

/**
 * One batch of `count` images; a fixed-batch model (SqueezeNet: 1) gets it in slices, the last one
 * padded with zeros, and the padding's outputs are dropped. Returns `count` outputs back to back.
 */
async function runBatch(msg: Extract<SessionRequest, { type: 'run' }>): Promise<Float32Array> {
  const [height, width] = msg.imageDims;
  const perImage = height * width * 3;
  const step = msg.fixedBatch ?? msg.count;
  const parts: Float32Array[] = [];
  // The batch is this thread's own (transferred): quantized in place, in one pass.
  if (table) tableAddon()!.applyTable(msg.data.subarray(0, msg.count * perImage), table);
  for (let start = 0; start < msg.count; start += step) {
    const n = Math.min(step, msg.count - start);
    let chunk = msg.data.subarray(start * perImage, (start + n) * perImage);
    if (n < step) {
      const padded = new Uint8Array(step * perImage);
      padded.set(chunk);
      chunk = padded;
    }
    const out = await session.run({ [msg.input]: new ort.Tensor('uint8', chunk, [step, height, width, 3]) }, [msg.output]);
    const scores = out[msg.output]!.data as Float32Array;
    parts.push(scores.subarray(0, (scores.length / step) * n));
  }
  // A buffer of our own: onnxruntime's output buffers cannot be transferred.
  const all = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  parts.reduce((at, p) => (all.set(p, at), at + p.length), 0);
  return all;
}

port.on('message', async (msg: SessionRequest) => {
  if (msg.type === 'release') {
    await session.release();
    port.close();
    return;
  }
  try {
    const data = await runBatch(msg);
    post({ type: 'result', id: msg.id, data, input: msg.data }, [data.buffer as ArrayBuffer, msg.data.buffer as ArrayBuffer]);
  } catch (e) {
    post({ type: 'failed', id: msg.id, message: (e as Error).message });
  }
});
