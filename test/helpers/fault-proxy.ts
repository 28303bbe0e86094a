import http from 'node:http';
import { rng } from '../../src/demo/synthetic.js';

export type Fault = 'slowdown' | 'internal' | 'reset' | 'stall';

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
 * 503 SlowDown or 500, resets the connection, or stalls; requests whose path contains one of
 * `alwaysFail` always get a 500. Everything else is forwarded unchanged (the Host header too, so
 * SigV4 signatures stay valid).
 */
export interface FaultOptions {
  /** Share of requests that get a fault. */
  rate: number;
  seed?: number;
  alwaysFail?: string[];
  /** Which faults to draw from (default all four). */
  kinds?: Fault[];
  /** Only requests this accepts can get a fault (default every request). */
  only?: (method: string, path: string) => boolean;
  /** A stall lasts this long and is then forwarded (default: never answered). */
  stallMs?: number;
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
    injected: { slowdown: 0, internal: 0, reset: 0, stall: 0 },
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
      if (kind === 'stall' && opts.stallMs !== undefined) {
        // A slow answer, as S3's tail has: forwarded in the end.
        setTimeout(() => forward(req, res), opts.stallMs);
        return;
      }
      req.resume();
      if (kind === 'slowdown') res.writeHead(503, { 'content-type': 'application/xml' }).end(xmlError('SlowDown', 'Please reduce your request rate.'));
      else if (kind === 'internal') res.writeHead(500, { 'content-type': 'application/xml' }).end(xmlError('InternalError', 'injected'));
      else if (kind === 'reset') req.socket.destroy();
      else stalled.add(res); // never answered: the client's timeout must give up and retry
      return;
    }
    forward(req, res);
  });
  const forward = (req: http.IncomingMessage, res: http.ServerResponse) => {
    state.forwarded += 1;
    const up = http.request(
      { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: req.headers },
      (upRes) => {
        res.writeHead(upRes.statusCode ?? 502, upRes.headers);
        upRes.pipe(res);
      },
    );
    up.on('error', () => res.destroy());
    req.pipe(up);
  };
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  state.endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  return state;
}
