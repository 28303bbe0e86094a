import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

/**
 * A standalone s3rver on loopback. It needs `node --openssl-legacy-provider` (its ListObjectsV2
 * continuation tokens use DES), which is why it runs in a process of its own.
 * Usage: node --openssl-legacy-provider s3-server-main.js [port] [directory]
 * Prints {"endpoint": "..."} on its first line when it is listening.
 */
const port = Number(process.argv[2] ?? 0);
const directory = process.argv[3] ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'imgtag-s3-')));
const server = new S3rver({ address: '127.0.0.1', port, silent: true, directory });
const info = await server.run();
process.stdout.write(JSON.stringify({ endpoint: `http://127.0.0.1:${info.port}`, directory }) + '\n');
const stop = () => void server.close().finally(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
// Stop with the parent that started it (demo or tests), never outlive it.
process.stdin.on('end', stop).resume();
