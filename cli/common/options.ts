import { InvalidArgumentError, Option, type Command } from 'commander';
import { DEFAULTS } from '../../src/defaults.js';
import { DEVICES, type Device } from '../../src/defaults.js';
import type { PriceRequest } from '../../src/report/prices.js';

/** The flags' parsers: a bad value is one line naming the flag (commander adds which). */
export const positiveNumber = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError('must be a positive number');
  return n;
};

export const nonNegative = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number >= 0');
  return n;
};

/** The longest grace a stop may give: a timer cannot wait longer than 24.8 days, and no scheduler waits an hour. */
export const MAX_STOP_SECONDS = 3600;

/** --stop-timeout: seconds, clamped to MAX_STOP_SECONDS with a line that says so. */
export const stopSeconds = (v: string) => {
  const n = nonNegative(v);
  if (n <= MAX_STOP_SECONDS) return n;
  console.error(`imgtag: --stop-timeout ${v} is more than ${MAX_STOP_SECONDS} s: using ${MAX_STOP_SECONDS}`);
  return MAX_STOP_SECONDS;
};

export const rate = (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) throw new InvalidArgumentError('must be a number from 0 to 1');
  return n;
};

export const int = (min: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min) throw new InvalidArgumentError(`must be an integer >= ${min}`);
  return n;
};

/** What run, demo and nightly take: how to tag. */
export interface RunFlags {
  model: string[];
  workers?: number;
  batchSize: number;
  concurrency: number;
  threads?: number;
  maxPixels: number;
  maxBytes: number;
  maxErrorRate?: number;
  stopTimeout: number;
  device: Device;
}

export const runOptions = (cmd: Command) =>
  cmd
    .addOption(
      // Collected into a list (none given: the default model); help shows the model, not the empty list.
      new Option('--model <path|name>', 'model: a built-in name, an .onnx file with its spec .json beside it, or a spec .json; local or s3://. Repeat for several models sharing one decode')
        .argParser((v: string, all: string[]) => [...all, v])
        .default([] as string[], DEFAULTS.model),
    )
    .option('--workers <n>', 'worker processes taking shards in parallel (default: IMGTAG_WORKERS, else one per core on CPU, 1 on a GPU)', int(1))
    .option('--batch-size <n>', 'images per model call', int(1), DEFAULTS.batchSize)
    .option('--concurrency <n>', 'S3 GETs in flight per worker', int(1), DEFAULTS.concurrency)
    .option('--threads <n>', 'decode and inference threads per worker (default: cores / workers)', int(1))
    .option('--max-pixels <n>', 'refuse images larger than this many pixels', int(1), DEFAULTS.maxPixels)
    .option('--max-bytes <n>', 'refuse objects larger than this many bytes, before reading them (an error row)', int(1), DEFAULTS.maxBytes)
    .option('--max-error-rate <r>', 'exit 4 when more than this share (0 to 1) of the images this invocation tagged are error rows (default: error rows are data, exit 0)', rate)
    .option('--stop-timeout <s>', 'on SIGTERM or Ctrl-C: seconds the shards in hand may take to finish before they are abandoned (leases released, redone by the next run; exit 3). A second signal stops at once', stopSeconds, DEFAULTS.stopSeconds)
    .addOption(new Option('--device <device>', 'onnxruntime execution provider').choices(DEVICES).default(DEFAULTS.device));

/** Where the images come from and how they are cut into shards: shared by plan and nightly. */
export const sourceOptions = (cmd: Command) =>
  cmd
    .option('--manifest <uri>', 'S3 Inventory manifest.json, or a key list (.txt, .csv with header, .jsonl; .gz ok)')
    .option('--prefix <uri>', 'list every object under s3://bucket/prefix, or every file under a local folder, instead')
    .option('--bucket <name>', 'bucket for bare keys in a key list')
    .addOption(new Option('--shard-size <n>', `images per shard (default ${DEFAULTS.shardSize})`).argParser(int(1)).conflicts('shards'))
    .addOption(new Option('--shards <n>', 'number of shards, images spread by hash of their URI').argParser(int(1)));

export type SourceFlags = { manifest?: string; prefix?: string; bucket?: string; shardSize?: number; shards?: number };

const collect = (v: string, prev: string[] = []) => [...prev, v];
const date = (v: string): Date => {
  const d = new Date(v);
  if (!/^\d{4}-\d{2}-\d{2}/.test(v) || Number.isNaN(d.getTime())) throw new InvalidArgumentError('a date like 2026-11-30 or 2026-11-30T12:00:00Z');
  return d;
};

/** Which keys go in, by glob: for every source kind, on plan and nightly. */
export const globOptions = (cmd: Command) =>
  cmd
    .option('--include <glob>', 'only keys (or paths) matching this glob; a glob without "/" matches the file name (repeat for more)', collect)
    .option('--exclude <glob>', 'leave out keys (or paths) matching this glob (repeat for more)', collect);

/** Which of a manifest's images go into a plan: for every source kind. */
export const filterOptions = (cmd: Command) =>
  globOptions(cmd)
    .option('--min-bytes <n>', 'leave out objects smaller than this (needs sizes: a prefix, an Inventory, or a key list with sizes)', int(0))
    .option('--max-bytes <n>', 'leave out objects larger than this', int(0))
    .option('--modified-after <date>', 'only objects written after this date (a --prefix listing: S3 LastModified, a file\'s mtime)', date);

export type FilterFlags = { include?: string[]; exclude?: string[]; minBytes?: number; maxBytes?: number; modifiedAfter?: Date };

export const priceOptions = (cmd: Command) =>
  cmd
    .option('--instance <type>', 'instance type to price (data/prices.json; default: the measured one if on EC2, else c7i.xlarge for a CPU measurement, g5.xlarge for a GPU one). Another kind of machine than the measured one is refused without --rate')
    .option('--price <usd>', 'on-demand USD per instance-hour, instead of the price list', positiveNumber)
    .option('--spot-price <usd>', 'spot USD per instance-hour, instead of the price list', positiveNumber)
    .option('--rate <images/s>', 'images/s per instance to assume instead of the measured rate (to price a machine you have not measured on)', positiveNumber)
    .option('--instances <m>', 'instances in the fleet: changes the hours, never the cost per image', int(1), 1);

export type PriceFlags = { instance?: string; price?: number; spotPrice?: number; rate?: number; instances: number };
export const priceRequest = (o: PriceFlags): PriceRequest => ({ instance: o.instance, price: o.price, spotPrice: o.spotPrice, rate: o.rate, instances: o.instances });
