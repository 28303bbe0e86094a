import fs from 'node:fs';
import http from 'node:http';

/**
 * A loopback HTTP server standing in for raw.githubusercontent.com: it serves each URL path
 * (/owner/repo/commit/path) from a file of this machine. Under /bad/ the same files come with one
 * byte changed, for sha256 checks. `served` counts the files sent.
 */
export async function fileMirror(fileFor: (urlPath: string) => string | undefined): Promise<{ base: string; served: () => number; close: () => void }> {
  let served = 0;
  const server = http.createServer((req, res) => {
    const bad = req.url!.startsWith('/bad/');
    const file = fileFor(bad ? req.url!.slice(4) : req.url!);
    if (!file) return void res.writeHead(404).end();
    const body = fs.readFileSync(file);
    if (bad) body[10] = body[10]! ^ 0xff;
    served++;
    res.writeHead(200).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { base: `http://127.0.0.1:${(server.address() as { port: number }).port}`, served: () => served, close: () => void server.close() };
}

/** A loopback base URL nothing listens on: a connection there is refused at once, as offline. */
export async function closedPortUrl(): Promise<string> {
  const server = http.createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  await new Promise((r) => server.close(r));
  return `http://127.0.0.1:${port}`;
}
