import { Worker } from 'node:worker_threads';
import type { InferenceSession } from 'onnxruntime-node';
import type { Prequantized } from './prequantize.js';

export interface SessionThreadInit {
  bytes: Uint8Array;
  options: InferenceSession.SessionOptions;
  /** Used instead of `bytes` when its probe gives an exact table and the table's addon is built. */
  prequantized?: Prequantized & { height: number; width: number };
}

export type SessionRequest =
  | { type: 'run'; id: number; input: string; output: string; data: Uint8Array; count: number; imageDims: [number, number]; fixedBatch?: number }
  | { type: 'release' };

export type SessionReply =
  | { type: 'ready'; outputs: { name: string; shape?: (number | string)[] }[]; prequantized: boolean }
  | { type: 'error'; message: string }
  /** `input`: the batch's own buffer, handed back to be packed again (see RemoteSession.buffer). */
  | { type: 'result'; id: number; data: Float32Array; input: Uint8Array }
  | { type: 'failed'; id: number; message: string };

const FREE_PER_SIZE = 4;

const THREAD_SCRIPT = new URL('./session-thread.js', import.meta.url);

/** An onnxruntime session on its own thread: runs are queued there, the event loop here stays free. */
export class RemoteSession {
  private nextId = 0;
  private exited = false;
  private readonly pending = new Map<number, { resolve: (d: Float32Array) => void; reject: (e: Error) => void }>();
  /** Batch buffers back from the thread, by size: a fresh 2.4 MB buffer per batch costs its page faults and zeroing every time. */
  private readonly free = new Map<number, Uint8Array[]>();

  private constructor(
    private readonly worker: Worker,
    readonly outputs: { name: string; shape?: (number | string)[] }[],
    /** Whether the thread feeds the model pre-quantized bytes (see prequantize.ts). */
    readonly prequantized: boolean,
  ) {
    worker.on('message', (msg: SessionReply) => {
      if (msg.type !== 'result' && msg.type !== 'failed') return;
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.type === 'result') {
        this.recycle(msg.input);
        p?.resolve(msg.data);
      } else p?.reject(new Error(msg.message));
    });
    worker.on('error', (e) => this.failAll(e));
    worker.on('exit', () => {
      this.exited = true;
      this.failAll(new Error('the inference thread exited'));
    });
  }

  private failAll(e: Error): void {
    for (const p of this.pending.values()) p.reject(e);
    this.pending.clear();
  }

  /** A batch buffer of `bytes` bytes to pack into and run: one the thread gave back, else a new one. */
  buffer(bytes: number): Uint8Array {
    return this.free.get(bytes)?.pop() ?? new Uint8Array(bytes);
  }

  private recycle(input: Uint8Array): void {
    const list = this.free.get(input.byteLength) ?? [];
    // A few per size: the packed batches queued ahead of the model come back one at a time.
    if (list.length < FREE_PER_SIZE) list.push(input);
    this.free.set(input.byteLength, list);
  }

  /** Start the thread and load the model there; rejects with onnxruntime's message if it cannot. */
  static create(init: SessionThreadInit): Promise<RemoteSession> {
    const worker = new Worker(THREAD_SCRIPT, { workerData: init });
    return new Promise((resolve, reject) => {
      worker.once('message', (msg: SessionReply) => {
        if (msg.type === 'ready') resolve(new RemoteSession(worker, msg.outputs, msg.prequantized));
        else reject(new Error(msg.type === 'error' ? msg.message : `unexpected ${msg.type} from the inference thread`));
      });
      worker.once('error', reject);
    });
  }

  /**
   * Run a batch of uint8 images, [count, height, width, 3]. The bytes are handed to the thread,
   * not copied: `data` is detached when it spans its whole buffer (a packed batch), and a slice
   * of a larger buffer is copied out first.
   */
  run(batch: Omit<Extract<SessionRequest, { type: 'run' }>, 'type' | 'id'>): Promise<Float32Array> {
    const id = this.nextId++;
    const { data } = batch;
    const own = data.byteOffset === 0 && data.byteLength === data.buffer.byteLength ? data : data.slice();
    const msg: SessionRequest = { ...batch, type: 'run', id, data: own };
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.worker.postMessage(msg, [own.buffer as ArrayBuffer]);
    });
  }

  async release(): Promise<void> {
    if (this.exited) return;
    const exit = new Promise((r) => this.worker.once('exit', r));
    this.worker.postMessage({ type: 'release' } satisfies SessionRequest);
    await exit;
  }
}
