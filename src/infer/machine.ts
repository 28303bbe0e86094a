import { execFile } from 'node:child_process';
import os from 'node:os';
import { promisify } from 'node:util';
import type { Device } from '../defaults.js';
import fs from 'node:fs';
import { settings } from '../settings.js';
import { resizeSimdLevel } from '../decode/jpeg-fast.js';

/** The machine a shard was tagged on: what a rate measured there may be used to price. */
export interface Machine {
  /** Cores this process could use (a container's share, not the host's). */
  cpus: number;
  cpuModel: string;
  device: Device;
  /** The GPU's name, when tagging on one. */
  gpu?: string;
  /** The EC2 instance type, when on EC2 (AWS Batch, ECS). */
  instanceType?: string;
  /**
   * The CPU flags that move the rate most (int8 inference several times faster with VNNI), and the
   * resize's SIMD level: why two machines of one fleet tag at different rates (absent in older markers).
   */
  cpuFlags?: string[];
  simd?: string;
}

/** The few flags that decide which int8 kernels and decode paths win (Linux; none elsewhere); the benchmarks print them too. */
const RATE_FLAGS = ['avx2', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512vbmi', 'avx_vnni', 'amx_int8', 'asimddp'];
export function cpuFlags(): string[] | undefined {
  try {
    const line = /^(?:flags|Features)\s*:(.*)$/m.exec(fs.readFileSync('/proc/cpuinfo', 'utf8'))?.[1];
    const have = new Set(line?.trim().split(/\s+/));
    return RATE_FLAGS.filter((f) => have.has(f));
  } catch {
    return undefined;
  }
}

/** The instance type from EC2's metadata service (IMDSv2), only where a container runtime says we are on AWS. */
async function ec2InstanceType(): Promise<string | undefined> {
  const { imds } = settings();
  if (!process.env.AWS_BATCH_JOB_ID && !process.env.ECS_CONTAINER_METADATA_URI_V4 && !imds) return undefined;
  const base = imds ?? 'http://169.254.169.254';
  try {
    const signal = AbortSignal.timeout(1000);
    const token = await (await fetch(`${base}/latest/api/token`, { method: 'PUT', headers: { 'X-aws-ec2-metadata-token-ttl-seconds': '60' }, signal })).text();
    const res = await fetch(`${base}/latest/meta-data/instance-type`, { headers: { 'X-aws-ec2-metadata-token': token }, signal });
    return res.ok ? (await res.text()).trim() : undefined;
  } catch {
    return undefined;
  }
}

async function gpuName(): Promise<string | undefined> {
  try {
    const { stdout } = await promisify(execFile)('nvidia-smi', ['--query-gpu=name', '--format=csv,noheader'], { timeout: 3000 });
    return stdout.split('\n')[0]?.trim() || undefined;
  } catch {
    return undefined;
  }
}

export async function describeMachine(device: Device): Promise<Machine> {
  const [instanceType, gpu] = await Promise.all([ec2InstanceType(), device === 'cpu' ? undefined : gpuName()]);
  return { cpus: os.availableParallelism(), cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown CPU', device, gpu, instanceType, cpuFlags: cpuFlags(), simd: resizeSimdLevel() };
}

/** "g5.xlarge: 4 vCPUs (AMD EPYC 7R32), NVIDIA A10G, device cuda" */
export function machineLabel(m: Machine): string {
  return `${m.instanceType ? `${m.instanceType}: ` : ''}${m.cpus} vCPUs (${m.cpuModel})${m.gpu ? `, ${m.gpu}` : ''}, device ${m.device}`;
}

export const usesGpu = (m: Machine) => m.device !== 'cpu';
