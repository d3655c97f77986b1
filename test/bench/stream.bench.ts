import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  cleanEnv,
  LOOPBACK_ROUTER_ENV,
  nextMessage,
  routerSecretsEnv,
  spawnGroup,
  spawnRouterProcess,
  spawnXimAgent,
  type Spawned,
} from '../helpers/processes.js';
import { concurrently, stop, withBenchDatabase } from './harness.js';
import { percentile, round, type Figures } from './report.js';

const MODEL = 'scripted/bench';
const TTFT_CALLS = Number(process.env['XEROTIER_BENCH_TTFT_CALLS'] ?? 200);
const STREAM_SECONDS = Number(process.env['XEROTIER_BENCH_STREAM_SECONDS'] ?? 8);
const STREAMS = 16;
const LONG = 2_000;
// XEROTIER_BENCH_PROFILE_DIR: the router and the agent write CPU profiles there.
const PROFILE = process.env['XEROTIER_BENCH_PROFILE_DIR']
  ? ['--cpu-prof', `--cpu-prof-dir=${process.env['XEROTIER_BENCH_PROFILE_DIR']}`]
  : [];

/**
 * `stream`: chat-completion streams through a router process, the mesh and an XIM agent process,
 * against the same scripted engine (unthrottled) called directly over HTTP, in the same run:
 * time to the first token one request at a time, and tokens per second with 16 streams of a
 * 2,000-token answer at once. Every process shares this machine's two cores with the client.
 */
export async function runStreamBench(): Promise<Figures> {
  return withBenchDatabase(async (databaseUrl) => {
    const dir = mkdtempSync(join(tmpdir(), 'xerotier-stream-bench-'));
    const processes: Spawned[] = [];
    try {
      const stack = await startStack(databaseUrl, dir, processes);
      const targets = {
        direct: { url: `${stack.engineUrl}/v1/chat/completions`, headers: {} },
        router: {
          url: `${stack.routerUrl}/bench/default/v1/chat/completions`,
          headers: { authorization: `Bearer ${stack.key}` },
        },
      };
      for (const target of Object.values(targets))
        for (let n = 0; n < 30; n += 1) await streamTokens(target, 'count to 20');
      const ttft = { direct: [] as number[], router: [] as number[] };
      for (let n = 0; n < TTFT_CALLS; n += 1) {
        ttft.direct.push((await streamTokens(targets.direct, 'count to 20')).firstTokenMs);
        ttft.router.push((await streamTokens(targets.router, 'count to 20')).firstTokenMs);
      }
      const direct = await tokensPerSecond(targets.direct);
      const router = await tokensPerSecond(targets.router);
      const [d, r] = [ttft.direct.sort((a, b) => a - b), ttft.router.sort((a, b) => a - b)];
      return {
        direct_tokens_per_s: round(direct.rate),
        router_tokens_per_s: round(router.rate),
        router_direct_ratio: round(router.rate / direct.rate, 3),
        direct_first_token_p50_ms: round(percentile(d, 50), 3),
        router_first_token_p50_ms: round(percentile(r, 50), 3),
        router_first_token_p99_ms: round(percentile(r, 99), 3),
        first_token_overhead_ms: round(percentile(r, 50) - percentile(d, 50), 3),
        stream_errors: direct.errors + router.errors,
      };
    } finally {
      for (const run of processes.reverse()) await stop(run);
      rmSync(dir, { recursive: true, force: true });
    }
  });
}

interface Target {
  readonly url: string;
  readonly headers: Record<string, string>;
}

async function tokensPerSecond(target: Target): Promise<{ rate: number; errors: number }> {
  let tokens = 0;
  const run = await concurrently(STREAMS, STREAM_SECONDS * 1_000, async () => {
    const streamed = await streamTokens(target, `count to ${LONG}`);
    if (streamed.tokens !== LONG) throw new Error(`expected ${LONG} tokens, got ${streamed.tokens}`);
    tokens += streamed.tokens;
    return streamed.firstTokenMs;
  });
  return { rate: tokens / (run.elapsedMs / 1_000), errors: run.errors };
}

