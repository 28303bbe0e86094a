import assert from 'node:assert/strict';
import http from 'node:http';
import type net from 'node:net';
import { test } from 'node:test';
import { setTimeout as delay } from 'node:timers/promises';
import { SignatureV4 } from '@smithy/signature-v4';
import { Cancel } from '../src/storage/cancel.js';
import { KeepAlivePool, type GetRequest } from '../src/storage/http-get.js';
import { GetSigner, NodeSha256 } from '../src/storage/sign-get.js';

test('a lean GET carries the headers the SDK signer gives the request it sends (host with its port, the path as sent, a session token)', async () => {
  for (const sessionToken of [undefined, 'FwoGZXIvYXdzEJr//token+with/odd=chars']) {
    const credentials = { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY', sessionToken };
    const ours = new GetSigner(async () => credentials, 'eu-west-1');
    const sdk = new SignatureV4({ credentials, region: 'eu-west-1', service: 's3', sha256: NodeSha256, uriEscapePath: false, applyChecksum: false });
    // Two days: the signing key kept for the first is not used for the second.
    for (const at of ['2024-02-29T23:59:59.999Z', '2024-03-01T00:00:00.000Z', '2024-03-01T12:34:56.789Z']) {
      for (const [host, path] of [
        ['s3.eu-west-1.amazonaws.com', '/bucket/photos/a%20b/%E2%9C%93%21.jpg'],
        ['my-bucket.s3.eu-west-1.amazonaws.com', '/x/y.JPEG'],
        ['127.0.0.1:4569', '/bench/img/n01440764_tench.JPEG'],
      ] as const) {
        const signingDate = new Date(at);
        const expected = await sdk.sign({ method: 'GET', protocol: 'https:', hostname: host.split(':')[0]!, path, query: {}, headers: { host, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } }, { signingDate });
        assert.deepEqual(await ours.sign(host, path, signingDate), expected.headers, `${host}${path} at ${at}, token ${sessionToken !== undefined}`);
      }
    }
  }
});

/** A loopback server whose handler gets each request and its socket's number (sockets counted in order). */
async function server(handle: (req: http.IncomingMessage, res: http.ServerResponse, socket: number) => void) {
  const sockets = new Map<net.Socket, number>();
  const srv = http.createServer((req, res) => {
    if (!sockets.has(req.socket)) sockets.set(req.socket, sockets.size);
    handle(req, res, sockets.get(req.socket)!);
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
  const port = (srv.address() as net.AddressInfo).port;
  return {
    port,
    sockets: () => sockets.size,
    close: () => {
      srv.closeAllConnections();
      return new Promise((r) => srv.close(r));
    },
  };
}

const request = (port: number, path: string, more: Partial<GetRequest> = {}): GetRequest => ({ hostname: '127.0.0.1', port, path, headers: { host: `127.0.0.1:${port}` }, maxBytes: 1 << 20, timeoutMs: 5000, ...more });

test('keep-alive GETs: bodies of their announced length, headers by lower-case name, one connection reused; a head and body in pieces', async () => {
  const body = Buffer.alloc(200_000, 7);
  const s = await server((req, res) => {
    if (req.url === '/pieces') {
      // The head itself split, then the body in three writes.
      const socket = res.socket!;
      socket.write('HTTP/1.1 200 OK\r\nContent-Le');
      setTimeout(() => socket.write('ngth: 5\r\nETag: "abc"\r'), 20);
      setTimeout(() => socket.write('\n\r\nhe'), 40);
      setTimeout(() => socket.write('llo'), 60);
      return;
    }
    res.writeHead(200, { 'Content-Length': body.length, ETag: '"e1"', 'Last-Modified': 'Tue, 02 Jan 2024 03:04:05 GMT' }).end(body);
  });
  const pool = new KeepAlivePool(false);
  try {
    for (let i = 0; i < 3; i++) {
      const a = await pool.get(request(s.port, '/x'));
      assert.ok(a && 'body' in a);
      assert.equal(a.status, 200);
      assert.ok(a.body.equals(body));
      assert.equal(a.headers.etag, '"e1"');
      assert.equal(a.headers['last-modified'], 'Tue, 02 Jan 2024 03:04:05 GMT');
    }
    assert.equal(s.sockets(), 1, 'one connection for three GETs in a row');
    const p = await pool.get(request(s.port, '/pieces'));
    assert.ok(p && 'body' in p);
    assert.deepEqual([p.body.toString(), p.headers.etag], ['hello', '"abc"']);
  } finally {
    pool.destroy();
    await s.close();
  }
});

test('a chunked error body is read whole (NoSuchKey can be told from NoSuchBucket); a 200 over the limit is refused from its length', async () => {
  const s = await server((req, res) => {
    if (req.url === '/missing') {
      res.writeHead(404, { 'content-type': 'application/xml' });
      res.write('<Error><Code>NoSu');
      setTimeout(() => res.end('chKey</Code></Error>'), 20);
      return;
    }
    res.writeHead(200, { 'Content-Length': 5_000_000 }).end(Buffer.alloc(5_000_000));
  });
  const pool = new KeepAlivePool(false);
  try {
    const missing = await pool.get(request(s.port, '/missing'));
    assert.ok(missing && 'body' in missing);
    assert.equal(missing.status, 404);
    assert.equal(missing.headers['transfer-encoding'], 'chunked');
    assert.equal(missing.body.toString(), '<Error><Code>NoSuchKey</Code></Error>');
    assert.deepEqual(await pool.get(request(s.port, '/big', { maxBytes: 1000 })), { status: 200, tooBig: 5_000_000 });
  } finally {
    pool.destroy();
    await s.close();
  }
});

test('a stale keep-alive connection is replaced once; a cut body, an undelimited body, a reset or a time-out answers undefined (the SDK then tries)', async () => {
  let served = 0;
  let stalled = 0;
  const s = await server((req, res, socket) => {
    served += 1;
    // The first connection is dropped when asked a second time, as a server whose idle timeout just passed.
    if (socket === 0 && served === 2) return void req.socket.destroy();
    if (req.url === '/cut') return void res.writeHead(200, { 'Content-Length': 1000 }).write(Buffer.alloc(10), () => res.socket!.destroy());
    if (req.url === '/undelimited') {
      res.socket!.end('HTTP/1.0 200 OK\r\n\r\nbytes until the close');
      return;
    }
    if (req.url === '/reset') return void req.socket.destroy();
    if (req.url === '/stall') return void (stalled += 1);
    res.writeHead(200, { 'Content-Length': 2 }).end('ok');
  });
  const pool = new KeepAlivePool(false);
  try {
    for (let i = 0; i < 2; i++) {
      const a = await pool.get(request(s.port, '/ok'));
      assert.ok(a && 'body' in a && a.body.toString() === 'ok', `GET ${i}: ${JSON.stringify(a)}`);
    }
    assert.equal(s.sockets(), 2, 'the stale connection was replaced by a new one');
    for (const path of ['/cut', '/undelimited', '/reset']) assert.equal(await pool.get(request(s.port, path)), undefined, path);
    // A time-out on a reused connection is the server's slowness: not sent again.
    assert.ok(await pool.get(request(s.port, '/ok')));
    assert.equal(await pool.get(request(s.port, '/stall', { timeoutMs: 200 })), undefined);
    assert.equal(stalled, 1);
  } finally {
    pool.destroy();
    await s.close();
  }
});

test('a cancelled GET rejects with the reason; one cancelled before it is sent is not sent', async () => {
  const s = await server((_req, res) => {
    res.writeHead(200, { 'Content-Length': 1000 });
    res.write('a trickle');
  });
  const pool = new KeepAlivePool(false);
  try {
    const cancel = new Cancel();
    const got = pool.get(request(s.port, '/slow', { cancel }));
    await delay(50);
    cancel.abort(new Error('deadline'));
    await assert.rejects(got, /deadline/);
    const already = new Cancel();
    already.abort(new Error('before it was sent'));
    await assert.rejects(pool.get(request(s.port, '/slow', { cancel: already })), /before it was sent/);
  } finally {
    pool.destroy();
    await s.close();
  }
});
