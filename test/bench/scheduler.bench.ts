import { percentile, round, type Figures } from './report.js';
import { consistentHashBounded, leastLoaded, oracle, roundRobin, routerPolicy, type Policy } from './sim/policies.js';
import { replicaFleet } from './sim/replicas.js';
import { simulate } from './sim/simulate.js';
import { w1, w2, w3, w5, type Workload } from './sim/workloads.js';

const SEED = Number(process.env['XEROTIER_BENCH_SEED'] ?? 7);

/**
 * `scheduler`: the virtual-time simulator of research/inference-anchors.md §4 — vLLM-like
 * workers (block cache, continuous batching), workloads W1–W3 and W5, and five policies. Hit
 * rate is token-weighted; TTFT in simulated milliseconds; max_mean_load is the busiest worker's
 * busy time over the mean. `route_us_*` is real time per decision of the router's scheduler.
 */
export async function runSchedulerBench(): Promise<Figures> {
  const figures: Figures = {};
  const timings: number[] = [];
  for (const workload of [w1(SEED), w2(SEED), w3(SEED), w5(SEED)]) {
    const policies: Record<string, () => Policy> = {
      round_robin: roundRobin,
      least_loaded: leastLoaded,
      chash_bounded: () => consistentHashBounded(),
      router: () => routerPolicy(workload.capacityBlocks, timings),
      oracle,
    };
    for (const replicas of [1, 3, 10]) {
      policies[`replicas_${replicas}`] = () =>
        replicaFleet(workload.capacityBlocks, { replicas, shared: true, seed: SEED });
      if (replicas > 1)
        policies[`replicas_${replicas}_unshared`] = () =>
          replicaFleet(workload.capacityBlocks, { replicas, shared: false, seed: SEED });
    }
    for (const [name, make] of Object.entries(policies)) {
      const result = simulate(workload, make());
      Object.assign(figures, {
        [`${workload.name}.${name}.hit_rate`]: round(result.hitRate, 4),
        [`${workload.name}.${name}.ttft_p50_ms`]: round(result.ttftP50, 1),
        [`${workload.name}.${name}.ttft_p99_ms`]: round(result.ttftP99, 1),
        [`${workload.name}.${name}.max_mean_load`]: round(result.maxMeanLoad, 3),
      });
      process.stdout.write(
        `${workload.name} ${name.padEnd(20)} hit ${(result.hitRate * 100).toFixed(1)}%  ttft p50 ${result.ttftP50.toFixed(0)} p99 ${result.ttftP99.toFixed(0)} ms  max/mean ${result.maxMeanLoad.toFixed(2)}  (${result.completed} requests)\n`,
      );
    }
    Object.assign(figures, targets(workload, figures));
  }
  const sorted = timings.sort((a, b) => a - b);
  return { ...figures, route_us_p50: round(percentile(sorted, 50)), route_us_p99: round(percentile(sorted, 99)) };
}

/** The targets as ratios, so the JSON says at a glance where the policy stands. */
function targets(workload: Workload, figures: Figures): Figures {
  const of = (policy: string, metric: string) => figures[`${workload.name}.${policy}.${metric}`]!;
  const fleet = Object.fromEntries(
    ['replicas_1', 'replicas_3', 'replicas_10', 'replicas_3_unshared', 'replicas_10_unshared'].flatMap((policy) => [
      [
        `${workload.name}.${policy}.hit_rate_vs_one_router`,
        round(of(policy, 'hit_rate') / Math.max(1e-9, of('router', 'hit_rate')), 3),
      ],
      [
        `${workload.name}.${policy}.ttft_p99_vs_one_router`,
        round(of(policy, 'ttft_p99_ms') / Math.max(1e-9, of('router', 'ttft_p99_ms')), 3),
      ],
    ]),
  );
  return {
    ...fleet,
    [`${workload.name}.router.hit_rate_vs_oracle`]: round(
      of('router', 'hit_rate') / Math.max(1e-9, of('oracle', 'hit_rate')),
      3,
    ),
    [`${workload.name}.router.ttft_p99_vs_round_robin`]: round(
      of('router', 'ttft_p99_ms') / Math.max(1e-9, of('round_robin', 'ttft_p99_ms')),
      3,
    ),
  };
}
