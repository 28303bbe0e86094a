import type { Pricing, Projection } from './prices.js';
import { hms } from './duration.js';
import { plural } from './units.js';
import { usd, type Section } from './render.js';

/** What is priced, at which prices, and on what rate: every report says it in the same words. */
export function priceLine(p: Pricing): string {
  const spot = p.spotUsdPerHour !== undefined ? `, spot $${p.spotUsdPerHour}/h` : '';
  return `${p.instance ?? 'the measured machine'} at $${p.usdPerHour}/h on demand${spot}, ${plural(p.instances, 'instance')} (${p.source}); rate: ${p.rateBasis}; S3 requests: ${p.s3.source}`;
}

/** Hours on the fleet, instance-hours and dollars (on demand and spot) per row; a row without a projection says why. */
export function costTable(rows: [string, Projection | undefined][]): NonNullable<Section['table']> {
  return {
    headers: ['', 'images', 'images/s per instance', 'time on the fleet', 'instance-hours', 'S3 requests', 'on demand total', 'per million', 'spot total', 'spot per million'],
    rows: rows.map(([label, p]) =>
      p === undefined
        ? [label, 'no shard committed yet: nothing measured to project from', '', '', '', '', '', '', '', '']
        : [label, p.images, p.imagesPerSecond, hms(p.hours * 3600), p.instanceHours, usd(p.requestUsd), usd(p.totalUsd), usd(p.usdPerMillion), p.spot ? usd(p.spot.totalUsd) : 'n/a', p.spot ? usd(p.spot.usdPerMillion) : 'n/a'],
    ),
  };
}

/** One line for a terminal: "12:30:00 on 10 x g5.xlarge: $1,234.00 on demand ($3.21 per million), $567.00 spot ($1.50 per million)". */
export function projectionLine(p: Projection | undefined, pricing: Pricing): string {
  if (p === undefined) return 'nothing measured yet: no projection';
  const spot = p.spot ? `, ${usd(p.spot.totalUsd)} spot (${usd(p.spot.usdPerMillion)} per million)` : '';
  return `${hms(p.hours * 3600)} on ${p.instances} x ${pricing.instance ?? 'the measured machine'}: ${usd(p.totalUsd)} on demand (${usd(p.usdPerMillion)} per million)${spot}`;
}
