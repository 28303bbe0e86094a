import net from 'node:net';
import tls from 'node:tls';
import type { Cancel } from './cancel.js';

/**
 * Keep-alive HTTP/1.1 GETs over plain sockets, for image GETs: node:http spends more CPU on a
 * 110 KB GET than the bytes cost (an IncomingMessage stream, llhttp, header objects and events per
 * request), and, worse, each socket read lands in a fresh 64 KB ArrayBuffer: ~170 KB of external
 * memory per image that only a scavenge frees. In a process with a large young generation (the
 * AWS SDK and the model loaded) that memory reaches V8's old-generation limit before a scavenge
 * comes, and every ~60 GETs cost a full mark-compact: 0.25 ms a GET became 0.4 ms. Here every
 * socket reads into one reused buffer (`onread`), and the body is copied once into a buffer of its
 * announced length: one allocation per image, as a local file read has.
 *
 * Only what an S3 GET answers is understood: a status line, headers, and a body of a given
 * Content-Length (or, for small error bodies, chunked). Anything else, a network error or a time-out
 * answers undefined, and the caller sends the request another way (lean-get: through the AWS SDK).
 * An abort (the request's Cancel) rejects with its reason.
 */

export interface HttpAnswer {
  status: number;
  /** Lower-case names; a repeated header's values joined with ", ". */
  headers: Record<string, string>;
  body: Buffer;
}

/** A 200 whose announced length is over the caller's limit: its body is not read. */
export interface TooBig {
  status: 200;
  tooBig: number;
}

export interface GetRequest {
  /** Host name or address to connect to, and the port. */
  hostname: string;
  port: number;
  /** Path and query, encoded. */
  path: string;
  /** Sent as they are (names and values must not hold CR or LF); Host among them. */
  headers: Record<string, string>;
  /** A 200 announcing more bytes than this answers TooBig. */
  maxBytes: number;
  /** Idle time (nothing sent or received) after which the request is abandoned. */
  timeoutMs: number;
  cancel?: Cancel;
}

/** Bytes of a response head or a chunked body past which the answer is left to the caller's other way. */
const MAX_HEAD = 64 << 10;
const MAX_CHUNKED = 1 << 20;
/**
 * Where a socket read lands when it is not straight into a body: one buffer for every connection
 * (each read is handled, and what is kept copied out, before the next read of any socket).
 */
const READ = Buffer.allocUnsafe(64 << 10);
/** Idle connections kept per host, as http.Agent's maxFreeSockets. */
const MAX_IDLE = 256;

/** One request in flight on a connection. */
interface Exchange {
  req: GetRequest;
  resolve(a: HttpAnswer | TooBig | undefined): void;
  reject(e: unknown): void;
  /** Bytes of the response received so far: a reused connection that closes before any may be stale. */
  received: number;
  reused: boolean;
  onAbort?: () => void;
}

type Body = { kind: 'length'; bytes: Buffer; at: number } | { kind: 'chunked'; raw: Buffer[]; size: number };

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');

/** A parsed response head, or undefined when it is not one this client handles. */
function parseHead(text: string): { status: number; headers: Record<string, string>; keepAlive: boolean } | undefined {
  const lines = text.split('\r\n');
  const m = /^HTTP\/1\.([01]) (\d{3})(?: |$)/.exec(lines[0]!);
  if (!m) return undefined;
  const headers: Record<string, string> = {};
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!;
    const colon = line.indexOf(':');
    if (colon <= 0 || line[0] === ' ' || line[0] === '\t') return undefined;
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    headers[name] = headers[name] === undefined ? value : `${headers[name]}, ${value}`;
  }
  const connection = headers.connection?.toLowerCase() ?? '';
  const keepAlive = m[1] === '1' ? !/\bclose\b/.test(connection) : /\bkeep-alive\b/.test(connection);
  return { status: Number(m[2]), headers, keepAlive };
}

/** A whole chunked body from its raw bytes: the body and the bytes it took, 'more' if incomplete, undefined if malformed. */
function dechunk(raw: Buffer): { body: Buffer; used: number } | 'more' | undefined {
  const parts: Buffer[] = [];
  let at = 0;
  for (;;) {
    const eol = raw.indexOf('\r\n', at, 'latin1');
    if (eol < 0) return raw.length - at > 1024 ? undefined : 'more';
    const size = parseInt(raw.toString('latin1', at, eol).split(';')[0]!.trim(), 16);
    if (!Number.isSafeInteger(size) || size < 0) return undefined;
    at = eol + 2;
    if (size === 0) {
      // Trailers, if any, up to an empty line.
      for (;;) {
        const end = raw.indexOf('\r\n', at, 'latin1');
        if (end < 0) return 'more';
        if (end === at) return { body: Buffer.concat(parts), used: end + 2 };
        at = end + 2;
      }
    }
    if (raw.length < at + size + 2) return 'more';
    if (raw[at + size] !== 13 || raw[at + size + 1] !== 10) return undefined;
    parts.push(raw.subarray(at, at + size));
    at += size + 2;
  }
}

