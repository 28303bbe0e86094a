import { BatchClient, SubmitJobCommand, type SubmitJobCommandInput } from '@aws-sdk/client-batch';
import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { listObjects, writeBytes } from '../../src/storage/storage.js';
import { startBatchFleet, type BatchFleet, type BatchFleetOptions, type FleetJob, type FleetJobDefinition, type RetryRule } from './batch-fleet.js';
import { MODEL_DIR, ROOT } from './env.js';
import { fileMirror } from './file-mirror.js';
import { startGlueServer, type GlueServer } from './glue-server.js';
import { testS3 } from './s3.js';
import { planModule, README_VARIABLES, type ModulePlan } from './terraform.js';

/**
 * The fleet as the module renders it, run on this machine: the module planned with the README's
 * variables (pointed at a loopback bucket), its job definitions registered in a loopback Batch that
 * runs them (helpers/batch-fleet.ts), its Glue table on a loopback Glue, and its schedule's input
 * submitted as EventBridge Scheduler would. Nothing here restates a command, a retry rule or the
 * schedule: each comes from the plan.
 */
export interface Rehearsal {
  bucket: string;
  plan: ModulePlan;
  fleet: BatchFleet;
  glue: GlueServer;
  /** Where the nightly keeps its state (the module's nightly_root). */
  root: string;
  /** Where the current table's Glue location starts (the module's table location). */
  tableLocation: string;
  /** What the children, the nightly and this process use to reach the loopback services. */
  env: NodeJS.ProcessEnv;
  /** Write tonight's Inventory report of the bucket's img/ objects, as S3 Inventory would. */
  inventory(date: string): Promise<void>;
  /** The schedule fires: its target input submitted to Batch; resolves when every job has ended. */
  night(): Promise<FleetJob[]>;
  /** `terraform apply` with changed variables: the job definitions and the schedule as the new plan renders them. */
  apply(vars: Record<string, unknown>): Promise<void>;
  /** SubmitJob as the operator sends it (the AWS CLI's camelCase input); resolves when every job has ended. */
  submit(input: SubmitJobCommandInput): Promise<FleetJob[]>;
  close(): Promise<void>;
}

let baked: Promise<string> | undefined;

/**
 * The models the container image holds: the Dockerfile's own fetch-model line (the CPU image's),
 * run as `docker build` would, from a loopback mirror of the test models, into a cache folder.
 */
export function imageModels(): Promise<string> {
  baked ??= (async () => {
    const lines = fs.readFileSync(path.join(ROOT, 'infra/docker/Dockerfile'), 'utf8').split('\n');
    const cpu = lines.findIndex((l) => /^FROM .* AS cpu$/.test(l));
    const start = lines.findIndex((l, i) => i > cpu && /^RUN .*fetch-model|^RUN set -- && for spec in models/.test(l));
    if (cpu < 0 || start < 0) throw new Error('the Dockerfile\'s cpu stage has no RUN line that fetches the models');
    let end = start;
    while (lines[end]!.endsWith('\\')) end++;
    const run = lines.slice(start, end + 1).join('\n').replace(/^RUN /, '');
    const mirror = await fileMirror((p) => {
      const file = path.join(MODEL_DIR, path.basename(p));
      return fs.existsSync(file) ? file : undefined;
    });
    const cache = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-image-'));
    try {
      await promisify(execFile)('sh', ['-c', run], { cwd: ROOT, env: { PATH: process.env.PATH, MODEL_MIRROR: mirror.base, IMGTAG_CACHE_DIR: cache, HOME: cache } });
    } finally {
      mirror.close();
    }
    return cache;
  })();
  return baked;
}

/** The job definitions as the plan renders them (the resources' own attributes, the containers from an output known at plan). */
export function planDefinitions(plan: ModulePlan): FleetJobDefinition[] {
  const containers = plan.outputs.job_containers as Record<string, { command: string[]; environment: { name: string; value: string }[] }>;
  return Object.keys(containers).map((kind) => {
    const r = plan.resources.get(`aws_batch_job_definition.job["${kind}"]`)!.after as {
      name: string;
      parameters: Record<string, string> | null;
      retry_strategy: { attempts: number; evaluate_on_exit: { action: string; on_exit_code: string | null; on_reason: string | null; on_status_reason: string | null }[] }[];
      timeout: { attempt_duration_seconds: number }[];
    };
    const rules: RetryRule[] = r.retry_strategy[0]!.evaluate_on_exit.map((e) => ({
      action: e.action,
      ...(e.on_exit_code !== null ? { onExitCode: e.on_exit_code } : {}),
      ...(e.on_reason !== null ? { onReason: e.on_reason } : {}),
      ...(e.on_status_reason !== null ? { onStatusReason: e.on_status_reason } : {}),
    }));
    return {
      name: r.name,
      parameters: r.parameters ?? {},
      command: containers[kind]!.command,
      environment: containers[kind]!.environment,
      attempts: r.retry_strategy[0]!.attempts,
      evaluateOnExit: rules,
      timeoutSeconds: r.timeout[0]?.attempt_duration_seconds,
    };
  });
}

