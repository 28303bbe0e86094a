import http from 'node:http';

/**
 * AWS Batch's SubmitJob over real HTTP on loopback (no Batch runs here: helpers/batch-fleet.ts
 * does): the SDK's client sends its signed REST call, this answers with a job id and keeps the
 * request for the test to read. DescribeJobs says every job it took is RUNNING: the test runs them.
 */
export interface BatchServer {
  endpoint: string;
  submitted: Record<string, unknown>[];
  close(): Promise<void>;
}

export async function startBatchServer(): Promise<BatchServer> {
  const submitted: Record<string, unknown>[] = [];
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      if (req.method === 'POST' && req.url === '/v1/describejobs') {
        const ids = (JSON.parse(body) as { jobs: string[] }).jobs;
        return void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jobs: ids.map((jobId) => ({ jobId, status: 'RUNNING' })) }));
      }
      if (req.method !== 'POST' || req.url !== '/v1/submitjob') return void res.writeHead(404).end();
      const input = JSON.parse(body) as Record<string, unknown>;
      submitted.push(input);
      const jobId = `job-${submitted.length}`;
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ jobArn: `arn:aws:batch:us-east-1:123456789012:job/${jobId}`, jobName: input.jobName, jobId }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    submitted,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