class Connection {
  readonly socket: net.Socket;
  private exchange?: Exchange;
  private head?: Buffer;
  private status = 0;
  private headers: Record<string, string> = {};
  private keepAlive = true;
  private body?: Body;
  private timeoutMs = 0;
  closed = false;

  constructor(
    private readonly pool: KeepAlivePool,
    readonly key: string,
    hostname: string,
    port: number,
  ) {
    // Each read goes where the next bytes belong: the rest of a body of known length, else READ.
    const onread: net.OnReadOpts = { buffer: () => this.nextBuffer(), callback: (n, buf) => (this.onData(buf as Buffer, n), true) };
    // tls.connect takes onread as net.connect does (Node's typings omit it).
    const secure = { host: hostname, port, servername: net.isIP(hostname) ? undefined : hostname, ALPNProtocols: ['http/1.1'], session: pool.sessions.get(key), onread } as tls.ConnectionOptions;
    this.socket = pool.secure ? tls.connect(secure) : net.connect({ host: hostname, port, onread });
    this.socket.setNoDelay(true);
    if (pool.secure) this.socket.on('session', (s: Buffer) => pool.sessions.set(key, s));
    this.socket.on('error', (e) => this.close(e));
    this.socket.on('close', () => this.close(new Error('connection closed')));
    this.socket.on('end', () => this.close(new Error('connection ended by the server')));
    // A time-out is the server's slowness, not a stale connection: not sent again here.
    this.socket.on('timeout', () => this.close(new Error('timed out'), false));
  }

  send(x: Exchange): void {
    this.exchange = x;
    const { req } = x;
    if (this.timeoutMs !== req.timeoutMs) this.socket.setTimeout((this.timeoutMs = req.timeoutMs));
    if (req.cancel) req.cancel.on((x.onAbort = () => this.close(req.cancel!.reason)));
    let head = `GET ${req.path} HTTP/1.1\r\n`;
    for (const name in req.headers) head += `${name}: ${req.headers[name]}\r\n`;
    this.socket.write(`${head}\r\n`, 'latin1');
  }

  /** The exchange ends (with an answer, or undefined); the connection goes back to the pool if it can. */
  private finish(answer: HttpAnswer | TooBig | undefined, reusable: boolean): void {
    const x = this.exchange!;
    this.exchange = undefined;
    this.head = undefined;
    this.body = undefined;
    if (x.onAbort) x.req.cancel!.off(x.onAbort);
    if (reusable && this.keepAlive) this.pool.release(this);
    else this.close();
    x.resolve(answer);
  }

  /**
   * Closed for good: an exchange in flight fails (aborted: rejected; on a reused connection that
   * closed before any byte of the answer, stale: sent again on a new one, unless `resend` is false).
   */
  close(e?: unknown, resend = true): void {
    if (!this.closed) {
      this.closed = true;
      this.socket.destroy();
      this.pool.forget(this);
    }
    const x = this.exchange;
    if (!x) return;
    this.exchange = undefined;
    if (x.onAbort) x.req.cancel!.off(x.onAbort);
    if (x.req.cancel?.aborted) x.reject(x.req.cancel.reason ?? e);
    else if (resend && x.reused && x.received === 0) this.pool.send(x.req, x.resolve, x.reject, false);
    else x.resolve(undefined);
  }

  /** The memory the next read fills: what is left of the body being read, or READ. */
  private nextBuffer(): Uint8Array {
    const body = this.body;
    return body?.kind === 'length' && body.at < body.bytes.length ? body.bytes.subarray(body.at) : READ;
  }

