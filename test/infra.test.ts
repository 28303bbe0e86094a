import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parse } from '@cdktf/hcl2json';
import { planModule, README_VARIABLES, terraformIn, terraformMissing, TF_DIR } from './helpers/terraform.js';

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
  assert.ok(runs.includes('step_2_repository_first') && runs.includes('step_4_cpu_fleet') && runs.includes('gpu_fleet'), tested.stdout);
});

test('a real plan of the module (the README variables, an empty account): the schedule input and the job containers are known before apply', async (t) => {
  const why = await terraformMissing();
  if (why) return t.skip(why);
  const plan = await planModule(README_VARIABLES);
  const schedule = plan.resources.get('aws_scheduler_schedule.nightly[0]')!;
  const target = (schedule.after.target as { input?: string }[])[0]!;
  assert.equal(typeof target.input, 'string', 'the schedule input is known at plan');
  const input = JSON.parse(target.input!) as { JobQueue: string; JobDefinition: string; ContainerOverrides: { Command: string[] } };
  assert.deepEqual([input.JobQueue, input.JobDefinition, input.ContainerOverrides.Command[0]], ['imgtag-planning', 'imgtag-nightly', 'nightly']);
  const containers = plan.outputs.job_containers as Record<string, { command: string[] }>;
  assert.deepEqual(Object.keys(containers).sort(), ['compact', 'nightly', 'tag']);
  assert.equal(containers.tag!.command[0], 'run');
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
  const users = [...docker.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
  assert.ok(users.length >= 2 && users.every((u) => u !== 'root' && u !== '0'));
  const entrypoints = [...docker.matchAll(/^ENTRYPOINT (.+)$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
  assert.equal(entrypoints.length, 2);
  for (const e of entrypoints) assert.deepEqual(e.slice(0, 3), ['/usr/bin/tini', '--', 'node']);
});
