import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { after } from 'node:test';
import { LOCAL_S3_CREDENTIALS, startLocalS3 } from '../../src/demo/local-s3.js';
import { s3Client } from '../../src/storage/s3-client.js';
import { configureS3 } from '../../src/storage/s3-config.js';

export interface TestS3 {
  endpoint: string;
  /** Environment for child processes (the CLI) that talk to this server. */
  env: NodeJS.ProcessEnv;
}

let shared: Promise<TestS3> | undefined;
let counter = 0;
let stop: (() => Promise<void>) | undefined;

// Registered when this module loads, so it runs once after all of the file's tests.
after(async () => stop?.());

/**
 * The S3-compatible server the tests talk to over real HTTP on loopback: the one .ci/run started
 * (IMGTAG_TEST_S3_ENDPOINT), else an s3rver started here for this test file.
 */
export function testS3(): Promise<TestS3> {
  shared ??= (async () => {
    Object.assign(process.env, LOCAL_S3_CREDENTIALS);
    let endpoint = process.env.IMGTAG_TEST_S3_ENDPOINT;
    if (!endpoint) {
      const server = await startLocalS3();
      stop = () => server.close();
      endpoint = server.endpoint;
    }
    configureS3({ endpoint });
    return { endpoint, env: { ...process.env, ...LOCAL_S3_CREDENTIALS, AWS_ENDPOINT_URL: endpoint } };
  })();
  return shared;
}

/** A fresh bucket per test, so tests never see each other's objects. */
export async function newBucket(prefix: string): Promise<string> {
  await testS3();
  const name = `${prefix}-${process.pid}-${Date.now().toString(36)}-${counter++}`.toLowerCase().slice(0, 63);
  await s3Client().send(new CreateBucketCommand({ Bucket: name }));
  return name;
}
