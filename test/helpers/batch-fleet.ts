import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { CLI } from './env.js';

/**
 * AWS Batch on loopback that RUNS its jobs: SubmitJob, DescribeJobs, ListJobs, TerminateJob and
 * CancelJob over real HTTP (the SDK's signed REST-JSON calls), each job and array child a process
 * of the built CLI with the variables Batch sets, under Batch's documented rules:
 * - the command is the job definition's, or the submission's override, with `Ref::name` tokens
 *   replaced by the parameters (the definition's defaults, then the submission's);
 * - an attempt that does not exit 0 is matched against `evaluateOnExit` in order (every condition
 *   given must match; a pattern may end in `*`); the first match decides RETRY or EXIT, no match
 *   retries; `attempts` bounds them all. A timed-out or terminated attempt is not retried;
 * - a job waits for every job it depends on; an array job waits for all its children and fails
 *   when one of them fails, and a job that depends on a failed job fails ("Dependent Job failed");
 * - a "host" can be terminated: the attempt's process is killed (SIGKILL) and its status reason is
 *   `Host EC2 (instance i-…) terminated.`, as a spot reclaim reads.
 */

export interface RetryRule {
  onStatusReason?: string;
  onReason?: string;
  onExitCode?: string;
  action: string;
}

/** What a registered job definition gives a job (from the module's plan). */
export interface FleetJobDefinition {
  name: string;
  parameters: Record<string, string>;
  command: string[];
  environment: { name: string; value: string }[];
  attempts: number;
  evaluateOnExit: RetryRule[];
  timeoutSeconds?: number;
}

export interface Attempt {
  exitCode?: number;
  reason?: string;
  statusReason: string;
  output: string;
}

type Status = 'SUBMITTED' | 'PENDING' | 'RUNNABLE' | 'STARTING' | 'RUNNING' | 'SUCCEEDED' | 'FAILED';
const TERMINAL: Status[] = ['SUCCEEDED', 'FAILED'];

export interface FleetJob {
  jobId: string;
  jobName: string;
  jobQueue: string;
  definition: FleetJobDefinition;
  status: Status;
  statusReason?: string;
  parameters: Record<string, string>;
  command: string[];
  environment: Record<string, string>;
  dependsOn: string[];
  /** An array job's children, or a child's index and parent. */
  children?: FleetJob[];
  index?: number;
  parent?: FleetJob;
  attempts: Attempt[];
  createdAt: number;
  /** Set while an attempt runs. */
  process?: ChildProcess;
  /** Why the running attempt is being stopped, when it is. */
  stopping?: { statusReason: string; retry: boolean };
}

/** A state change as EventBridge delivers Batch's (detail-type "Batch Job State Change"). */
export interface BatchEvent {
  source: 'aws.batch';
  'detail-type': 'Batch Job State Change';
  detail: { jobId: string; jobName: string; jobQueue: string; status: Status; statusReason?: string; arrayProperties?: { index: number } | { size: number } };
}

export interface BatchFleetOptions {
  definitions: FleetJobDefinition[];
  /** Queue names the module creates; a submission may name a queue by name or ARN. */
  queues: string[];
  /** What every container gets besides the definition's environment and Batch's variables: endpoints, credentials. Nothing else of this process's environment reaches it. */
  env: NodeJS.ProcessEnv;
  /** Attempts run at once (the fleet's instances): 2 on a 2-core machine. */
  slots?: number;
  /** Before a retried attempt starts again (Batch takes seconds to place it). */
  retryDelayMs?: number;
  /** Called when an attempt starts: a test terminates hosts from here. */
  onAttempt?: (job: FleetJob, attempt: number, fleet: BatchFleet) => void;
  /** Called with what an attempt prints (stdout and stderr), as it prints it. */
  onOutput?: (job: FleetJob, text: string, fleet: BatchFleet) => void;
}