/** One streamed chat completion: tokens counted as non-empty content deltas, cheaply (no JSON parse). */
async function streamTokens(target: Target, question: string): Promise<{ tokens: number; firstTokenMs: number }> {
  const started = performance.now();
  const response = await fetch(target.url, {
    method: 'POST',
    headers: { ...target.headers, 'content-type': 'application/json' },
    body: JSON.stringify({ model: MODEL, stream: true, messages: [{ role: 'user', content: question }] }),
  });
  if (!response.ok || !response.body)
    throw new Error(`${target.url}: HTTP ${response.status} ${await response.text()}`);
  let tokens = 0;
  let firstTokenMs = Number.NaN;
  let carry = '';
  const decoder = new TextDecoder();
  for await (const bytes of response.body as unknown as AsyncIterable<Uint8Array>) {
    const text = carry + decoder.decode(bytes, { stream: true });
    const cut = text.lastIndexOf('\n');
    carry = text.slice(cut + 1);
    const found = text.slice(0, cut + 1).match(/"content":"[^"]/g)?.length ?? 0;
    if (found > 0 && tokens === 0) firstTokenMs = performance.now() - started;
    tokens += found;
  }
  return { tokens, firstTokenMs };
}

async function startStack(
  databaseUrl: string,
  dir: string,
  processes: Spawned[],
): Promise<{ routerUrl: string; engineUrl: string; key: string }> {
  const engine = spawnGroup(
    process.execPath,
    ['--import', 'tsx', 'services/xim-agent/scripted-engine/main.ts', 'serve', MODEL, '--port', '0'],
    cleanEnv(),
  );
  processes.push(engine);
  const engineUrl = await new Promise<string>((resolve) => {
    engine.child.stdout!.on('data', (chunk: Buffer) => {
      const url = /on (http:\/\/\S+)/.exec(chunk.toString())?.[1];
      if (url) resolve(url);
    });
  });
  const secret = randomBytes(32).toString('base64url');
  const router = await spawnRouterProcess(
    cleanEnv({
      ...routerSecretsEnv(),
      ...LOOPBACK_ROUTER_ENV,
      XEROTIER_DATABASE_URL: databaseUrl,
      XEROTIER_LOG_LEVEL: 'warning',
      XEROTIER_API_RATE_LIMIT_RPM: '0',
      XEROTIER_BOOTSTRAP_PROJECT: 'bench',
      XEROTIER_BOOTSTRAP_ADMIN_KEY_SHA256: createHash('sha256').update(secret).digest('hex'),
    }),
    PROFILE,
  );
  processes.push(router.run);
  const key = `xero_bench_${secret}`;
  const manage = (path: string, body: unknown) =>
    fetch(`${router.http_url}/bench/v1/management${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    }).then(async (response) => (await response.json()) as Record<string, unknown>);
  await manage('/endpoints', { slug: 'default', models: [MODEL], service_tier: 'self_hosted' });
  const joinKey = (await manage('/join-keys', { role: 'xim', name: 'bench' }))['key'] as string;
  const agent = spawnXimAgent({
    routerUrl: router.http_url,
    joinKey,
    name: 'xim-bench',
    dir,
    engineUrl,
    env: { XEROTIER_AGENT_MAX_CONCURRENT: '64', XEROTIER_AGENT_LOG_LEVEL: 'warning' },
  });
  processes.push(agent);
  await nextMessage(agent.child);
  for (let tries = 0; ; tries += 1) {
    const models = await fetch(`${router.http_url}/bench/default/v1/models`, {
      headers: { authorization: `Bearer ${key}` },
    }).then(async (response) => (await response.json()) as { data?: { available: boolean }[] });
    if (models.data?.[0]?.available) break;
    if (tries > 150) throw new Error('the bench XIM agent never served its model');
    // Polled: /models is the only place that says the model is served.
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return { routerUrl: router.http_url, engineUrl, key };
}
