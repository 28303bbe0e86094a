import type { S3Client } from '@aws-sdk/client-s3';
import type { Cancel } from './cancel.js';
import { KeepAlivePool } from './http-get.js';
import { GetSigner } from './sign-get.js';
import { s3Client } from './s3-client.js';
import { s3Endpoint } from './s3-config.js';
import { settings } from '../settings.js';

/**
 * Image GETs without the AWS SDK's middleware chain: the SDK spends ~1.5 ms of CPU per request
 * (about 20 middlewares, serde, endpoint rules), as much as decoding a small JPEG. This path signs
 * with the SDK's credentials and SigV4 signer (sign-get.ts) and sends one request over a
 * keep-alive connection of its own (http-get.ts).
 * It only ever answers success or "not found": any other status, a network error or a time-out
 * returns undefined, and the caller sends the same GET through the SDK, whose retries, back-off
 * and error mapping then apply unchanged. On by default; IMGTAG_LEAN_GET=0 sends every GET through
 * the SDK.
 */
export type LeanAnswer =
  /** etag as the server sent it, quotes and all. */
  | { status: 'ok'; body: Buffer; etag?: string; modified?: Date }
  | { status: 'missing' }
  | { status: 'too-big'; length: number }
  /** Nothing was sent (off, or a bucket it cannot address): not an attempt. */
  | { status: 'skipped' };

/** Where and how to send, worked out once per process rather than per GET. */
interface Target {
  signer: GetSigner;
  /** Keep-alive connections to the endpoint (or, virtual-hosted, its buckets' hosts). */
  pool: KeepAlivePool;
  /** Host and port as the Host header has them; the hostname and port apart. */
  host: string;
  hostname: string;
  port: number;
  /** The endpoint's own path, without a trailing slash. */
  basePath: string;
  pathStyle: boolean;
}

/** The set-up of each S3 client (configureS3 makes a new one): a client's set-up dies with it. */
const targets = new WeakMap<S3Client, Promise<Target | undefined>>();

async function setUp(s3: S3Client): Promise<Target | undefined> {
  if (!settings().leanGet || process.env.AWS_USE_FIPS_ENDPOINT === 'true' || process.env.AWS_USE_DUALSTACK_ENDPOINT === 'true') return undefined;
  const config = s3.config;
  const region = await config.region();
  const endpoint = s3Endpoint();
  const base = new URL(endpoint ?? `https://s3.${region}.amazonaws.com`);
  return {
    signer: new GetSigner(() => config.credentials(), region),
    pool: new KeepAlivePool(base.protocol === 'https:'),
    host: base.host,
    hostname: base.hostname,
    port: base.port ? Number(base.port) : base.protocol === 'https:' ? 443 : 80,
    basePath: base.pathname.replace(/\/$/, ''),
    pathStyle: endpoint !== undefined,
  };
}

/** RFC 3986 encoding of each key segment, as S3's SigV4 wants it ([!'()*] too). */
const encodeKey = (key: string) => key.split('/').map((s) => encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)).join('/');

/** Virtual-hosted addressing needs a DNS-safe bucket name without dots (TLS); others (and S3 Express directory buckets, with their own endpoints) go through the SDK. */
const virtualHostable = (bucket: string) => /^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$/.test(bucket) && !bucket.endsWith('--x-s3');

export async function leanGet(bucket: string, key: string, opts: { maxBytes: number; cancel?: Cancel; timeoutMs: number }): Promise<LeanAnswer | undefined> {
  const s3 = s3Client();
  let setUpOnce = targets.get(s3);
  if (!setUpOnce) targets.set(s3, (setUpOnce = setUp(s3).catch(() => undefined)));
  const t = await setUpOnce;
  if (!t || (!t.pathStyle && !virtualHostable(bucket))) return { status: 'skipped' };
  const [host, hostname] = t.pathStyle ? [t.host, t.hostname] : [`${bucket}.${t.host}`, `${bucket}.${t.hostname}`];
  const path = t.pathStyle ? `${t.basePath}/${bucket}/${encodeKey(key)}` : `${t.basePath}/${encodeKey(key)}`;
  let signed;
  try {
    signed = await t.signer.sign(host, path);
  } catch {
    return { status: 'skipped' }; // no credentials: the SDK says so in its words
  }
  const answer = await t.pool.get({ hostname, port: t.port, path, headers: signed, maxBytes: opts.maxBytes, timeoutMs: opts.timeoutMs, cancel: opts.cancel });
  if (!answer) return undefined;
  if ('tooBig' in answer) return { status: 'too-big', length: answer.tooBig };
  const { status, headers, body } = answer;
  if (status === 200) return { status: 'ok', body, etag: headers.etag, modified: headers['last-modified'] ? new Date(headers['last-modified']) : undefined };
  // NoSuchKey is the object's own answer; anything else (a missing bucket, throttling, a redirect
  // to another region) goes to the SDK.
  return status === 404 && body.includes('<Code>NoSuchKey</Code>') ? { status: 'missing' } : undefined;
}
