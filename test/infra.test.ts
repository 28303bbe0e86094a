import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { parse } from '@cdktf/hcl2json';

// No helpers/env.js: these tests need neither the models nor the photos.
const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const TF_DIR = path.join(ROOT, 'infra/terraform');
const run = promisify(execFile);

/** Where a filesystem mirror of the hashicorp/aws provider may be (IMGTAG_TF_MIRROR first). */
const MIRROR_CANDIDATES = [
  process.env.IMGTAG_TF_MIRROR,
  '/opt/tf-plugins',
  path.join(os.homedir(), '.terraform.d/plugins'),
  '/usr/local/share/terraform/plugins',
  '/usr/share/terraform/plugins',
].filter((d): d is string => d !== undefined && d !== '');

function findMirror(): string | undefined {
  return MIRROR_CANDIDATES.find((d) => fs.existsSync(path.join(d, 'registry.terraform.io/hashicorp/aws')));
}

async function terraformVersion(): Promise<string | undefined> {
  try {
    return (await run('terraform', ['version'], { env: { ...process.env, TF_CLI_CONFIG_FILE: os.devNull } })).stdout.split('\n')[0];
  } catch {
    return undefined;
  }
}

/**
 * Why the Terraform checks cannot run here, or undefined when they can. CI sets
 * IMGTAG_REQUIRE_TERRAFORM=1, so there a missing Terraform or mirror fails instead of skipping.
 */
async function missing(): Promise<string | undefined> {
  const why = !(await terraformVersion())
    ? 'terraform is not on the PATH'
    : !findMirror()
      ? `no hashicorp/aws filesystem mirror in ${MIRROR_CANDIDATES.join(', ')} (set IMGTAG_TF_MIRROR)`
      : undefined;
  if (why && process.env.IMGTAG_REQUIRE_TERRAFORM === '1') assert.fail(`IMGTAG_REQUIRE_TERRAFORM=1 but ${why}`);
  return why;
}

/** terraform with a CLI config that installs the AWS provider from the local mirror only, state in a temp folder. */
async function terraform(): Promise<(args: string[]) => Promise<{ stdout: string; stderr: string }>> {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-tf-'));
  const config = path.join(tmp, 'terraformrc');
  fs.writeFileSync(
    config,
    `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(findMirror())}\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n`,
  );
  const env = { ...process.env, TF_CLI_CONFIG_FILE: config, TF_DATA_DIR: path.join(tmp, 'data'), TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };
  return (args) => run('terraform', [...args], { cwd: TF_DIR, env, maxBuffer: 64 << 20 });
}

test('Terraform: fmt, init from the local mirror with the committed lock file, validate, and terraform test', async (t) => {
  const why = await missing();
  if (why) return t.skip(why);
  const tf = await terraform();
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
