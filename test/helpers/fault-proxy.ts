import http from 'node:http';
import { rng } from '../../src/demo/synthetic.js';

export type Fault = 'slowdown' | 'internal' | 'reset' | 'stall' | 'moved' | 'redirect' | 'cut';

export interface FaultProxy {
  endpoint: string;
  /** Faults injected so far, by kind. */
  injected: Record<Fault, number>;
  forwarded: number;
  /** When the outage (if one was asked for and has begun) ends, in ms since the epoch. */
  outageEndsAt?: number;
  close(): Promise<void>;
}

const xmlError = (code: string, message: string) =>
  `<?xml version="1.0" encoding="UTF-8"?><Error><Code>${code}</Code><Message>${message}</Message></Error>`;

/**
 * An HTTP proxy on loopback between imgtag and the S3 server that, on a share of requests, answers
 * 503 SlowDown or 500, resets the connection, stalls, answers 301 PermanentRedirect (a bucket in
 * another region) or 307 TemporaryRedirect back to itself (S3 asking for the request again); requests whose path contains one of
 * `alwaysFail` always get a 500. Everything else is forwarded unchanged (the Host header too, so
 * SigV4 signatures stay valid).
 */
export interface FaultOptions {
  /** Share of requests that get a fault. */
  rate: number;
  seed?: number;
  alwaysFail?: string[];
  /** Which faults to draw from (default: slowdown, internal, reset, stall). */
  kinds?: Fault[];
  /** Only requests this accepts can get a fault (default every request). */
  only?: (method: string, path: string) => boolean;
  /** A stall lasts this long and is then forwarded (default: never answered). */
  stallMs?: number;
  /** Requests whose path contains one of these get their answer's body at 10 bytes a second. */
  trickle?: string[];
  /** A total outage: once this many requests were forwarded, every request gets a 503 for `ms`. */
  outage?: { afterRequests: number; ms: number };
}

export async function startFaultProxy(upstream: string, opts: FaultOptions): Promise<FaultProxy> {
  const target = new URL(upstream);
  const rand = rng(opts.seed ?? 1);
  const kinds: Fault[] = opts.kinds ?? ['slowdown', 'internal', 'reset', 'stall'];
  const stalled = new Set<http.ServerResponse>();
  const state: FaultProxy = {
    endpoint: '',
    injected: { slowdown: 0, internal: 0, reset: 0, stall: 0, moved: 0, redirect: 0, cut: 0 },
    forwarded: 0,
    close: async () => {
      for (const res of stalled) res.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server = http.createServer((req, res) => {
    const path = decodeURIComponent(req.url ?? '');
    if (opts.alwaysFail?.some((s) => path.includes(s))) {
      res.writeHead(500, { 'content-type': 'application/xml' }).end(xmlError('InternalError', 'injected persistent failure'));
      return;
    }
    if (opts.outage && state.outageEndsAt === undefined && state.forwarded >= opts.outage.afterRequests) state.outageEndsAt = Date.now() + opts.outage.ms;
    if (state.outageEndsAt !== undefined && Date.now() < state.outageEndsAt) {
      state.injected.internal += 1;
      req.resume();
      res.writeHead(503, { 'content-type': 'application/xml' }).end(xmlError('ServiceUnavailable', 'injected outage'));
      return;
    }
    if ((opts.only?.(req.method ?? 'GET', path) ?? true) && rand() < opts.rate) {
      const kind = kinds[Math.floor(rand() * kinds.length)]!;
      state.injected[kind] += 1;
      if (kind === 'cut') return forward(req, res, true);
      if (kind === 'stall' && opts.stallMs !== undefined) {
        // A slow answer, as S3's tail has: forwarded in the end.
        setTimeout(() => forward(req, res), opts.stallMs);
        return;
      }
      req.resume();
      if (kind === 'slowdown') res.writeHead(503, { 'content-type': 'application/xml' }).end(xmlError('SlowDown', 'Please reduce your request rate.'));
      else if (kind === 'internal') res.writeHead(500, { 'content-type': 'application/xml' }).end(xmlError('InternalError', 'injected'));
      else if (kind === 'reset') req.socket.destroy();
      else if (kind === 'moved') res.writeHead(301, { 'content-type': 'application/xml', 'x-amz-bucket-region': 'eu-west-1' }).end(xmlError('PermanentRedirect', 'The bucket you are attempting to access must be addressed using the specified endpoint.'));
      else if (kind === 'redirect') res.writeHead(307, { 'content-type': 'application/xml', location: `${state.endpoint}${req.url}` }).end(xmlError('TemporaryRedirect', 'Please re-send this request to the specified temporary endpoint.'));
      else stalled.add(res); // never answered: the client's timeout must give up and retry
      return;
    }
    forward(req, res);
  });
  /** cut: the answer's headers and half its body, then the connection is dropped. */
  const forward = (req: http.IncomingMessage, res: http.ServerResponse, cut = false) => {
    state.forwarded += 1;
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        const path = decodeURIComponent(req.url ?? '');
        if (cut) {
          const half = Number(upRes.headers['content-length'] ?? 0) / 2;
          let sent = 0;
          upRes.on('data', (c: Buffer) => {
            if (sent >= half) return;
            res.write(c.subarray(0, Math.max(0, half - sent)));
            sent += c.length;
            if (sent >= half) res.socket?.destroy();
          });
          return;
        }
        if (!opts.trickle?.some((t) => path.includes(t))) return void upRes.pipe(res);
        // A body that never stops arriving, and never arrives: 10 bytes a second.
        const chunks: Buffer[] = [];
        upRes.on('data', (c: Buffer) => chunks.push(c));
        upRes.on('end', () => {
          const body = Buffer.concat(chunks);
          let at = 0;
          const tick = setInterval(() => {
            if (res.destroyed || at >= body.length) return void (clearInterval(tick), res.end());
            res.write(body.subarray(at, (at += 10)));
          }, 1000);
          stalled.add(res);
          res.on('close', () => clearInterval(tick));
        });
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return state;
}
