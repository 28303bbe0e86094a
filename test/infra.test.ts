import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { parse } from '@cdktf/hcl2json';
import { ROOT } from './helpers/env.js';

const TF_DIR = path.join(ROOT, 'infra/terraform');
type Blocks = Record<string, Record<string, Record<string, unknown>[]>>;

/** Every .tf file parsed by an HCL parser, merged into one module. */
async function module(): Promise<{ json: Record<string, Blocks>; text: string; locals: Set<string> }> {
  const json: Record<string, Blocks> = {};
  const locals = new Set<string>();
  let text = '';
  for (const f of fs.readdirSync(TF_DIR).filter((f) => f.endsWith('.tf')).sort()) {
    const src = fs.readFileSync(path.join(TF_DIR, f), 'utf8');
    text += src;
    const parsed = (await parse(f, src)) as Record<string, Blocks>;
    for (const [kind, blocks] of Object.entries(parsed)) {
      if (kind === 'locals') for (const block of blocks as unknown as Record<string, unknown>[]) Object.keys(block).forEach((k) => locals.add(k));
      else {
        // Merged per type: two files may both declare, say, aws_iam_policy_document blocks.
        json[kind] ??= {};
        for (const [type, byName] of Object.entries(blocks)) json[kind]![type] = Array.isArray(byName) ? byName : { ...json[kind]![type], ...byName };
      }
    }
  }
  return { json, text, locals };
}

test('every .tf file parses; every variable used is declared and every declared one is used', async () => {
  const { json, text } = await module();
  const used = new Set([...text.matchAll(/\bvar\.([a-z_][a-z0-9_]*)/g)].map((m) => m[1]!));
  const declared = new Set(Object.keys(json.variable ?? {}));
  assert.deepEqual([...used].filter((v) => !declared.has(v)), [], 'used but not declared');
  assert.deepEqual([...declared].filter((v) => !used.has(v)), [], 'declared but never used');
  for (const [name, [v]] of Object.entries(json.variable as unknown as Record<string, Record<string, unknown>[]>)) {
    assert.ok(v!.description, `variable ${name} needs a description`);
  }
});

test('resources and data sources referenced exist; locals too', async () => {
  const { json, locals } = await module();
  const text = JSON.stringify(json);
  const resources = new Set(Object.entries(json.resource ?? {}).flatMap(([type, byName]) => Object.keys(byName).map((n) => `${type}.${n}`)));
  const data = new Set(Object.entries(json.data ?? {}).flatMap(([type, byName]) => Object.keys(byName).map((n) => `data.${type}.${n}`)));
  for (const m of text.matchAll(/\$\{[^}]*\}/g)) {
    for (const ref of m[0].matchAll(/(?<![.\w])(data\.)?(aws_[a-z0-9_]+)\.([a-z0-9_]+)/g)) {
      const id = `${ref[1] ?? ''}${ref[2]}.${ref[3]}`;
      assert.ok(ref[1] ? data.has(id) : resources.has(id), `${id} is referenced but not declared`);
    }
  }
  for (const m of text.matchAll(/\blocal\.([a-z_]+)/g)) assert.ok(locals.has(m[1]!), `local.${m[1]} is not declared`);
});

test('IAM: no s3:* or * actions, no * resources; jobs write only under the run prefix', async () => {
  const { json } = await module();
  const docs = json.data!.aws_iam_policy_document!;
  for (const [name, [doc]] of Object.entries(docs)) {
    for (const st of (doc as { statement: Record<string, string[]>[] }).statement) {
      for (const action of st.actions ?? []) assert.ok(action !== '*' && !/^[a-z0-9]+:\*$/.test(action), `${name}: action ${action}`);
      for (const res of st.resources ?? []) assert.ok(res !== '*' && res !== 'arn:aws:s3:::*', `${name}: resource ${res}`);
    }
  }
  const job = (docs.job![0] as { statement: { sid: string; actions: string[]; resources: string[] }[] }).statement;
  const writes = job.filter((s) => s.actions.includes('s3:PutObject'));
  assert.deepEqual(writes.map((s) => s.resources), [['${local.results_bucket_arn}/${var.run_prefix}*']]);
  assert.ok(job.every((s) => !s.actions.includes('s3:PutObject') || s.sid === 'ReadWriteRuns'));
  const attached = Object.values(json.resource!.aws_iam_role_policy_attachment!).map(([a]) => a!.policy_arn);
  assert.deepEqual(attached.sort(), [
    'arn:aws:iam::aws:policy/service-role/AmazonEC2ContainerServiceforEC2Role',
    'arn:aws:iam::aws:policy/service-role/AmazonECSTaskExecutionRolePolicy',
  ]);
});