/** The schedule's target input (the SubmitJob request in the SDK's PascalCase member names), as Scheduler's universal target sends it. */
export function scheduleInput(plan: ModulePlan): SubmitJobCommandInput {
  const target = (plan.resources.get('aws_scheduler_schedule.nightly[0]')!.after.target as { arn: string; input: string }[])[0]!;
  if (target.arn !== 'arn:aws:scheduler:::aws-sdk:batch:submitJob') throw new Error(`the schedule's target is ${target.arn}, not Batch SubmitJob`);
  const camel = (v: unknown): unknown =>
    Array.isArray(v) ? v.map(camel) : v !== null && typeof v === 'object' ? Object.fromEntries(Object.entries(v).map(([k, x]) => [k[0]!.toLowerCase() + k.slice(1), camel(x)])) : v;
  return camel(JSON.parse(target.input)) as SubmitJobCommandInput;
}

export async function startRehearsal(bucket: string, vars: Record<string, unknown>, fleetOptions: Partial<BatchFleetOptions> = {}): Promise<Rehearsal> {
  const s3 = await testS3();
  const inventoryFolder = `s3://${bucket}/inventory/${bucket}/all/`;
  const variables = { ...README_VARIABLES, input_bucket: bucket, results_bucket: bucket, create_results_bucket: false, nightly_manifest: inventoryFolder, ...vars };
  let plan = await planModule(variables);
  const table = plan.resources.get('aws_glue_catalog_table.table["current"]')!.after as { database_name: string; name: string; storage_descriptor: { location: string }[] };
  const tableLocation = table.storage_descriptor[0]!.location;
  const glue = await startGlueServer(table.database_name, table.name, tableLocation);
  // A container's environment: what the job definition and Batch give it, the image's own (its
  // models, baked by the Dockerfile's line), the loopback endpoints and credentials; nothing of this
  // test process's (no IMGTAG_MODEL_DIR: a model the image lacks fails, as it would on AWS).
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: os.tmpdir(),
    IMGTAG_CACHE_DIR: await imageModels(),
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    AWS_ACCESS_KEY_ID: s3.env.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: s3.env.AWS_SECRET_ACCESS_KEY,
    AWS_ENDPOINT_URL: s3.endpoint,
    AWS_ENDPOINT_URL_GLUE: glue.endpoint,
    // A killed child's leases expire in seconds, not minutes: the retries here come seconds apart.
    IMGTAG_LEASE_TTL_MS: '3000',
    // No EC2 metadata service here: the machine is described without an instance type at once.
    IMGTAG_IMDS: 'http://127.0.0.1:9',
    AWS_EC2_METADATA_DISABLED: 'true',
  };
  const queues = [...plan.resources.values()].filter((r) => r.type === 'aws_batch_job_queue').map((r) => String(r.after.name));
  const fleet = await startBatchFleet({ definitions: planDefinitions(plan), queues, env, ...fleetOptions });
  env.AWS_ENDPOINT_URL_BATCH = fleet.endpoint;
  const root = String(plan.outputs.nightly_root);
  const client = new BatchClient({ region: 'us-east-1', endpoint: fleet.endpoint, credentials: { accessKeyId: 'AKIDREHEARSAL', secretAccessKey: 'rehearsal' } });

  const rehearsal: Rehearsal = {
    bucket,
    plan,
    fleet,
    glue,
    root,
    tableLocation,
    env,
    async inventory(date) {
      const lines: string[] = [];
      for await (const o of listObjects(`s3://${bucket}/img/`)) lines.push(`"${bucket}","${o.uri.slice(`s3://${bucket}/`.length)}","${o.size}","${o.etag}"\n`);
      const data = `inventory/${bucket}/all/data/${randomUUID()}.csv.gz`;
      await writeBytes(`s3://${bucket}/${data}`, gzipSync(lines.join('')));
      const manifest = { sourceBucket: bucket, destinationBucket: `arn:aws:s3:::${bucket}`, version: '2016-11-30', fileFormat: 'CSV', fileSchema: 'Bucket, Key, Size, ETag', files: [{ key: data }] };
      await writeBytes(`${inventoryFolder}${date}T01-00Z/manifest.json`, JSON.stringify(manifest));
    },
    async night() {
      return rehearsal.submit(scheduleInput(plan));
    },
    async submit(input) {
      const before = new Set(fleet.jobs.keys());
      await client.send(new SubmitJobCommand(input));
      await fleet.settled();
      return [...fleet.jobs.values()].filter((j) => !before.has(j.jobId));
    },
    async apply(changed) {
      Object.assign(variables, changed);
      plan = await planModule(variables);
      rehearsal.plan = plan;
      fleet.register(planDefinitions(plan));
    },
    async close() {
      await fleet.close();
      await glue.close();
    },
  };
  return rehearsal;
}

/** A job's attempts, for an assertion's message. */
export const jobLog = (jobs: FleetJob[]) =>
  jobs
    .flatMap((j) => [j, ...(j.children ?? [])])
    .map((j) => `${j.jobName}${j.index !== undefined ? `[${j.index}]` : ''} ${j.status} ${j.statusReason ?? ''}\n${j.attempts.map((a, i) => `  attempt ${i + 1}: exit ${a.exitCode} ${a.statusReason}\n${a.output.slice(-1500)}`).join('\n')}`)
    .join('\n');
