import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import S3rver from 's3rver';

/** The local S3-compatible server (s3rver) on loopback: for the demo, the tests and CI. */
export interface LocalS3 {
  endpoint: string;
  directory: string;
  close(): Promise<void>;
}

/** s3rver's fixed credentials; only ever used against this loopback server. */
export const LOCAL_S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

export async function startLocalS3(opts: { port?: number; directory?: string; buckets?: string[] } = {}): Promise<LocalS3> {
  const directory = opts.directory ?? (await fsp.mkdtemp(path.join(os.tmpdir(), 'imgtag-s3-')));
  const server = new S3rver({
    address: '127.0.0.1',
    port: opts.port ?? 0,
    silent: true,
    directory,
    configureBuckets: (opts.buckets ?? []).map((name) => ({ name })),
  });
  const { port } = await server.run();
  return { endpoint: `http://127.0.0.1:${port}`, directory, close: () => server.close() };
}