test('Batch: GPU spot with a capacity-aware allocation strategy, array-ready job definition retried on spot reclaim, nightly schedule', async () => {
  const { json, text } = await module();
  const ce = json.resource!.aws_batch_compute_environment!.spot![0] as { for_each: string; compute_resources: Record<string, unknown>[] };
  assert.equal(ce.compute_resources[0]!.type, 'SPOT');
  assert.equal(ce.compute_resources[0]!.allocation_strategy, 'SPOT_PRICE_CAPACITY_OPTIMIZED');
  assert.equal(ce.compute_resources[0]!.max_vcpus, '${each.value.max_vcpus}');
  assert.match(text, /gpu_spot = \{ max_vcpus = var\.max_vcpus, instance_types = var\.instance_types, image_type = "ECS_AL2023_NVIDIA" \}/);
  const jd = json.resource!.aws_batch_job_definition!.imgtag![0] as { retry_strategy: { evaluate_on_exit: Record<string, string>[] }[] };
  const rules = jd.retry_strategy[0]!.evaluate_on_exit;
  assert.deepEqual(rules[0], { on_status_reason: 'Host EC2*', action: 'RETRY' });
  assert.deepEqual(rules.at(-1), { on_reason: '*', action: 'EXIT' });
  assert.match(text, /"--shard-from-env", "--shards-per-task", "Ref::shards_per_task"/);
  const schedule = json.resource!.aws_scheduler_schedule!.nightly![0] as { target: Record<string, string>[] };
  assert.equal(schedule.target[0]!.arn, 'arn:aws:scheduler:::aws-sdk:batch:submitJob');
  // The nightly's planning step is a small CPU job; a large delta goes to the GPU queue, compaction to the CPU one.
  assert.match(text, /JobQueue\s+= aws_batch_job_queue\.planning\.arn/);
  assert.match(text, /JobDefinition = aws_batch_job_definition\.nightly\.arn/);
  assert.match(text, /"--fleet-threshold", tostring\(var\.nightly_fleet_threshold\),\s+"--job-queue", aws_batch_job_queue\.imgtag\.arn/);
  assert.match(text, /"--compact-job-queue", aws_batch_job_queue\.planning\.arn/);
  assert.match(text, /cpu_spot = \{ max_vcpus = var\.planning_max_vcpus, instance_types = var\.planning_instance_types, image_type = "ECS_AL2023" \}/);
  const nightlyJob = String((json.resource!.aws_batch_job_definition!.nightly![0] as Record<string, unknown>).container_properties);
  assert.doesNotMatch(nightlyJob, /GPU/, 'the planning job asks for no GPU');
  assert.match(text, /prefix = "\$\{var\.run_prefix\}nightly\/runs\/"/, 'old nightly runs can expire');
  assert.match(text, /volume_size\s+= var\.planning_volume_gib/, 'the planning job has room to spill');
  for (const needed of ['aws_ecr_repository', 'aws_cloudwatch_log_group', 'aws_batch_job_queue', 'aws_s3_bucket']) {
    assert.ok(json.resource![needed], `${needed} is missing`);
  }
});

test('the Dockerfile is multi-stage, runs as a non-root user, installs the GPU providers the documented way', () => {
  const docker = fs.readFileSync(path.join(ROOT, 'infra/docker/Dockerfile'), 'utf8');
  assert.ok((docker.match(/^FROM /gm) ?? []).length >= 3);
  assert.match(docker, /AS cpu/);
  assert.match(docker, /AS gpu/);
  assert.match(docker, /FROM nvidia\/cuda:12[^ ]*cudnn-runtime/);
  assert.match(docker, /ONNXRUNTIME_NODE_INSTALL=cuda12/);
  const users = [...docker.matchAll(/^USER (\S+)/gm)].map((m) => m[1]);
  assert.ok(users.length >= 2 && users.every((u) => u !== 'root' && u !== '0'));
});

test('Athena: a Glue table over the dataset with run_date partition projection, the columns imgtag writes, and a query policy', async () => {
  const { json, text } = await module();
  const table = json.resource!.aws_glue_catalog_table!.tags![0] as { parameters: Record<string, string>; partition_keys: Record<string, string>[]; storage_descriptor: Record<string, unknown>[] };
  const p = table.parameters;
  assert.equal(p['projection.enabled'], 'true');
  assert.equal(p['projection.run_date.type'], 'date');
  assert.equal(p['projection.run_date.format'], 'yyyy-MM-dd');
  assert.equal(p['storage.location.template'], '${local.dataset}run_date=$${run_date}/');
  assert.deepEqual(table.partition_keys, [{ name: 'run_date', type: 'string' }]);
  const sd = table.storage_descriptor[0]!;
  assert.equal(sd.location, '${local.dataset}');
  assert.match(String(sd.input_format), /MapredParquetInputFormat/);
  // The fixed columns, in the order the writer puts them, and each model's by name.
  for (const col of ['key', 'bucket', 'etag', 'size', 'width', 'height', 'error', 'run_id', 'tagged_at']) assert.match(text, new RegExp(`\\{ name = "${col}", type = "`));
  assert.match(text, /name = "model_\$\{m\}", type = "string"/);
  assert.match(text, /name = "tags_\$\{m\}", type = local\.tag_struct/);
  assert.match(text, /tag_struct\s+= "array<struct<label:string,score:float>>"/);
  // The nightly writes where the table reads.
  assert.match(text, /"nightly", "--root", "\$\{local\.runs_root\}nightly", "--dataset", local\.dataset/);
  const query = (json.data!.aws_iam_policy_document!.query![0] as { statement: { sid: string; actions: string[]; resources: string[] }[] }).statement;
  assert.deepEqual(query.find((s) => s.sid === 'ReadDataset')!.actions, ['s3:GetObject']);
  assert.ok(query.every((s) => !s.actions.includes('s3:PutObject') || s.sid === 'WriteQueryResults'), 'queries write only their results');
  assert.ok(json.resource!.aws_athena_workgroup, 'a workgroup for the queries');
});

