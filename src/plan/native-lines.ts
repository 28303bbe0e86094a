import { loadAddon } from '../native/load.js';
import type { InventoryColumns } from '../manifest/inventory-csv.js';
import { settings } from '../settings.js';

/** The native addon (native/plan_lines.c): the byte path of part-writer.ts, in C. */
interface PlanAddon {
  planLines(chunk: Buffer, out: Buffer, cols: Int32Array, state: Float64Array): number;
}

let loaded: { addon?: PlanAddon; problem?: string } | undefined;
const load = () => (loaded ??= loadAddon<PlanAddon>('imgtag_plan', settings().planNative ? undefined : 'IMGTAG_PLAN_NATIVE=0', 'install a C compiler (build-essential), then npm rebuild'));

/** Why planning reads Inventory lines in JavaScript (slower); undefined when the native path is in use. */
export const planFastPathProblem = () => load().problem;

export const enum NativeStop {
  /** The chunk is read to its end. */
  Done = 0,
  /** The output buffer is full: flush it and call again. */
  OutFull = 1,
  /** The line at `pos` is for the JavaScript path (an odd shape, a key to judge decoded, a byte to escape). */
  Declined = 2,
}

/** Counts and positions the addon reads and advances in place, so a call allocates nothing. */
export class NativeLineState {
  readonly state = new Float64Array(6);
  private readonly cols: Int32Array;

  constructor(c: InventoryColumns) {
    this.cols = Int32Array.from([c.bucket, c.key, c.size, c.etag, c.latest, c.deleteMarker, c.last]);
  }

  get pos(): number {
    return this.state[0]!;
  }
  set pos(p: number) {
    this.state[0] = p;
  }
  get rows(): number {
    return this.state[2]!;
  }
  get images(): number {
    return this.state[3]!;
  }
  get skipped(): number {
    return this.state[4]!;
  }
  /** The images' sizes, summed. */
  get bytes(): number {
    return this.state[5]!;
  }

  /** Turn the lines of `chunk` from `pos` into shard lines in `out` from `outPos`; see NativeStop. */
  run(chunk: Buffer, out: Buffer, outPos: number): { stop: NativeStop; outPos: number } {
    this.state[1] = outPos;
    const stop = load().addon!.planLines(chunk, out, this.cols, this.state) as NativeStop;
    return { stop, outPos: this.state[1]! };
  }
}

/** Whether the native path can be used: built, and the schema's columns within its bounds. */
export function nativeLines(c: InventoryColumns): NativeLineState | undefined {
  return load().addon && c.last < 64 ? new NativeLineState(c) : undefined;
}
