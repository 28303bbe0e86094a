import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

// No helpers/env.js: Terraform needs neither the models nor the photos.
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
export const TF_DIR = path.join(ROOT, 'infra/terraform');
const exec = promisify(execFile);

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
    return (await exec('terraform', ['version'], { env: { ...process.env, TF_CLI_CONFIG_FILE: os.devNull } })).stdout.split('\n')[0];
  } catch {
    return undefined;
  }
}

/**
 * Why Terraform cannot run here, or undefined when it can. CI sets IMGTAG_REQUIRE_TERRAFORM=1, so
 * there a missing Terraform or mirror fails instead of skipping.
 */
export async function terraformMissing(): Promise<string | undefined> {
  const why = !(await terraformVersion())
    ? 'terraform is not on the PATH'
    : !findMirror()
      ? `no hashicorp/aws filesystem mirror in ${MIRROR_CANDIDATES.join(', ')} (set IMGTAG_TF_MIRROR)`
      : undefined;
  if (why && process.env.IMGTAG_REQUIRE_TERRAFORM === '1') assert.fail(`IMGTAG_REQUIRE_TERRAFORM=1 but ${why}`);
  return why;
}

export type Terraform = (args: string[], env?: NodeJS.ProcessEnv) => Promise<{ stdout: string; stderr: string }>;

/** terraform in `dir` with a CLI config that installs the AWS provider from the local mirror only, its data in a temp folder. */
export function terraformIn(dir: string): Terraform {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-tf-'));
  const config = path.join(tmp, 'terraformrc');
  fs.writeFileSync(
    config,
    `provider_installation {\n  filesystem_mirror {\n    path    = ${JSON.stringify(findMirror())}\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }\n  direct {\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }\n}\n`,
  );
  const base = { ...process.env, TF_CLI_CONFIG_FILE: config, TF_DATA_DIR: path.join(tmp, 'data'), TF_IN_AUTOMATION: '1', CHECKPOINT_DISABLE: '1' };
  return (args, env = {}) => exec('terraform', args, { cwd: dir, env: { ...base, ...env }, maxBuffer: 256 << 20 });
}

/** One resource's planned values (`after`), and which of them are unknown until apply. */
export interface PlannedResource {
  address: string;
  type: string;
  after: Record<string, unknown>;
  afterUnknown: Record<string, unknown>;
}

export interface ModulePlan {
  resources: Map<string, PlannedResource>;
  /** Output values known at plan (an unknown one is absent). */
  outputs: Record<string, unknown>;
  /** Outputs whose value is unknown until apply. */
  unknownOutputs: string[];
}

/**
 * AWS STS's GetCallerIdentity on loopback (the query protocol, as the AWS provider sends it): the
 * one call the provider makes to plan this module from an empty account.
 */
async function startLoopbackSts(): Promise<{ endpoint: string; close(): Promise<void> }> {
  const server = http.createServer((req, res) => {
    req.resume();
    req.on('end', () =>
      res
        .writeHead(200, { 'content-type': 'text/xml' })
        .end(
          '<GetCallerIdentityResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><GetCallerIdentityResult>' +
            '<Arn>arn:aws:iam::123456789012:user/rehearsal</Arn><UserId>AIDAREHEARSAL</UserId><Account>123456789012</Account>' +
            '</GetCallerIdentityResult><ResponseMetadata><RequestId>rehearsal</RequestId></ResponseMetadata></GetCallerIdentityResponse>',
        ),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { endpoint: `http://127.0.0.1:${(server.address() as { port: number }).port}`, close: () => new Promise<void>((r) => server.close(() => r())) };
}

/** Variables as a .tfvars.json file Terraform reads. */
function varFile(dir: string, vars: Record<string, unknown>): string {
  const file = path.join(dir, 'rehearsal.auto.tfvars.json');
  fs.writeFileSync(file, JSON.stringify(vars));
  return file;
}

/**
 * `terraform plan` of the module as an operator runs it from an empty account (the real AWS
 * provider from the local mirror, a loopback STS, no state), then `terraform show -json`: what
 * the module renders with these variables, and what is known before apply. `targets` plans as
 * `-target` does (README step 2).
 */
export async function planModule(vars: Record<string, unknown>, targets: string[] = []): Promise<ModulePlan> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'imgtag-module-'));
  for (const f of fs.readdirSync(TF_DIR).filter((f) => f.endsWith('.tf') || f === '.terraform.lock.hcl')) fs.copyFileSync(path.join(TF_DIR, f), path.join(dir, f));
  // The module keeps its state in S3 (backend.tf); a plan from an empty account needs none.
  fs.writeFileSync(path.join(dir, 'backend_override.tf'), 'terraform {\n  backend "local" {}\n}\n');
  const sts = await startLoopbackSts();
  try {
    const tf = terraformIn(dir);
    const env = {
      AWS_ACCESS_KEY_ID: 'AKIDREHEARSAL',
      AWS_SECRET_ACCESS_KEY: 'rehearsal',
      AWS_ENDPOINT_URL_STS: sts.endpoint,
      AWS_EC2_METADATA_DISABLED: 'true',
      AWS_PROFILE: '',
      AWS_CONFIG_FILE: os.devNull,
      AWS_SHARED_CREDENTIALS_FILE: os.devNull,
    };
    await tf(['init', '-input=false', '-lockfile=readonly', '-no-color'], env);
    varFile(dir, vars);
    const out = path.join(dir, 'plan.bin');
    await tf(['plan', '-input=false', '-no-color', '-lock=false', `-out=${out}`, ...targets.map((t) => `-target=${t}`)], env);
    const json = JSON.parse((await tf(['show', '-json', '-no-color', out], env)).stdout) as {
      resource_changes: { address: string; type: string; change: { after: Record<string, unknown>; after_unknown: Record<string, unknown> } }[];
      output_changes?: Record<string, { after: unknown; after_unknown: boolean }>;
    };
    const resources = new Map(json.resource_changes.map((r) => [r.address, { address: r.address, type: r.type, after: r.change.after ?? {}, afterUnknown: r.change.after_unknown ?? {} }]));
    const outputs: Record<string, unknown> = {};
    const unknownOutputs: string[] = [];
    for (const [name, o] of Object.entries(json.output_changes ?? {})) {
      if (o.after_unknown) unknownOutputs.push(name);
      else outputs[name] = o.after;
    }
    return { resources, outputs, unknownOutputs };
  } finally {
    await sts.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** The README's example variables (step 1), with an image digest (step 4). */
export const README_VARIABLES: Record<string, unknown> = {
  region: 'us-east-1',
  input_bucket: 'my-photos',
  results_bucket: 'my-imgtag',
  subnet_ids: ['subnet-0123456789abcdef0'],
  security_group_ids: ['sg-0123456789abcdef0'],
  vpc_id: 'vpc-0123456789abcdef0',
  route_table_ids: ['rtb-0123456789abcdef0'],
  subnet_egress: 'nat',
  nightly_manifest: 's3://my-inventory/my-photos/all/',
  tagging_fleet: 'cpu',
  max_vcpus: 400,
  alarm_email: 'oncall@example.com',
  image_digest: 'sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef',
};
