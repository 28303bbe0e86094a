import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import S3rver from 's3rver';

/**
 * A standalone s3rver on loopback. It needs `node --openssl-legacy-provider` (its ListObjectsV2
 * continuation tokens use DES), which is why it runs in a process of its own.
 * Usage: node --openssl-legacy-provider s3-server-main.js [--port N] [--dir D] [--bucket NAME ...] [--with-parent]
 * Prints {"endpoint": "..."} on its first line when it is listening.
 */
const { values } = parseArgs({
  options: { port: { type: 'string', default: '0' }, dir: { type: 'string' }, bucket: { type: 'string', multiple: true, default: [] }, 'with-parent': { type: 'boolean', default: false } },
});
const port = Number(values.port);
const directory = values.dir ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'imgtag-s3-')));
// s3rver's file store can throw outside any request when one request deletes a key another is
// reading or writing (a lease renewed while it is released): that request fails and is retried by
// the client, as it would be against S3, instead of the whole server going down.
process.on('uncaughtException', (e: NodeJS.ErrnoException) => {
  if (e.code !== 'ENOENT') throw e;
  process.stderr.write(`s3rver: ${e.message} (a request raced a delete; the server goes on)\n`);
});
// --bucket: created at start (kept if --dir already has it), so a first `imgtag plan` has somewhere to write.
const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory, configureBuckets: values.bucket.map((name) => ({ name, configs: [] })) });
const info = await server.run();
process.stdout.write(JSON.stringify({ endpoint: `http://127.0.0.1:${info.port}`, directory }) + '\n');
const stop = () => void server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Started by the demo or a test: stop when that parent goes (its end of our stdin closes).
if (values['with-parent']) process.stdin.on('end', stop).resume();
