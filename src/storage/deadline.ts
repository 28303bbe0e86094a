import { StoreError } from '../errors.js';
import { settings } from '../settings.js';
import { Cancel, clearAlarm, setAlarm } from './cancel.js';

/**
 * A whole-object read deadline. Socket idle time-outs never fire on a body that trickles (10 B/s
 * keeps the socket busy), and hedges of that object trickle too: without a deadline one such object
 * holds its shard and its worker until the job is killed. The budget is a first-byte allowance plus
 * the expected size at a floor rate; past it every read of the object is aborted and, after a
 * second try, the failure is transient: the shard is left for the next run (exit 3).
 */

/** Until the first byte, in ms (IMGTAG_READ_FIRST_BYTE_MS). */
const firstByteMs = () => settings().readFirstByteMs;

/** The slowest body accepted, bytes per second (IMGTAG_READ_MIN_BYTES_PER_S): 256 KiB/s, far under S3's per-connection rate. */
const minBytesPerSecond = () => settings().readMinBytesPerSecond;

/** An object of unknown size is budgeted as this large. */
const UNKNOWN_SIZE = 16 << 20;

/** The deadline for reading an object of `size` bytes (undefined: not known before the read); the settings are read once, here, not per image. */
export function readDeadlines(): (size: number | undefined) => number {
  const first = firstByteMs();
  const rate = minBytesPerSecond();
  return (size) => first + ((size ?? UNKNOWN_SIZE) / rate) * 1000;
}

/** The error a read past its deadline ends with: transient (TimeoutError), naming the budget. */
export class ReadDeadlineError extends StoreError {
  override name = 'TimeoutError';
  constructor(message: string) {
    super(message, 'transient', 'ReadDeadline');
  }
}

/** Tries of a read that passed its deadline, the first included. */
const TRIES = 2;

/**
 * Run `read` under the deadline, once more if it passes it; the Cancel it gets aborts at the
 * deadline. One process-wide timer watches every read's deadline (cancel.ts), not a timer each.
 */
export async function withReadDeadline<T>(deadlineMs: number, read: (cancel: Cancel) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    const c = new Cancel();
    const alarm = setAlarm(deadlineMs, () => c.abort());
    try {
      return await read(c);
    } catch (e) {
      if (!c.aborted) throw e;
      if (attempt >= TRIES) throw new ReadDeadlineError(`not read within its deadline of ${(deadlineMs / 1000).toFixed(1)} s (first byte, then ${minBytesPerSecond()} bytes/s at least), ${TRIES} tries`);
    } finally {
      clearAlarm(alarm);
    }
  }
}
