import type { ErrorStage } from './stages.js';

/**
 * What a commit marker says about its rows beyond counts: the reasons images failed (with a few of
 * their keys) and the labels they were tagged with. Small and per shard, so a report of a 300 k-shard
 * run adds them up from the markers it reads anyway, never from the Parquet.
 */
export interface ErrorReason {
  stage: ErrorStage;
  /** The message with its quantities as `#`, so "object is 12 MB" and "object is 14 MB" are one reason. */
  reason: string;
  count: number;
  /** Up to SAMPLES keys (s3://bucket/key or paths) of images that failed so. */
  samples: string[];
}

export interface TagCount {
  label: string;
  count: number;
}

/** What the digest reads of a result row (output/rows.ts's ResultRow has these). */
export interface DigestRow {
  key: string;
  bucket: string | null;
  error: { stage: ErrorStage; message: string } | null;
  models: { tags: { label: string }[] | null }[];
}

const SAMPLES = 3;
/** Reasons and labels a marker keeps: a shard with more reasons than this is rare, and is cut at its most frequent. */
const KEPT = 20;

/**
 * A message's reason: its quantities as `#` ("object is 12 MB" and "14 MB" are one reason), but not
 * what names a kind: a zero ("empty file: 0 bytes"), an HTTP status, a file's first bytes in hex
 * ("starts with bytes 3c 68 74 6d"), nor digits inside a word; a width x height is `#x#`.
 */
const QUANTITY = /\b[0-9a-f]{2}(?: [0-9a-f]{2})+\b|HTTP \d{3}\b|\b\d+x\d+\b|(?<![\w.])\d+(?:\.\d+)?(?!\w|\.\d)/g;
const reasonOf = (message: string) => message.replace(QUANTITY, (m) => (/^\d+x\d+$/.test(m) ? '#x#' : /^\d+(\.\d+)?$/.test(m) && Number(m) !== 0 ? '#' : m));
/** A sample key, cut at 300 characters: a marker stays small whatever the keys (S3 allows 1,024 bytes). */
const where = (r: Pick<DigestRow, 'bucket' | 'key'>) => {
  const uri = r.bucket ? `s3://${r.bucket}/${r.key}` : r.key;
  return uri.length > 300 ? `${uri.slice(0, 299)}…` : uri;
};

function top<T extends { count: number }>(items: Iterable<T>, n: number, name: (t: T) => string): T[] {
  return [...items].sort((a, b) => b.count - a.count || name(a).localeCompare(name(b))).slice(0, n);
}

/** A shard's error reasons, most frequent first. */
export function errorDigest(rows: DigestRow[]): ErrorReason[] {
  const by = new Map<string, ErrorReason>();
  for (const r of rows) {
    if (!r.error) continue;
    const reason = reasonOf(r.error.message);
    const id = `${r.error.stage}\u0000${reason}`;
    const e = by.get(id) ?? by.set(id, { stage: r.error.stage, reason, count: 0, samples: [] }).get(id)!;
    e.count += 1;
    if (e.samples.length < SAMPLES) e.samples.push(where(r));
  }
  return top(by.values(), KEPT, (e) => e.reason);
}

/** How often each label was an image's first tag (the first model's), most frequent first. */
export function topTags(rows: DigestRow[]): TagCount[] {
  const by = new Map<string, number>();
  for (const r of rows) {
    const label = r.models[0]?.tags?.[0]?.label;
    if (label !== undefined) by.set(label, (by.get(label) ?? 0) + 1);
  }
  return top([...by].map(([label, count]) => ({ label, count })), KEPT, (t) => t.label);
}

/** Many shards' reasons as one list: counts added, samples up to SAMPLES. */
export function mergeErrorDigests(digests: (ErrorReason[] | undefined)[], n = 10): ErrorReason[] {
  const by = new Map<string, ErrorReason>();
  for (const d of digests)
    for (const e of d ?? []) {
      const id = `${e.stage}\u0000${e.reason}`;
      const m = by.get(id) ?? by.set(id, { ...e, count: 0, samples: [] }).get(id)!;
      m.count += e.count;
      for (const s of e.samples) if (m.samples.length < SAMPLES) m.samples.push(s);
    }
  return top(by.values(), n, (e) => e.reason);
}

export function mergeTopTags(lists: (TagCount[] | undefined)[], n = 10): TagCount[] {
  const by = new Map<string, number>();
  for (const l of lists) for (const t of l ?? []) by.set(t.label, (by.get(t.label) ?? 0) + t.count);
  return top([...by].map(([label, count]) => ({ label, count })), n, (t) => t.label);
}
