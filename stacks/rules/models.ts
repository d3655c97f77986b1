/**
 * What the checks know about a model: its bf16 weights (GiB), its KV cache per token (KiB,
 * summed over layers: 2 × layers × KV heads × head dim × 2 bytes), whether Hugging Face gates it
 * (a token is needed to download it). A model not here must say `weightsGi` (and `gated`)
 * itself; the KV check is then skipped.
 */
export interface KnownModel {
  readonly weightsGi: number;
  readonly kvKiBPerToken: number;
  readonly gated: boolean;
}

export const KNOWN_MODELS: Readonly<Record<string, KnownModel>> = {
  'Qwen/Qwen3-8B': { weightsGi: 15.3, kvKiBPerToken: 144, gated: false },
  'Qwen/Qwen3-32B': { weightsGi: 61.0, kvKiBPerToken: 256, gated: false },
  'Qwen/Qwen2.5-72B-Instruct': { weightsGi: 135.4, kvKiBPerToken: 320, gated: false },
  'meta-llama/Llama-3.1-8B-Instruct': { weightsGi: 15.0, kvKiBPerToken: 128, gated: true },
  'meta-llama/Llama-3.3-70B-Instruct': { weightsGi: 131.4, kvKiBPerToken: 320, gated: true },
};

/** vLLM keeps this share of each GPU (its --gpu-memory-utilization default). */
export const GPU_MEMORY_UTILIZATION = 0.9;
/** CUDA context, activations and graphs per GPU, outside weights and KV cache. */
const RUNTIME_OVERHEAD_GI = 1.5;

export interface Fit {
  readonly ok: boolean;
  readonly reason: string;
}

/** Whether weights plus one full-length sequence's KV cache fit the GPUs vLLM shards over. */
export function gpuFit(
  model: { weightsGi: number; kvKiBPerToken?: number; maxModelLen: number },
  gpus: number,
  gpuMemoryGi: number,
): Fit {
  const usable = gpus * (gpuMemoryGi * GPU_MEMORY_UTILIZATION - RUNTIME_OVERHEAD_GI);
  const kvGi = model.kvKiBPerToken === undefined ? 0 : (model.maxModelLen * model.kvKiBPerToken) / 2 ** 20;
  const needed = model.weightsGi + kvGi;
  const ok = needed <= usable;
  return {
    ok,
    reason: `${needed.toFixed(1)} GiB (weights ${model.weightsGi} + KV for ${model.maxModelLen} tokens ${kvGi.toFixed(1)}) ${ok ? 'fits' : 'does not fit'} in ${usable.toFixed(1)} GiB usable on ${gpus} × ${gpuMemoryGi} GiB`,
  };
}

/** A model cache comfortably larger than the weights (tokenizer, config, a revision in flight). */
export function defaultCacheSizeGi(weightsGi: number): number {
  return Math.ceil((weightsGi * 1.25) / 10) * 10;
}

export function cacheFits(weightsGi: number, cacheSizeGi: number): boolean {
  return cacheSizeGi >= weightsGi * 1.1;
}

/**
 * How long vLLM may take to become healthy: loading the weights (from the shared cache, or
 * downloading them first through NAT when each pod pulls its own) plus compilation and CUDA
 * graph capture. The startup probe allows this before liveness takes over.
 */
export function startupBudgetSeconds(weightsGi: number, prewarmed: boolean): number {
  const gibPerSecond = prewarmed ? 0.5 : 0.1;
  return Math.ceil(600 + weightsGi / gibPerSecond);
}
