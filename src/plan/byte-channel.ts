import type { MessagePort } from 'node:worker_threads';
import { UserError, errorMessage } from '../errors.js';

/**
 * A byte stream from one thread to another over a MessagePort, paced by the reader: the planning
 * threads get their data files' bytes from the main thread, so they never load the AWS SDK (a
 * quarter of a second each at start-up) and the main thread's one client makes every GET.
 */
type Message = { data: Uint8Array } | { end: true } | { error: string; user: boolean };

/** Chunks in flight before the sender waits for the reader: a few MB of HTTP body, so a busy main thread (a shard upload, a GC) does not starve a planning thread. */
const WINDOW = 64;

/**
 * Send `source` to the reader at `port`; a failure to read it is passed on to the reader. A reader
 * that stops early (its own error) closes the port: the source is then let go.
 */
export async function sendBytes(source: () => Promise<AsyncIterable<Uint8Array>>, port: MessagePort): Promise<void> {
  let unacked = 0;
  let closed = false;
  let waiter: (() => void) | undefined;
  const wake = () => {
    waiter?.();
    waiter = undefined;
  };
  port.on('message', () => (unacked--, wake()));
  port.once('close', () => ((closed = true), wake()));
  try {
    for await (const data of await source()) {
      if (closed) return;
      port.postMessage({ data } satisfies Message);
      if (++unacked >= WINDOW) await new Promise<void>((resolve) => (waiter = resolve));
    }
    if (!closed) port.postMessage({ end: true } satisfies Message);
  } catch (e) {
    if (!closed) port.postMessage({ error: errorMessage(e), user: e instanceof UserError } satisfies Message);
  }
}

/** The bytes sendBytes sends, as they come; its failure is thrown here, a UserError as one. */
export async function* receiveBytes(port: MessagePort): AsyncGenerator<Buffer> {
  const queue: Message[] = [];
  let wake: (() => void) | undefined;
  port.on('message', (m: Message) => {
    queue.push(m);
    wake?.();
  });
  try {
    for (;;) {
      if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
      const m = queue.shift()!;
      if ('end' in m) return;
      if ('error' in m) throw m.user ? new UserError(m.error) : new Error(m.error);
      yield Buffer.from(m.data.buffer, m.data.byteOffset, m.data.byteLength);
      port.postMessage('ack');
    }
  } finally {
    port.close();
  }
}