test('operators: an init process, read grants for the Inventory and an s3:// model, KMS, default_tags, the image pinned, an alarm on failed jobs', async () => {
  const { json, text } = await module();
  // Every job runs under an init process that forwards SIGTERM; the image has one too (docker run, Kubernetes).
  assert.match(text, /linuxParameters = \{ initProcessEnabled = true \}/);
  assert.match(text, /container_properties = jsonencode\(merge\(local\.container_common,/);
  const docker = fs.readFileSync(path.join(ROOT, 'infra/docker/Dockerfile'), 'utf8');
  const entrypoints = [...docker.matchAll(/^ENTRYPOINT (.+)$/gm)].map((m) => JSON.parse(m[1]!) as string[]);
  assert.equal(entrypoints.length, 2);
  for (const e of entrypoints) assert.deepEqual(e.slice(0, 3), ['/usr/bin/tini', '--', 'node']);

  type Dynamic = { for_each: string; content: { sid: string; actions: string[]; resources: string[] | string }[] };
  const job = json.data!.aws_iam_policy_document!.job![0] as { dynamic: { statement: Dynamic[] } };
  const dynamic = Object.fromEntries(job.dynamic.statement.map((s) => [s.content[0]!.sid, s]));
  assert.deepEqual(dynamic.ReadInventory!.content[0]!.actions, ['s3:GetObject']);
  // The schedule may name the Inventory configuration's folder: its dated reports are listed.
  assert.deepEqual(dynamic.ListInventory!.content[0]!.actions, ['s3:ListBucket']);
  assert.match(text, /inventory_folder = endswith\(var\.nightly_manifest, "\/"\) \? trimsuffix/);
  assert.deepEqual(dynamic.ReadModel!.content[0]!.resources, ['arn:aws:s3:::${dirname(trimprefix(var.model, "s3://"))}/*']);
  assert.match(dynamic.ReadModel!.for_each, /startswith\(var\.model, "s3:\/\/"\)/);
  assert.deepEqual(dynamic.UseKmsKeys!.content[0]!.actions, ['kms:Decrypt', 'kms:GenerateDataKey']);
  assert.match(text, /sse_algorithm\s+= var\.kms_key_arn == "" \? "AES256" : "aws:kms"/);

  const provider = (json.provider!.aws as unknown as Record<string, unknown>[])[0]!;
  assert.deepEqual(provider.default_tags, [{ tags: '${local.cost_tags}' }]);
  assert.match(text, /cost_tags = merge\(\{ Project = "imgtag", "imgtag:fleet" = var\.name \}, var\.tags\)/);
  assert.match(text, /tags = local\.cost_tags/, 'the spot instances Batch launches are tagged too');
  for (const [, [jd]] of Object.entries(json.resource!.aws_batch_job_definition!)) assert.equal((jd as Record<string, unknown>).propagate_tags, true);

  assert.equal((json.resource!.aws_ecr_repository!.imgtag![0] as Record<string, unknown>).image_tag_mutability, 'IMMUTABLE');
  assert.match(text, /var\.image_digest != "" \? "\$\{aws_ecr_repository\.imgtag\.repository_url\}@\$\{var\.image_digest\}"/);
  assert.doesNotMatch(text, /:latest/);

  const rule = json.resource!.aws_cloudwatch_event_rule!.failed_jobs![0] as { event_pattern: string };
  assert.match(rule.event_pattern, /status\s*=\s*\["FAILED"\]/);
  assert.match(rule.event_pattern, /aws_batch_job_queue\.imgtag\.arn, aws_batch_job_queue\.planning\.arn/);
  assert.equal((json.resource!.aws_cloudwatch_event_target!.failed_jobs![0] as Record<string, string>).arn, '${aws_sns_topic.alarm.arn}');
  const readme = fs.readFileSync(path.join(TF_DIR, 'README.md'), 'utf8');
  assert.match(readme, /quota/i);
  assert.match(readme, /Running On-Demand G and VT instances|All G and VT Spot Instance Requests/);
});
