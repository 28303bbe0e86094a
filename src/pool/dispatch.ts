/**
 * Hands shards from a shared queue to one tagging engine (a worker process or this one): a new
 * shard as soon as the previous one has finished computing, so its Parquet write and commit
 * overlap the next shard's fetch and decode. A shard is handed out only when the engine is
 * free to compute it, so no worker hoards shards while others idle at the end of a run.
 */
export class ShardDispatch {
  private computing: number | undefined;
  private readonly held = new Set<number>();
  private exited = false;
  private retired = false;

  constructor(
    private readonly queue: number[],
    private readonly send: (shard: number) => void,
    private readonly exit: () => void,
  ) {}

  /** Shards handed out and not yet answered. */
  get outstanding(): number[] {
    return [...this.held];
  }

  start(): void {
    this.next();
  }

  /** The engine is leaving on its own (a signal to it alone): hand it nothing more. */
  retire(): void {
    this.retired = true;
  }

  /** Shards were put back in the queue: take one if free. */
  nudge(): void {
    this.next();
  }

  /** The shard's fetch..infer is over: the engine can take the next one. */
  computed(shard: number): void {
    if (this.computing === shard) this.computing = undefined;
    this.next();
  }

  /** The shard is committed, skipped, leased elsewhere or failed. */
  finished(shard: number): void {
    this.held.delete(shard);
    this.computed(shard);
  }

  private next(): void {
    if (this.computing !== undefined || this.exited || this.retired) return;
    const shard = this.queue.shift();
    if (shard === undefined) {
      if (this.held.size === 0) {
        this.exited = true;
        this.exit();
      }
      return;
    }
    this.computing = shard;
    this.held.add(shard);
    this.send(shard);
  }
}
