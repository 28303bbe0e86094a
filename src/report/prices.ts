import fs from 'node:fs';
import { UserError } from '../errors.js';

interface PriceFile {
  source: string;
  instances: Record<string, { vcpus: number; gpus: number; gpu?: string; usdPerHour: number }>;
  s3: { source: string; getPer1000: number; putPer1000: number };
}

export const PRICES = JSON.parse(fs.readFileSync(new URL('../../../data/prices.json', import.meta.url), 'utf8')) as PriceFile;

/** The hourly price a report uses, and where it came from (reports always say which). */
export interface Pricing {
  instance?: string;
  usdPerHour: number;
  instances: number;
  source: string;
  s3: PriceFile['s3'];
}

export function pricing(opts: { instance?: string; price?: number; instances?: number }): Pricing {
  const instances = opts.instances ?? 1;
  if (opts.price !== undefined) return { instance: opts.instance, usdPerHour: opts.price, instances, source: '--price', s3: PRICES.s3 };
  const type = opts.instance ?? 'c7i.xlarge';
  const known = PRICES.instances[type];
  if (!known) throw new UserError(`no price for instance type ${type}: give --price USD_PER_HOUR (known: ${Object.keys(PRICES.instances).join(', ')})`);
  return { instance: type, usdPerHour: known.usdPerHour, instances, source: PRICES.source, s3: PRICES.s3 };
}

/** S3 requests per image (one GET) and per shard (result, commit and lease PUTs; shard, commit and lease reads). */
export const REQUESTS = { getsPerImage: 1, putsPerShard: 3, getsPerShard: 4 };

export interface Projection {
  images: number;
  imagesPerSecond: number;
  instances: number;
  hours: number;
  computeUsd: number;
  requestUsd: number;
  totalUsd: number;
  usdPerMillion: number;
}

/** hours = images / (rate x instances); dollars = hours x price x instances + S3 requests. */
export function project(images: number, shards: number, imagesPerSecond: number, p: Pricing): Projection {
  const hours = imagesPerSecond > 0 ? images / (imagesPerSecond * p.instances) / 3600 : Infinity;
  const computeUsd = hours * p.usdPerHour * p.instances;
  const gets = images * REQUESTS.getsPerImage + shards * REQUESTS.getsPerShard;
  const requestUsd = (gets / 1000) * p.s3.getPer1000 + ((shards * REQUESTS.putsPerShard) / 1000) * p.s3.putPer1000;
  const totalUsd = computeUsd + requestUsd;
  return { images, imagesPerSecond, instances: p.instances, hours, computeUsd, requestUsd, totalUsd, usdPerMillion: images > 0 ? (totalUsd / images) * 1e6 : 0 };
}
