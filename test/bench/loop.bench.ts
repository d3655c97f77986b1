import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawnXimAgent, startScriptedEngine, waitFor, type Spawned } from '../helpers/processes.js';
import { request, startNoopServer, startStack, type Stack } from './exec.bench.js';
import { stop, withBenchDatabase } from './harness.js';
import { percentile, round, type Figures } from './report.js';

const TURNS = Number(process.env['XEROTIER_BENCH_LOOP_TURNS'] ?? 200);
const MODEL = 'scripted/bench';
const METRIC = 'xerotier_loop_tool_round_trip_router_seconds';

/**
 * `loop`: the agentic loop's own cost. Real processes — a router, a XEM agent serving the no-op
 * `noop` read tool, a XIM agent on the scripted engine (instant answers) — and `TURNS` Responses
 * turns in a row, each one model turn calling `noop`, its result fed back, and a second model
 * turn summarising it. The router measures each tool round trip from the model's turn ending to
 * the next model turn starting, less the call's time on its agent (dispatch to result, as the
 * router stored them), into a histogram; p50 and p99 here are read from it by linear
 * interpolation within buckets, as Prometheus' histogram_quantile does. The whole turn's time is
 * reported beside it, and a plain turn without tools as the floor.
 */
export async function runLoopBench(): Promise<Figures> {
  return withBenchDatabase(async (databaseUrl) => {
    const dir = mkdtempSync(join(tmpdir(), 'xerotier-loop-bench-'));
    const processes: Spawned[] = [];
    const noop = await startNoopServer();
    try {
      const stack = await startStack(databaseUrl, dir, noop.port, processes);
      await startInference(stack, dir, processes);
      const turn = (input: string, tools: unknown[]) => respond(stack, input, tools);
      const mcp = [{ type: 'mcp', server_label: stack.workspace, require_approval: 'never' }];
      for (let index = 0; index < 20; index += 1) await turn('noop {}', mcp);
      const before = await histogram(stack.metricsUrl);
      const loop: number[] = [];
      for (let index = 0; index < TURNS; index += 1) loop.push(await turn('noop {}', mcp));
      const after = await histogram(stack.metricsUrl);
      const plain: number[] = [];
      for (let index = 0; index < TURNS; index += 1) plain.push(await turn('hello', []));
      const counts = after.map((bucket, index) => ({ le: bucket.le, count: bucket.count - before[index]!.count }));
      loop.sort((a, b) => a - b);
      plain.sort((a, b) => a - b);
      return {
        turns: TURNS,
        router_p50_ms: round(quantile(counts, 0.5) * 1_000, 3),
        router_p99_ms: round(quantile(counts, 0.99) * 1_000, 3),
        turn_p50_ms: round(percentile(loop, 50)),
        turn_p99_ms: round(percentile(loop, 99)),
        plain_turn_p50_ms: round(percentile(plain, 50)),
        turn_vs_plain_p50: round(percentile(loop, 50) / percentile(plain, 50), 2),
      };
    } finally {
      for (const run of processes.reverse()) await stop(run);
      await new Promise((resolve) => noop.server.close(resolve));
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

/** The scripted engine on a Unix socket, a XIM agent in front of it, and the endpoint `default`. */
async function startInference(stack: Stack, dir: string, processes: Spawned[]): Promise<void> {
  const socket = join(dir, 'engine.sock');
  processes.push(await startScriptedEngine(MODEL, socket));
  const joinKey = (
    (await request(stack, 'POST', '/management/join-keys', { role: 'xim', name: 'bench-xim' })) as { key: string }
  ).key;
  mkdirSync(join(dir, 'xim'), { recursive: true });
  processes.push(
    spawnXimAgent({
      routerUrl: stack.url,
      joinKey,
      name: 'xim-bench',
      dir: join(dir, 'xim'),
      engineUrl: `unix://${socket}`,
      env: { XEROTIER_LOG_LEVEL: 'warning' },
    }),
  );
  await request(stack, 'POST', '/management/endpoints', {
    slug: 'default',
    models: [MODEL],
    service_tier: 'self_hosted',
  });
  await waitFor('the model served', 30_000, async () => {
    const models = await fetch(`${stack.url}/${stack.project}/default/v1/models`, {
      headers: { authorization: `Bearer ${stack.key}` },
    });
    const body = (await models.json()) as { data?: { available: boolean }[] };
    return body.data?.some((model) => model.available) ? true : undefined;
  });
}

/** One Responses turn; resolves with its milliseconds, refusing anything but a completed answer. */
async function respond(stack: Stack, input: string, tools: unknown[]): Promise<number> {
  const started = performance.now();
  const response = await fetch(`${stack.url}/${stack.project}/default/v1/responses`, {
    method: 'POST',
    headers: { authorization: `Bearer ${stack.key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, input, tools, store: false }),
  });
  const body = (await response.json()) as { status?: string; output?: { type: string }[] };
  if (body.status !== 'completed') throw new Error(`a bench turn ended ${JSON.stringify(body).slice(0, 300)}`);
  if (tools.length > 0 && !body.output?.some((item) => item.type === 'mcp_call'))
    throw new Error('a bench turn ran no tool');
  return performance.now() - started;
}

/** The round-trip histogram's cumulative buckets, from the router's /metrics. */
async function histogram(metricsUrl: string): Promise<{ le: number; count: number }[]> {
  const text = await (await fetch(metricsUrl)).text();
  // Labels in any order (the registry adds service="router").
  return [...text.matchAll(new RegExp(`^${METRIC}_bucket\\{[^}]*le="([^"]+)"[^}]*\\} (\\d+)$`, 'gm'))].map((match) => ({
    le: match[1] === '+Inf' ? Infinity : Number(match[1]),
    count: Number(match[2]),
  }));
}

/** histogram_quantile: the bucket holding the rank, linearly within it. */
export function quantile(buckets: readonly { le: number; count: number }[], q: number): number {
  const total = buckets.at(-1)?.count ?? 0;
  if (total === 0) return Number.NaN;
  const rank = q * total;
  let lower = 0;
  let below = 0;
  for (const bucket of buckets) {
    if (bucket.count >= rank) {
      if (bucket.le === Infinity) return lower;
      return lower + ((bucket.le - lower) * (rank - below)) / Math.max(bucket.count - below, 1);
    }
    lower = bucket.le;
    below = bucket.count;
  }
  return lower;
}
