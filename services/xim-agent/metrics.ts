import { Gauge, type Registry } from 'prom-client';
import type { EngineState } from './engine/probe.js';
import type { InferenceRunner } from './inference/runner.js';

/** The agent's figures, read at scrape time: engine health and load, restarts, requests by outcome. */
export function registerXimMetrics(
  registry: Registry,
  sources: { engine: () => EngineState; runner: InferenceRunner; restarts: () => number },
): void {
  const gauge = (name: string, help: string, read: () => number) =>
    new Gauge({
      name,
      help,
      registers: [registry],
      collect() {
        this.set(read());
      },
    });
  gauge('xerotier_xim_engine_healthy', 'Whether the engine answered its last health probe (1) or not (0)', () =>
    sources.engine().healthy ? 1 : 0,
  );
  gauge('xerotier_xim_engine_restarts', 'Times the supervised engine died and was started again', sources.restarts);
  gauge(
    'xerotier_xim_engine_requests_waiting',
    'Requests the engine reports queued (vllm:num_requests_waiting)',
    () => sources.engine().waiting,
  );
  gauge(
    'xerotier_xim_engine_kv_cache_usage',
    'Share of KV cache in use, 0-1 (vllm:kv_cache_usage_perc)',
    () => sources.engine().kvUsage,
  );
  gauge(
    'xerotier_xim_engine_prefix_cache_queries',
    'Prompt tokens the engine looked up in its prefix cache since it started (vllm:prefix_cache_queries_total)',
    () => sources.engine().prefixCacheQueries,
  );
  gauge(
    'xerotier_xim_engine_prefix_cache_hits',
    'Prompt tokens the engine found in its prefix cache since it started (vllm:prefix_cache_hits_total): affinity paying off',
    () => sources.engine().prefixCacheHits,
  );
  gauge('xerotier_xim_requests_running', 'Inference requests this agent runs now', () => sources.runner.running);
  new Gauge({
    name: 'xerotier_xim_requests_finished',
    help: 'Inference requests since start, by outcome',
    labelNames: ['outcome'],
    registers: [registry],
    collect() {
      for (const [outcome, count] of Object.entries(sources.runner.outcomes)) this.set({ outcome }, count);
    },
  });
}
