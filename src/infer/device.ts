import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import type { InferenceSession } from 'onnxruntime-node';
import type { Device } from '../defaults.js';
import { UserError } from '../errors.js';

/** Where onnxruntime-node keeps its native libraries for this platform. */
function ortBinDir(): string {
  const entry = createRequire(import.meta.url).resolve('onnxruntime-node');
  return path.join(path.dirname(entry), '..', 'bin', 'napi-v6', process.platform, process.arch);
}

const PROVIDER_LIBS: Record<Exclude<Device, 'cpu'>, string[]> = {
  cuda: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'],
  tensorrt: ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so', 'libonnxruntime_providers_tensorrt.so'],
};

const INSTALL_HINT =
  'install onnxruntime-node with its GPU providers (ONNXRUNTIME_NODE_INSTALL=cuda12 npm ci) on a machine with the CUDA 12 and cuDNN 9 runtime (TensorRT 10 for tensorrt), or use infra/docker/Dockerfile --target gpu';

/** Execution providers for a device; TensorRT falls back to CUDA, and either to CPU per unsupported node. */
export function executionProviders(device: Device): InferenceSession.ExecutionProviderConfig[] {
  if (device === 'cpu') return ['cpu'];
  const missing = PROVIDER_LIBS[device].filter((lib) => !fs.existsSync(path.join(ortBinDir(), lib)));
  if (missing.length > 0) throw new UserError(`--device ${device}: ${missing.join(', ')} not found in ${ortBinDir()}: ${INSTALL_HINT}`);
  return device === 'tensorrt' ? ['tensorrt', 'cuda'] : ['cuda'];
}

/** The message for a provider library that is there but would not load (usually a missing CUDA/cuDNN library). */
export function deviceLoadError(device: Device, err: unknown): UserError {
  return new UserError(`--device ${device}: onnxruntime could not start its ${device} execution provider (${(err as Error).message}): ${INSTALL_HINT}`);
}
