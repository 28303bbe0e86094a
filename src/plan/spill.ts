import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';

/**
 * Lines spread over n partitions in local temp files, buffered in memory up to a bound: how plan
 * hashes rows into shards and joins against earlier runs without holding a manifest in memory.
 */
export class PartitionedSpill {
  private buffers: string[][];
  private buffered = 0;

  private constructor(
    private readonly dir: string,
    readonly partitions: number,
    private readonly maxBuffered: number,
  ) {
    this.buffers = Array.from({ length: partitions }, () => []);
  }

  static async create(partitions: number, maxBuffered = 16 << 20): Promise<PartitionedSpill> {
    return new PartitionedSpill(await fsp.mkdtemp(path.join(os.tmpdir(), 'imgtag-spill-')), partitions, maxBuffered);
  }

  /** `line` must end with a newline. */
  async add(partition: number, line: string): Promise<void> {
    this.buffers[partition]!.push(line);
    this.buffered += line.length;
    if (this.buffered > this.maxBuffered) await this.flush();
  }

  async flush(): Promise<void> {
    for (let i = 0; i < this.partitions; i++) {
      if (this.buffers[i]!.length === 0) continue;
      await fsp.appendFile(path.join(this.dir, String(i)), this.buffers[i]!.join(''));
      this.buffers[i] = [];
    }
    this.buffered = 0;
  }

  /** One partition's bytes (after flush); empty when nothing was added to it. */
  async read(partition: number): Promise<Buffer> {
    return fsp.readFile(path.join(this.dir, String(partition))).catch(() => Buffer.alloc(0));
  }

  async lines(partition: number): Promise<string[]> {
    return (await this.read(partition)).toString('utf8').split('\n').filter((l) => l !== '');
  }

  async remove(): Promise<void> {
    await fsp.rm(this.dir, { recursive: true, force: true });
  }
}
