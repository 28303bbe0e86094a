import fs from 'node:fs';
import { invalid, UserError } from '../errors.js';
import { machineLabel, usesGpu, type Machine } from '../infer/machine.js';

interface InstancePrice {
  vcpus: number;
  gpus: number;
  gpu?: string;
  usdPerHour: number;
  spotUsdPerHour?: number;
}

interface PriceFile {
  source: string;
  instances: Record<string, InstancePrice>;
  s3: { source: string; getPer1000: number; putPer1000: number };
}

export const PRICES = JSON.parse(fs.readFileSync(new URL('../../../data/prices.json', import.meta.url), 'utf8')) as PriceFile;

/** What the user asked to price: an instance type from the list, or their own prices; optionally a rate to assume. */
export interface PriceRequest {
  instance?: string;
  price?: number;
  spotPrice?: number;
  instances?: number;
  /** Images/s per instance to assume instead of the measured rate (pricing another kind of machine). */
  rate?: number;
}

/** The prices a report uses, where they came from, and how the measured rate maps onto the priced machine. */
export interface Pricing {
  /** The priced instance type; undefined: the measured machine itself, at --price. */
  instance?: string;
  usdPerHour: number;
  spotUsdPerHour?: number;
  instances: number;
  source: string;
  s3: PriceFile['s3'];
  /** The machine the rate was measured on (absent for runs from before it was recorded). */
  measured?: string;
  /** Multiplies the measured per-machine rate into the priced instance's (vCPU ratio between CPU machines). */
  rateScale: number;
  /** The assumed rate (--rate), which replaces the measured one. */
  assumedRate?: number;
  /** In words: why the rate used is what it is. */
  rateBasis: string;
}

const positive = (name: string, v: number | undefined) => {
  if (v !== undefined && !(Number.isFinite(v) && v > 0)) throw invalid(name, 'a positive number', v);
};

/** The instance type priced when none is asked for: the measured one if listed, else a common CPU or GPU type. */
function defaultInstance(measured: Machine | undefined): string {
  if (measured?.instanceType && PRICES.instances[measured.instanceType]) return measured.instanceType;
  return measured && usesGpu(measured) ? 'g5.xlarge' : 'c7i.xlarge';
}

/**
 * Resolve a price request against the machine the rate was measured on. A rate measured on one
 * kind of machine never prices another (a GPU type from a CPU measurement, or another GPU) unless
 * --rate says what to assume; between CPU machines the rate is scaled by vCPUs, and the report says so.
 */
export function resolvePricing(req: PriceRequest, measured: Machine | undefined): Pricing {
  positive('--price', req.price);
  positive('--spot-price', req.spotPrice);
  positive('--rate', req.rate);
  const instances = req.instances ?? 1;
  if (!Number.isInteger(instances) || instances < 1) throw invalid('--instances', 'a whole number >= 1', instances);
  const type = req.instance ?? (req.price === undefined ? defaultInstance(measured) : undefined);
  const listed = type === undefined ? undefined : PRICES.instances[type];
  if (type !== undefined && !listed && req.price === undefined) {
    throw new UserError(`no price for instance type ${type}: give --price USD_PER_HOUR (known: ${Object.keys(PRICES.instances).join(', ')})`);
  }
  const base = {
    instance: type,
    usdPerHour: req.price ?? listed!.usdPerHour,
    spotUsdPerHour: req.spotPrice ?? (req.price === undefined ? listed?.spotUsdPerHour : undefined),
    instances,
    source: req.price === undefined ? PRICES.source : `--price${req.spotPrice !== undefined ? ' and --spot-price' : ''}`,
    s3: PRICES.s3,
    measured: measured && machineLabel(measured),
  };
  if (req.rate !== undefined) return { ...base, rateScale: 1, assumedRate: req.rate, rateBasis: `assumed: --rate ${req.rate} images/s per instance` };
  if (!measured) return { ...base, rateScale: 1, rateBasis: 'measured (the machine was not recorded: runs from before imgtag recorded it)' };
  if (type === undefined || type === measured.instanceType) return { ...base, rateScale: 1, rateBasis: `measured on ${machineLabel(measured)}` };
  if (!listed) return { ...base, rateScale: 1, rateBasis: `measured on ${machineLabel(measured)}, assumed the same on ${type}` };
  const gpuType = listed.gpus > 0;
  if (usesGpu(measured) !== gpuType || (gpuType && measured.instanceType !== undefined)) {
    throw new UserError(
      `the rate was measured on ${machineLabel(measured)}: it says nothing about ${type} (${listed.vcpus} vCPUs${gpuType ? `, ${listed.gpus} x ${listed.gpu}` : ', no GPU'}). ` +
        `Measure on ${type} (imgtag tune there), or give --rate IMAGES_PER_SECOND to assume one`,
    );
  }
  if (gpuType) return { ...base, rateScale: 1, rateBasis: `measured on ${machineLabel(measured)}, assumed the same on ${type} (${listed.gpu})` };
  const rateScale = listed.vcpus / measured.cpus;
  return {
    ...base,
    rateScale,
    rateBasis: `measured on ${machineLabel(measured)}, scaled by vCPUs to ${type}'s ${listed.vcpus} (x${Number(rateScale.toFixed(3))}: assumes the rate grows with cores)`,
  };
}

/** S3 requests per image (one GET) and per shard (result, commit and lease PUTs; shard, commit and lease reads). */
export const REQUESTS = { getsPerImage: 1, putsPerShard: 3, getsPerShard: 4 };

export interface Projection {
  images: number;
  /** Per instance of the priced type. */
  imagesPerSecond: number;
  instances: number;
  /** Wall hours on `instances` instances. */
  hours: number;
  /** Billed instance-hours: the same whatever the fleet size. */
  instanceHours: number;
  computeUsd: number;
  requestUsd: number;
  totalUsd: number;
  usdPerMillion: number;
  /** The same on spot, when a spot price is known. */
  spot?: { computeUsd: number; totalUsd: number; usdPerMillion: number };
}

/** The rate per instance of the priced type, from a measured per-machine rate. */
export const pricedRate = (measuredPerMachine: number, p: Pricing) => p.assumedRate ?? measuredPerMachine * p.rateScale;

/**
 * instance-hours = images / rate per instance; hours = that / instances; dollars = instance-hours x
 * price + S3 requests. The fleet size changes the hours, never the cost per image. Undefined when
 * there is no rate to project from (nothing measured yet).
 */
export function project(images: number, shards: number, imagesPerSecond: number, p: Pricing): Projection | undefined {
  if (!(Number.isFinite(imagesPerSecond) && imagesPerSecond > 0)) return undefined;
  const instanceHours = images / imagesPerSecond / 3600;
  const gets = images * REQUESTS.getsPerImage + shards * REQUESTS.getsPerShard;
  const requestUsd = (gets / 1000) * p.s3.getPer1000 + ((shards * REQUESTS.putsPerShard) / 1000) * p.s3.putPer1000;
  const perMillion = (usd: number) => (images > 0 ? (usd / images) * 1e6 : 0);
  const priced = (usdPerHour: number) => {
    const computeUsd = instanceHours * usdPerHour;
    return { computeUsd, totalUsd: computeUsd + requestUsd, usdPerMillion: perMillion(computeUsd + requestUsd) };
  };
  return {
    images,
    imagesPerSecond,
    instances: p.instances,
    hours: instanceHours / p.instances,
    instanceHours,
    requestUsd,
    ...priced(p.usdPerHour),
    ...(p.spotUsdPerHour !== undefined ? { spot: priced(p.spotUsdPerHour) } : {}),
  };
}
