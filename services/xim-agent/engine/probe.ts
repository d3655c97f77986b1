import { engineRequest, readAll, type EngineAddress } from './http.js';

export interface EngineState {
  readonly healthy: boolean;
  readonly models: string[];
  /** Models the engine labels as scripted (the test stand-in, never a real model). */
  readonly scripted: string[];
  readonly running: number;
  readonly waiting: number;
  readonly kvUsage: number;
  /** Prompt tokens looked up in the prefix cache, and found there, since the engine started (vLLM's counters). */
  readonly prefixCacheQueries: number;
  readonly prefixCacheHits: number;
}

export const ENGINE_DOWN: EngineState = {
  healthy: false,
  models: [],
  scripted: [],
  running: 0,
  waiting: 0,
  kvUsage: 0,
  prefixCacheQueries: 0,
  prefixCacheHits: 0,
};
const DOWN = ENGINE_DOWN;

/** Health from `/health`, models from `/v1/models`, load from vLLM's `/metrics`; never throws. */
export async function probeEngine(address: EngineAddress, timeoutMs = 2_000): Promise<EngineState> {
  try {
    const health = await engineRequest(address, '/health', { timeoutMs });
    health.resume();
    if (health.statusCode !== 200) return DOWN;
    const models = JSON.parse(await readAll(await engineRequest(address, '/v1/models', { timeoutMs }))) as {
      data?: { id: string; scripted?: boolean }[];
    };
    const metrics = parseVllmMetrics(await readAll(await engineRequest(address, '/metrics', { timeoutMs })));
    const data = models.data ?? [];
    return {
      healthy: true,
      models: data.map((model) => model.id),
      scripted: data.filter((model) => model.scripted === true).map((model) => model.id),
      ...metrics,
    };
  } catch {
    return DOWN;
  }
}

/** Sums vLLM's load gauges over their label sets; tolerates the older `gpu_cache_usage_perc` name. */
export function parseVllmMetrics(
  text: string,
): Pick<EngineState, 'running' | 'waiting' | 'kvUsage' | 'prefixCacheQueries' | 'prefixCacheHits'> {
  const sums = new Map<string, number>();
  for (const line of text.split('\n')) {
    const match = /^(vllm:[a-z_]+)(\{[^}]*\})?\s+([0-9.eE+-]+|NaN)$/.exec(line.trim());
    if (!match) continue;
    const value = Number(match[3]);
    if (Number.isFinite(value)) sums.set(match[1]!, (sums.get(match[1]!) ?? 0) + value);
  }
  return {
    running: sums.get('vllm:num_requests_running') ?? 0,
    waiting: sums.get('vllm:num_requests_waiting') ?? 0,
    kvUsage: Math.min(1, sums.get('vllm:kv_cache_usage_perc') ?? sums.get('vllm:gpu_cache_usage_perc') ?? 0),
    prefixCacheQueries: sums.get('vllm:prefix_cache_queries_total') ?? 0,
    prefixCacheHits: sums.get('vllm:prefix_cache_hits_total') ?? 0,
  };
}