  private onData(buf: Buffer, n: number): void {
    const x = this.exchange;
    // Bytes nobody asked for: the connection is out of step.
    if (!x) return this.close();
    x.received += n;
    const body = this.body;
    if (body?.kind === 'length' && buf !== READ) {
      // Read straight into the body (a view of what was left of it): nothing to copy.
      body.at += n;
      if (body.at === body.bytes.length) this.finish({ status: this.status, headers: this.headers, body: body.bytes }, true);
      return;
    }
    let at = 0;
    if (!body) {
      let data = buf.subarray(0, n);
      if (this.head) data = Buffer.concat([this.head, data]);
      const end = data.indexOf(HEAD_END);
      if (end < 0) {
        if (data.length > MAX_HEAD) return this.finish(undefined, false);
        // The read buffer is reused: what is kept is copied.
        this.head = this.head ? data : Buffer.from(data);
        return;
      }
      const head = parseHead(data.toString('latin1', 0, end));
      if (!head || head.status < 200) return this.finish(undefined, false);
      ({ status: this.status, headers: this.headers, keepAlive: this.keepAlive } = head);
      const te = head.headers['transfer-encoding'];
      const cl = head.headers['content-length'];
      const length = cl !== undefined && /^\d+$/.test(cl) ? Number(cl) : NaN;
      if (te !== undefined) {
        if (te.toLowerCase() !== 'chunked' || cl !== undefined) return this.finish(undefined, false);
        this.body = { kind: 'chunked', raw: [], size: 0 };
      } else if (head.status === 204 || head.status === 304) {
        this.body = { kind: 'length', bytes: Buffer.alloc(0), at: 0 };
      } else if (!Number.isSafeInteger(length)) {
        return this.finish(undefined, false);
      } else if (head.status === 200 && length > x.req.maxBytes) {
        return this.finish({ status: 200, tooBig: length }, false);
      } else if (head.status !== 200 && length > MAX_CHUNKED) {
        return this.finish(undefined, false);
      } else {
        this.body = { kind: 'length', bytes: Buffer.allocUnsafeSlow(length), at: 0 };
      }
      // Where the body starts in this read (the head's end was not all in the bytes kept before it).
      at = end + 4 - (this.head?.length ?? 0);
      this.head = undefined;
    }
    const into = this.body!;
    if (into.kind === 'length') {
      const take = Math.min(n - at, into.bytes.length - into.at);
      buf.copy(into.bytes, into.at, at, at + take);
      into.at += take;
      if (into.at < into.bytes.length) return;
      // Bytes past the body: the server is out of step; the answer stands, the connection does not.
      this.finish({ status: this.status, headers: this.headers, body: into.bytes }, at + take === n);
      return;
    }
    into.raw.push(Buffer.from(buf.subarray(at, n)));
    into.size += n - at;
    if (into.size > MAX_CHUNKED) return this.finish(undefined, false);
    const raw = Buffer.concat(into.raw);
    into.raw = [raw];
    const done = dechunk(raw);
    if (done === 'more') return;
    if (!done) return this.finish(undefined, false);
    this.finish({ status: this.status, headers: this.headers, body: done.body }, done.used === raw.length);
  }
}

/**
 * Keep-alive connections to one scheme's hosts, reused last-in first-out (the warmest first); an
 * idle one does not hold the process open. TLS sessions are kept per host for quick reconnects.
 */
export class KeepAlivePool {
  private readonly idle = new Map<string, Connection[]>();
  readonly sessions = new Map<string, Buffer>();

  constructor(readonly secure: boolean) {}

  get(req: GetRequest): Promise<HttpAnswer | TooBig | undefined> {
    return new Promise((resolve, reject) => this.send(req, resolve, reject, true));
  }

  /** @param reuse take an idle connection if there is one (false: a new one, after a stale one failed). */
  send(req: GetRequest, resolve: Exchange['resolve'], reject: Exchange['reject'], reuse: boolean): void {
    if (req.cancel?.aborted) return reject(req.cancel.reason);
    const key = `${req.hostname}:${req.port}`;
    const conn = reuse ? this.idle.get(key)?.pop() : undefined;
    const c = conn ?? new Connection(this, key, req.hostname, req.port);
    c.socket.ref();
    c.send({ req, resolve, reject, received: 0, reused: conn !== undefined });
  }

  release(c: Connection): void {
    let list = this.idle.get(c.key);
    if (!list) this.idle.set(c.key, (list = []));
    if (list.length >= MAX_IDLE) return c.close();
    c.socket.unref();
    list.push(c);
  }

  forget(c: Connection): void {
    const list = this.idle.get(c.key);
    const i = list?.indexOf(c) ?? -1;
    if (i >= 0) list!.splice(i, 1);
  }

  /** Close every idle connection. */
  destroy(): void {
    for (const list of this.idle.values()) for (const c of [...list]) c.close();
    this.idle.clear();
  }
}