export interface BatchFleet {
  endpoint: string;
  /** RegisterJobDefinition: a new revision of each, which a submission by name then takes. */
  register(definitions: FleetJobDefinition[]): void;
  jobs: Map<string, FleetJob>;
  events: BatchEvent[];
  /** Kill the host an attempt runs on: SIGKILL, status reason `Host EC2 (instance i-…) terminated.` */
  terminateHost(job: FleetJob): void;
  /** Resolves when every job submitted so far (and any they submit) has ended. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

const ACCOUNT = '123456789012';
const REGION = 'us-east-1';
const arn = (kind: string, name: string) => `arn:aws:batch:${REGION}:${ACCOUNT}:${kind}/${name}`;
/** A queue or job definition named by name, name:revision or ARN. */
const bareName = (s: string) => s.replace(/^arn:[^/]+\//, '').replace(/:\d+$/, '');

/** Batch's pattern rule: a value matches exactly, or by its start when the pattern ends in `*`. */
const globMatch = (pattern: string | undefined, value: string | undefined) =>
  pattern === undefined || (pattern.endsWith('*') ? (value ?? '').startsWith(pattern.slice(0, -1)) : pattern === (value ?? ''));

/** The first rule that matches an attempt's end, or undefined (Batch then retries). */
export function matchRetryRule(rules: RetryRule[], a: Pick<Attempt, 'exitCode' | 'reason' | 'statusReason'>): RetryRule | undefined {
  return rules.find((r) => globMatch(r.onExitCode, a.exitCode === undefined ? undefined : String(a.exitCode)) && globMatch(r.onReason, a.reason) && globMatch(r.onStatusReason, a.statusReason));
}

const killGroup = (pid: number) => {
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone.
  }
};

const substitute = (command: string[], parameters: Record<string, string>) => command.map((t) => (t.startsWith('Ref::') && t.slice(5) in parameters ? parameters[t.slice(5)]! : t));

class ApiError extends Error {
  constructor(readonly status: number, readonly type: string, message: string) {
    super(message);
  }
}

export async function startBatchFleet(opts: BatchFleetOptions): Promise<BatchFleet> {
  const jobs = new Map<string, FleetJob>();
  const events: BatchEvent[] = [];
  const slots = opts.slots ?? 2;
  const retryDelayMs = opts.retryDelayMs ?? 500;
  const definitions = new Map(opts.definitions.map((d) => [d.name, d]));
  let waiters: (() => void)[] = [];
  let counter = 0;
  let hosts = 0;

  const setStatus = (job: FleetJob, status: Status, statusReason?: string) => {
    job.status = status;
    if (statusReason !== undefined) job.statusReason = statusReason;
    events.push({
      source: 'aws.batch',
      'detail-type': 'Batch Job State Change',
      detail: {
        jobId: job.jobId,
        jobName: job.jobName,
        jobQueue: arn('job-queue', job.jobQueue),
        status,
        ...(job.statusReason ? { statusReason: job.statusReason } : {}),
        ...(job.index !== undefined ? { arrayProperties: { index: job.index } } : job.children ? { arrayProperties: { size: job.children.length } } : {}),
      },
    });
    if (job.parent) settleParent(job.parent);
  };

  /** An array job ends when all its children have: failed if any failed. */
  const settleParent = (parent: FleetJob) => {
    const kids = parent.children!;
    if (TERMINAL.includes(parent.status)) return;
    if (!kids.every((k) => TERMINAL.includes(k.status))) return;
    const failed = kids.filter((k) => k.status === 'FAILED').length;
    if (failed > 0) setStatus(parent, 'FAILED', `Array Child Job failed (${failed} of ${kids.length})`);
    else setStatus(parent, 'SUCCEEDED', 'Array Job succeeded');
  };

  const running = () => [...jobs.values()].flatMap((j) => [j, ...(j.children ?? [])]).filter((j) => j.process !== undefined).length;
  const leaves = () => [...jobs.values()].flatMap((j) => (j.children ? j.children : [j]));

  /** Move pending jobs whose dependencies ended; start runnable ones while slots are free. */
  const pump = () => {
    for (const job of leaves()) {
      if (job.status !== 'PENDING') continue;
      const deps = job.dependsOn.map((id) => jobs.get(id)!);
      if (deps.some((d) => d.status === 'FAILED')) setStatus(job, 'FAILED', 'Dependent Job failed');
      else if (deps.every((d) => d.status === 'SUCCEEDED')) setStatus(job, 'RUNNABLE');
    }
    for (const job of leaves()) {
      if (running() >= slots) break;
      if (job.status === 'RUNNABLE' && !job.process) startAttempt(job);
    }
    if (leaves().every((j) => TERMINAL.includes(j.status))) {
      const w = waiters;
      waiters = [];
      w.forEach((r) => r());
    }
  };

  const startAttempt = (job: FleetJob) => {
    const attempt = job.attempts.length + 1;
    setStatus(job, 'STARTING');
    const env: NodeJS.ProcessEnv = {
      ...opts.env,
      ...job.environment,
      AWS_BATCH_JOB_ID: job.jobId,
      AWS_BATCH_JOB_ATTEMPT: String(attempt),
      AWS_BATCH_JQ_NAME: job.jobQueue,
    };
    if (job.index !== undefined) env.AWS_BATCH_JOB_ARRAY_INDEX = String(job.index);
    // Its own process group: a lost host takes the worker processes with it, as a container's do.
    const child = spawn(process.execPath, [CLI, ...job.command], { env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    job.process = child;
    let output = '';
    const keep = (d: Buffer) => {
      output = (output + d.toString()).slice(-8000);
      opts.onOutput?.(job, d.toString(), fleet);
    };
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    const timer = job.definition.timeoutSeconds
      ? setTimeout(() => stop(job, { statusReason: 'Job attempt duration exceeded timeout', retry: false }, 'SIGTERM'), job.definition.timeoutSeconds * 1000)
      : undefined;
    setStatus(job, 'RUNNING');
    child.on('close', (code) => {
      clearTimeout(timer);
      job.process = undefined;
      const stopped = job.stopping;
      job.stopping = undefined;
      const a: Attempt = stopped?.statusReason.startsWith('Host EC2')
        ? { statusReason: stopped.statusReason, output }
        : { exitCode: code ?? 137, statusReason: stopped?.statusReason ?? 'Essential container in task exited', output };
      job.attempts.push(a);
      end(job, a, stopped?.retry ?? true);
      pump();
    });
    opts.onAttempt?.(job, attempt, fleet);
  };

  const end = (job: FleetJob, a: Attempt, retryable: boolean) => {
    if (a.exitCode === 0) return setStatus(job, 'SUCCEEDED', a.statusReason);
    const rule = matchRetryRule(job.definition.evaluateOnExit, a);
    const retry = retryable && job.attempts.length < job.definition.attempts && (rule === undefined || rule.action.toUpperCase() === 'RETRY');
    if (!retry) return setStatus(job, 'FAILED', a.statusReason);
    // Back in the queue, placed again after a while.
    setStatus(job, 'SUBMITTED', a.statusReason);
    setTimeout(() => {
      if (job.status === 'SUBMITTED') setStatus(job, 'RUNNABLE');
      pump();
    }, retryDelayMs);
  };

  const stop = (job: FleetJob, why: NonNullable<FleetJob['stopping']>, signal: NodeJS.Signals) => {
    if (!job.process) return;
    job.stopping = why;
    const pid = job.process.pid!;
    // As ECS stops a container: SIGTERM to its main process, then SIGKILL to everything in it 30 s later.
    if (signal === 'SIGTERM') {
      job.process.kill('SIGTERM');
      setTimeout(() => killGroup(pid), 30_000).unref();
    } else killGroup(pid);
  };

  const submit = (input: Record<string, unknown>): FleetJob => {
    const queue = bareName(String(input.jobQueue ?? ''));
    if (!opts.queues.includes(queue)) throw new ApiError(400, 'ClientException', `Job queue ${String(input.jobQueue)} does not exist`);
    const definition = definitions.get(bareName(String(input.jobDefinition ?? '')));
    if (!definition) throw new ApiError(400, 'ClientException', `Job definition ${String(input.jobDefinition)} does not exist`);
    const dependsOn = ((input.dependsOn as { jobId: string }[] | undefined) ?? []).map((d) => d.jobId);
    for (const id of dependsOn) if (!jobs.has(id)) throw new ApiError(400, 'ClientException', `dependsOn job ${id} does not exist`);
    const parameters = { ...definition.parameters, ...((input.parameters as Record<string, string> | undefined) ?? {}) };
    const overrides = (input.containerOverrides ?? {}) as { command?: string[]; environment?: { name: string; value: string }[] };
    const environment = Object.fromEntries([...definition.environment, ...(overrides.environment ?? [])].map((e) => [e.name, e.value]));
    const size = (input.arrayProperties as { size?: number } | undefined)?.size;
    if (size !== undefined && (size < 2 || size > 10_000)) throw new ApiError(400, 'ClientException', `Array size ${size} must be between 2 and 10000`);
    const base = {
      jobName: String(input.jobName),
      jobQueue: queue,
      definition,
      parameters,
      command: substitute(overrides.command ?? definition.command, parameters),
      environment,
      dependsOn,
      attempts: [],
      createdAt: Date.now(),
    };
    const jobId = `job-${++counter}-${Math.random().toString(16).slice(2, 10)}`;
    const job: FleetJob = { ...base, jobId, status: 'SUBMITTED' };
    if (size !== undefined) {
      job.children = Array.from({ length: size }, (_, index) => ({ ...base, attempts: [], jobId: `${jobId}:${index}`, index, parent: job, status: 'SUBMITTED' as Status }));
    }
    jobs.set(jobId, job);
    for (const j of job.children ?? [job]) setStatus(j, 'PENDING');
    if (job.children) setStatus(job, 'PENDING');
    return job;
  };

  const find = (id: string): FleetJob | undefined => {
    const [parent, index] = id.split(':');
    const job = jobs.get(parent!);
    return index === undefined ? job : job?.children?.[Number(index)];
  };

  const describe = (job: FleetJob) => ({
    jobArn: arn('job', job.jobId),
    jobId: job.jobId,
    jobName: job.jobName,
    jobQueue: arn('job-queue', job.jobQueue),
    jobDefinition: arn('job-definition', `${job.definition.name}:1`),
    status: job.status,
    ...(job.statusReason ? { statusReason: job.statusReason } : {}),
    createdAt: job.createdAt,
    parameters: job.parameters,
    dependsOn: job.dependsOn.map((jobId) => ({ jobId })),
    attempts: job.attempts.map((a) => ({ container: { ...(a.exitCode !== undefined ? { exitCode: a.exitCode } : {}), ...(a.reason ? { reason: a.reason } : {}) }, statusReason: a.statusReason })),
    container: { command: job.command, ...(job.attempts.at(-1)?.exitCode !== undefined ? { exitCode: job.attempts.at(-1)!.exitCode } : {}) },
    ...(job.children
      ? { arrayProperties: { size: job.children.length, statusSummary: Object.fromEntries(['STARTING', 'FAILED', 'RUNNING', 'SUCCEEDED', 'RUNNABLE', 'SUBMITTED', 'PENDING'].map((s) => [s, job.children!.filter((c) => c.status === s).length])) } }
      : job.index !== undefined
        ? { arrayProperties: { index: job.index } }
        : {}),
  });

  const stopJob = (job: FleetJob, reason: string, running: boolean) => {
    for (const j of job.children ?? [job]) {
      if (TERMINAL.includes(j.status)) continue;
      if (j.process) {
        if (running) stop(j, { statusReason: reason, retry: false }, 'SIGTERM');
      } else setStatus(j, 'FAILED', reason);
    }
  };

  const actions: Record<string, (input: Record<string, unknown>) => unknown> = {
    '/v1/submitjob': (input) => {
      const job = submit(input);
      queueMicrotask(pump);
      return { jobArn: arn('job', job.jobId), jobName: job.jobName, jobId: job.jobId };
    },
    '/v1/describejobs': (input) => ({ jobs: ((input.jobs as string[]) ?? []).map(find).filter((j): j is FleetJob => j !== undefined).map(describe) }),
    '/v1/listjobs': (input) => {
      const status = (input.jobStatus as string | undefined) ?? 'RUNNING';
      const pool = input.arrayJobId ? (jobs.get(String(input.arrayJobId))?.children ?? []) : [...jobs.values()].filter((j) => j.jobQueue === bareName(String(input.jobQueue ?? '')));
      return { jobSummaryList: pool.filter((j) => j.status === status).map((j) => ({ jobArn: arn('job', j.jobId), jobId: j.jobId, jobName: j.jobName, status: j.status, createdAt: j.createdAt })) };
    },
    '/v1/terminatejob': (input) => {
      stopJob(mustFind(input), String(input.reason ?? 'Terminated'), true);
      pump();
      return {};
    },
    '/v1/canceljob': (input) => {
      stopJob(mustFind(input), String(input.reason ?? 'Cancelled'), false);
      pump();
      return {};
    },
  };
  const mustFind = (input: Record<string, unknown>) => {
    const job = find(String(input.jobId));
    if (!job) throw new ApiError(400, 'ClientException', `Job ${String(input.jobId)} does not exist`);
    return job;
  };

  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const action = req.method === 'POST' ? actions[req.url ?? ''] : undefined;
      try {
        if (!action) throw new ApiError(404, 'ClientException', `not here: ${req.method} ${req.url}`);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(action(JSON.parse(body || '{}') as Record<string, unknown>)));
      } catch (e) {
        const err = e instanceof ApiError ? e : new ApiError(500, 'ServerException', String(e));
        res.writeHead(err.status, { 'content-type': 'application/json', 'x-amzn-errortype': err.type }).end(JSON.stringify({ __type: err.type, message: err.message }));
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));

  const fleet: BatchFleet = {
    endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`,
    register: (defs) => defs.forEach((d) => definitions.set(d.name, d)),
    jobs,
    events,
    terminateHost: (job) => stop(job, { statusReason: `Host EC2 (instance i-0${(++hosts).toString(16).padStart(16, '0')}) terminated.`, retry: true }, 'SIGKILL'),
    settled: () =>
      new Promise<void>((resolve) => {
        waiters.push(resolve);
        pump();
      }),
    close: async () => {
      for (const j of leaves()) if (j.process) killGroup(j.process.pid!);
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  return fleet;
}
