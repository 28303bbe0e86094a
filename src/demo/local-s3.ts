import { spawn } from 'node:child_process';
import { once } from 'node:events';
import readline from 'node:readline';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { S3Client } from '@aws-sdk/client-s3';

/** The local S3-compatible server (s3rver) on loopback: for the demo, the tests and CI. */
export interface LocalS3 {
  endpoint: string;
  /** The server's process id (benchmarks read its CPU time). */
  pid: number;
  directory: string;
  close(): Promise<void>;
}

/** s3rver's fixed credentials; only ever used against this loopback server. */
export const LOCAL_S3_CREDENTIALS = { AWS_ACCESS_KEY_ID: 'S3RVER', AWS_SECRET_ACCESS_KEY: 'S3RVER' };

const SERVER_MAIN = fileURLToPath(new URL('./s3-server-main.js', import.meta.url));

/** Start s3rver in a child process (see s3-server-main) and create the given buckets. */
export async function startLocalS3(opts: { port?: number; directory?: string; buckets?: string[] } = {}): Promise<LocalS3> {
  const args = ['--openssl-legacy-provider', SERVER_MAIN, '--with-parent', '--port', String(opts.port ?? 0), ...(opts.directory ? ['--dir', opts.directory] : [])];
  const child = spawn(process.execPath, args, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = readline.createInterface({ input: child.stdout! });
  const [first] = (await Promise.race([
    once(lines, 'line'),
    once(child, 'exit').then(([code]) => {
      throw new Error(`the local S3 server exited with code ${code} before listening`);
    }),
  ])) as [string];
  const { endpoint, directory } = JSON.parse(first) as { endpoint: string; directory: string };
  const client = new S3Client({ endpoint, forcePathStyle: true, region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } });
  for (const Bucket of opts.buckets ?? []) await client.send(new CreateBucketCommand({ Bucket }));
  client.destroy();
  return {
    endpoint,
    pid: child.pid!,
    directory,
    async close() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}
