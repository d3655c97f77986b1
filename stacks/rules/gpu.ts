/**
 * What an EC2 GPU instance offers, for the checks that a model fits before anything is declared:
 * GPUs, memory per GPU (GiB as the driver reports it, rounded down), and the host's vCPUs and
 * memory (pods ask for a share of them). Append types as the fleet needs them; an instance type
 * that is not here is refused on `aws` with the list, rather than guessed.
 */
export interface GpuInstance {
  readonly gpus: number;
  readonly gpuMemoryGi: number;
  /** NVIDIA's product name, as GPU feature discovery labels nodes (`nvidia.com/gpu.product`). */
  readonly product: string;
  readonly vcpus: number;
  readonly memoryGi: number;
}

const L4 = { gpuMemoryGi: 22, product: 'NVIDIA-L4' };
const A10G = { gpuMemoryGi: 22, product: 'NVIDIA-A10G' };
const L40S = { gpuMemoryGi: 44, product: 'NVIDIA-L40S' };
const H100 = { gpuMemoryGi: 79, product: 'NVIDIA-H100-80GB-HBM3' };
const H200 = { gpuMemoryGi: 139, product: 'NVIDIA-H200' };

export const GPU_INSTANCES: Readonly<Record<string, GpuInstance>> = {
  'g6.xlarge': { ...L4, gpus: 1, vcpus: 4, memoryGi: 16 },
  'g6.2xlarge': { ...L4, gpus: 1, vcpus: 8, memoryGi: 32 },
  'g6.12xlarge': { ...L4, gpus: 4, vcpus: 48, memoryGi: 192 },
  'g6.48xlarge': { ...L4, gpus: 8, vcpus: 192, memoryGi: 768 },
  'g5.xlarge': { ...A10G, gpus: 1, vcpus: 4, memoryGi: 16 },
  'g5.2xlarge': { ...A10G, gpus: 1, vcpus: 8, memoryGi: 32 },
  'g5.12xlarge': { ...A10G, gpus: 4, vcpus: 48, memoryGi: 192 },
  'g5.48xlarge': { ...A10G, gpus: 8, vcpus: 192, memoryGi: 768 },
  'g6e.xlarge': { ...L40S, gpus: 1, vcpus: 4, memoryGi: 32 },
  'g6e.12xlarge': { ...L40S, gpus: 4, vcpus: 48, memoryGi: 384 },
  'g6e.48xlarge': { ...L40S, gpus: 8, vcpus: 192, memoryGi: 1536 },
  'p4d.24xlarge': { gpuMemoryGi: 39, product: 'NVIDIA-A100-SXM4-40GB', gpus: 8, vcpus: 96, memoryGi: 1152 },
  'p4de.24xlarge': { gpuMemoryGi: 79, product: 'NVIDIA-A100-SXM4-80GB', gpus: 8, vcpus: 96, memoryGi: 1152 },
  'p5.48xlarge': { ...H100, gpus: 8, vcpus: 192, memoryGi: 2048 },
  'p5e.48xlarge': { ...H200, gpus: 8, vcpus: 192, memoryGi: 2048 },
  'p5en.48xlarge': { ...H200, gpus: 8, vcpus: 192, memoryGi: 2048 },
};

/** Of the host, what pods may ask for: the kubelet, system daemons and DaemonSets keep the rest. */
const ALLOCATABLE = 0.8;

/** A pod with `gpus` of the instance's GPUs asks for the same share of its CPUs and memory. */
export function hostShare(instance: GpuInstance, gpus: number): { readonly cpu: string; readonly memory: string } {
  const share = (gpus / instance.gpus) * ALLOCATABLE;
  return {
    cpu: String(Math.max(1, Math.floor(instance.vcpus * share))),
    memory: `${Math.max(4, Math.floor(instance.memoryGi * share))}Gi`,
  };
}
