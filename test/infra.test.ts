import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { type ModulePlan, planModule, README_VARIABLES, terraformIn, terraformMissing, TF_DIR } from './helpers/terraform.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

test('Terraform: fmt, init from the local mirror with the committed lock file, validate, and terraform test', async (t) => {
  const why = await terraformMissing();
  if (why) return t.skip(why);
  const tf = terraformIn(TF_DIR);
  await tf(['fmt', '-check', '-recursive', '-diff']);
  // The committed lock file must already name the provider the mirror holds: init may not change it.
  await tf(['init', '-backend=false', '-input=false', '-lockfile=readonly', '-no-color']);
  const valid = await tf(['validate', '-json', '-no-color']);
  assert.equal((JSON.parse(valid.stdout) as { valid: boolean }).valid, true, valid.stdout);
  // tests/*.tftest.hcl: the README's deployment and every rendered policy, job definition and schedule.
  const tested = await tf(['test', '-no-color']).catch((e: { stdout?: string; stderr?: string }) => {
    assert.fail(`terraform test failed:\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  });
  assert.match(tested.stdout, /Success! \d+ passed, 0 failed\./);
  const runs = [...tested.stdout.matchAll(/run "([^"]+)"\.\.\. pass/g)].map((m) => m[1]);
  for (const run of ['step_2_repository_first', 'step_4_cpu_fleet', 'step_4_operations', 'endpoint_only_subnets', 'gpu_fleet', 'no_stream_by_default', 'stream', 'stream_from_eventbridge']) assert.ok(runs.includes(run), `${run}:\n${tested.stdout}`);
});

/** One real plan of the whole module, shared by the tests that read it (a plan takes seconds). */
let fullPlan: Promise<ModulePlan> | undefined;
const planned = () => (fullPlan ??= planModule(README_VARIABLES));

/** A planned resource's values, or a failure naming the address. */
function after(plan: ModulePlan, address: string): Record<string, unknown> {
  const r = plan.resources.get(address);
  assert.ok(r, `${address} is not in the plan: ${[...plan.resources.keys()].join(', ')}`);
  return r.after;
}

test('a real plan of the module (the README variables, an empty account): the schedule input and the job containers are known before apply', async (t) => {
  const why = await terraformMissing();
  if (why) return t.skip(why);
  const plan = await planned();
  const schedule = plan.resources.get('aws_scheduler_schedule.nightly[0]')!;
  const target = (schedule.after.target as { input?: string }[])[0]!;
  assert.equal(typeof target.input, 'string', 'the schedule input is known at plan');
  const input = JSON.parse(target.input!) as { JobQueue: string; JobDefinition: string; ContainerOverrides: { Command: string[] } };
  assert.deepEqual([input.JobQueue, input.JobDefinition, input.ContainerOverrides.Command[0]], ['imgtag-planning', 'imgtag-nightly', 'nightly']);
  const containers = plan.outputs.job_containers as Record<string, { command: string[] }>;
  assert.deepEqual(Object.keys(containers).sort(), ['compact', 'nightly', 'tag']);
  assert.equal(containers.tag!.command[0], 'run');
  // Running the nightly by hand (README step 8) submits what the schedule submits.
  const byHand = JSON.parse(plan.outputs.nightly_submit_job as string) as { jobName: string; jobQueue: string; jobDefinition: string; containerOverrides: { command: string[] } };
  assert.deepEqual([byHand.jobName, byHand.jobQueue, byHand.jobDefinition, byHand.containerOverrides.command], [(JSON.parse(target.input!) as { JobName: string }).JobName, input.JobQueue, input.JobDefinition, input.ContainerOverrides.Command]);
});

test('a real plan of the module: IMDSv2 with hop limit 1, the nightly retries exit 3, an S3 gateway endpoint, a destroyable workgroup, operators who can stop a job', async (t) => {
  const why = await terraformMissing();
  if (why) return t.skip(why);
  const plan = await planned();
  for (const k of ['tag', 'planning']) {
    assert.deepEqual(after(plan, `aws_launch_template.fleet["${k}"]`).metadata_options, [{ http_endpoint: 'enabled', http_tokens: 'required', http_put_response_hop_limit: 1 }], `${k} instances: IMDSv2 only, one hop`);
  }
  const retry = (after(plan, 'aws_batch_job_definition.job["nightly"]').retry_strategy as { evaluate_on_exit: { action: string; on_exit_code: string | null }[] }[])[0]!;
  assert.ok(retry.evaluate_on_exit.some((r) => r.on_exit_code === '3' && r.action.toUpperCase() === 'RETRY'), JSON.stringify(retry));
  const s3 = [...plan.resources.values()].filter((r) => r.type === 'aws_vpc_endpoint' && r.after.vpc_endpoint_type === 'Gateway');
  assert.deepEqual(
    s3.map((r) => [r.after.service_name, r.after.vpc_id, r.after.route_table_ids]),
    [['com.amazonaws.us-east-1.s3', README_VARIABLES.vpc_id, README_VARIABLES.route_table_ids]],
    'one S3 gateway endpoint on the subnets\' route tables',
  );
  assert.equal(after(plan, 'aws_athena_workgroup.imgtag').force_destroy, true, 'the workgroup is destroyable');
  // The stream (issue 35) is off unless asked for: the README's deployment plans none of it.
  assert.deepEqual([...plan.resources.keys()].filter((a) => /\.stream(\[|$)|stream_dead_letters/.test(a)), [], 'no stream resource by default');
  assert.equal(plan.outputs.stream_queue_url ?? null, null);
  const operator = after(plan, 'aws_iam_policy.operator').policy;
  assert.equal(typeof operator, 'string', 'the operator policy is known at plan');
  const statements = (JSON.parse(operator as string) as { Statement: { Effect: string; Action: string[]; Resource: string[] }[] }).Statement;
  for (const action of ['batch:TerminateJob', 'batch:CancelJob']) {
    assert.ok(
      statements.some((s) => s.Effect === 'Allow' && s.Action.includes(action) && s.Resource.includes('arn:aws:batch:us-east-1:123456789012:job/*')),
      `operators may ${action}`,
    );
  }
});

test("a real plan of README step 2 (the repository alone, -target): it knows the image target step 3's docker build takes", async (t) => {
  const why = await terraformMissing();
  if (why) return t.skip(why);
  const { image_digest: _, ...step1 } = README_VARIABLES;
  const plan = await planModule(step1, ['aws_ecr_repository.imgtag', 'aws_ecr_lifecycle_policy.imgtag']);
  assert.deepEqual([...plan.resources.keys()].sort(), ['aws_ecr_lifecycle_policy.imgtag', 'aws_ecr_repository.imgtag']);
  assert.equal(plan.outputs.image_target, 'cpu');
});

test('Terraform: every declared variable is used and described', async () => {
  let text = '';
  const declared = new Map<string, Record<string, unknown>>();
  for (const f of fs.readdirSync(TF_DIR).filter((f) => f.endsWith('.tf'))) {
    const src = fs.readFileSync(path.join(TF_DIR, f), 'utf8');
    text += src;
    const parsed = (await parse(f, src)) as { variable?: Record<string, Record<string, unknown>[]> };
    for (const [name, [v]] of Object.entries(parsed.variable ?? {})) declared.set(name, v!);
  }
  const used = new Set([...text.matchAll(/\bvar\.([a-z_][a-z0-9_]*)/g)].map((m) => m[1]!));
  assert.deepEqual([...declared.keys()].filter((v) => !used.has(v)), [], 'declared but never used');
  for (const [name, v] of declared) assert.ok(v.description, `variable ${name} needs a description`);
});

test('the Dockerfile: multi-stage, non-root, GPU providers installed by a flag onnxruntime-node reads and checked with ldd, tini as PID 1', () => {
  const docker = fs.readFileSync(path.join(ROOT, 'infra/docker/Dockerfile'), 'utf8');
  assert.match(docker, /AS cpu/);
  assert.match(docker, /AS gpu/);
  assert.match(docker, /FROM nvidia\/cuda:12[^ ]*cudnn-runtime/);
  // onnxruntime-node 1.30's install.js takes --onnxruntime-node-install (forced) or =skip; "cuda12" falls through to its default.
  assert.match(docker, /node script\/install\.js --onnxruntime-node-install \\/);
  assert.doesNotMatch(docker, /^(RUN|ENV|ARG).*ONNXRUNTIME_NODE_INSTALL=cuda12/m);
  assert.match(docker, /ldd "\$so" \| grep 'not found'/);
  assert.match(docker, /for so in libonnxruntime_providers_cuda\.so libonnxruntime_providers_tensorrt\.so/);
  // The launch templates refuse the metadata service to this uid (Batch's EC2 jobs use host networking).
  const uids = [...docker.matchAll(/useradd --create-home --uid (\d+)/g)].map((m) => m[1]);
  const batchTf = fs.readFileSync(path.join(TF_DIR, 'batch.tf'), 'utf8');
  assert.deepEqual([...new Set(uids)], [/image_uid = (\d+)/.exec(batchTf)![1]], 'the image\'s user is the one the user data keeps off the metadata service');
  const users = [...docker.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
  assert.ok(users.length >= 2 && users.every((u) => u !== 'root' && u !== '0'));
  const entrypoints = [...docker.matchAll(/^ENTRYPOINT (.+)$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
  assert.equal(entrypoints.length, 2);
  for (const e of entrypoints) assert.deepEqual(e.slice(0, 3), ['/usr/bin/tini', '--', 'node']);
  // TensorRT pinned, the same version for each package, built for the image's CUDA.
  const cuda = /FROM nvidia\/cuda:(\d+\.\d+)/.exec(docker)![1]!;
  const trt = /^ARG TENSORRT_VERSION=(\S+)$/m.exec(docker)?.[1];
  assert.match(trt ?? '', new RegExp(`^10\\.\\d+\\.\\d+\\.\\d+-1\\+cuda${cuda.replace('.', '\\.')}$`), `TensorRT built for CUDA ${cuda}`);
  for (const pkg of ['libnvinfer10', 'libnvinfer-plugin10', 'libnvonnxparsers10']) assert.ok(docker.includes(`"${pkg}=\${TENSORRT_VERSION}"`), `${pkg} pinned`);
});

test('the Dockerfile bakes every built-in model into both runtime images', () => {
  const docker = fs.readFileSync(path.join(ROOT, 'infra/docker/Dockerfile'), 'utf8');
  // A built-in model is models/<name>.json, named <name> (what --model and fetch-model take).
  const specs = fs.readdirSync(path.join(ROOT, 'models')).filter((f) => f.endsWith('.json'));
  assert.ok(specs.length >= 2);
  for (const f of specs) assert.equal((JSON.parse(fs.readFileSync(path.join(ROOT, 'models', f), 'utf8')) as { name: string }).name, f.slice(0, -'.json'.length));
  // Each runtime stage fetches them all: the names of models/*.json (the build stage copied models/).
  const names = 'set -- && for spec in models/*.json; do set -- "$@" "$(basename "$spec" .json)"; done';
  const stages = docker.split(/^FROM /m).filter((s) => / AS (cpu|gpu)\n/.test(s));
  assert.equal(stages.length, 2);
  for (const stage of stages) assert.ok(stage.includes(`RUN ${names} \\\n && node dist/scripts/fetch-model.js \${MODEL_MIRROR:+--mirror "$MODEL_MIRROR"} "$@"\n`), stage.split('\n')[0]);
  const fetched = execFileSync('sh', ['-c', `${names} && printf '%s\\n' "$@"`], { cwd: ROOT, encoding: 'utf8' });
  assert.deepEqual(fetched.trim().split('\n').sort(), specs.map((f) => f.slice(0, -'.json'.length)).sort());
  assert.match(docker, /^COPY models \.\/models$/m);
});
