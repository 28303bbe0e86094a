/**
 * Abandoning image reads, and timing them, at the cost of plain objects. Each image GET had two
 * AbortControllers (its deadline, its hedge), an AbortSignal.any joining them and two timers: an
 * AbortController costs ~3 µs (an EventTarget), AbortSignal.any ~12 µs and keeps its sources
 * alive through WeakRefs until a full GC, per image, for reads that almost never abort. Here a
 * read's Cancel is a plain object, an AbortSignal is made only for whoever needs one (the SDK's
 * fallback GET), and one timer for the whole process watches every deadline and hedge.
 */

/** Abandons one read (and whatever was started under it: its children). */
export class Cancel {
  aborted = false;
  reason: unknown = undefined;
  /** What runs on abort: hooks, and child cancels. */
  private hooks: (Cancel | (() => void))[] | undefined;
  private controller: AbortController | undefined;

  /** @param parent aborting it aborts this one too. */
  constructor(parent?: Cancel) {
    if (parent) parent.add(this);
  }

  abort(reason: unknown = new DOMException('This operation was aborted', 'AbortError')): void {
    if (this.aborted) return;
    this.aborted = true;
    this.reason = reason;
    const hooks = this.hooks;
    this.hooks = undefined;
    for (const h of hooks ?? []) {
      if (h instanceof Cancel) h.abort(reason);
      else h();
    }
    this.controller?.abort(reason);
  }

  /** Run `hook` on abort (at once if aborted already); `off(hook)` takes it back. */
  on(hook: () => void): void {
    this.add(hook);
  }

  off(hook: () => void): void {
    const i = this.hooks?.indexOf(hook) ?? -1;
    if (i >= 0) this.hooks!.splice(i, 1);
  }

  private add(h: Cancel | (() => void)): void {
    if (this.aborted) {
      if (h instanceof Cancel) h.abort(this.reason);
      else h();
      return;
    }
    (this.hooks ??= []).push(h);
  }

  /** An AbortSignal that aborts with this, for APIs that take one; made on first use. */
  get signal(): AbortSignal {
    if (!this.controller) {
      this.controller = new AbortController();
      if (this.aborted) this.controller.abort(this.reason);
    }
    return this.controller.signal;
  }
}

/** Something due at a time: `fire` runs once then, unless cleared first. */
export interface Alarm {
  at: number;
  fire: () => void;
  /** Its place in `alarms`; -1 once rung or cleared. */
  index: number;
}

/** How often the one timer looks at what is due: an alarm rings up to this late. */
export const TICK_MS = 50;

/**
 * The alarms set, in an array (each knows its place; a removal moves the last one there), not a
 * Set: a Set whose entries come and go per image rehashes into new tables, and with each alarm's
 * closure behind them that churn promoted in-flight reads to the old generation: external memory
 * pressure, and a full GC every ~700 GETs (0.06 ms a GET) that the array does not cause.
 */
const alarms: Alarm[] = [];
let ticker: NodeJS.Timeout | undefined;

function remove(a: Alarm): void {
  const last = alarms.pop()!;
  if (last !== a) {
    alarms[a.index] = last;
    last.index = a.index;
  }
  a.index = -1;
}

function ring(): void {
  const now = performance.now();
  for (let i = 0; i < alarms.length; i++) {
    const a = alarms[i]!;
    if (a.at > now) continue;
    remove(a);
    // The last alarm moved into this place: look at it next.
    i--;
    a.fire();
  }
  stopIfIdle();
}

function stopIfIdle(): void {
  if (alarms.length > 0 || !ticker) return;
  clearInterval(ticker);
  ticker = undefined;
}

/**
 * Run `fire` in `ms` (to within TICK_MS): one interval timer for every alarm of the process, running
 * only while some alarm is set (it holds the process open then, as a pending timer would).
 */
export function setAlarm(ms: number, fire: () => void): Alarm {
  const a = { at: performance.now() + ms, fire, index: alarms.length };
  alarms.push(a);
  ticker ??= setInterval(ring, TICK_MS);
  return a;
}

export function clearAlarm(a: Alarm | undefined): void {
  if (!a || a.index < 0) return;
  remove(a);
  stopIfIdle();
}
