import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { bearer } from '../helpers/fixtures.js';
import { spawnXimAgent, waitFor, type Spawned } from '../helpers/processes.js';
import { startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';

const MODEL = 'scripted/supervised';

/**
 * The XIM agent supervising "vLLM": a stand-in launcher that records its pid and arguments,
 * then execs the scripted engine with exactly the flags vLLM would get.
 */
describe('XIM agent supervising vLLM (the scripted engine started as vLLM would be)', () => {
  let router: RouterHarness;
  let agent: Spawned;
  const dir = mkdtempSync(join(tmpdir(), 'xim-vllm-'));
  const launches = join(dir, 'launches.log');
  const socket = join(dir, 'vllm.sock');
  let client: OpenAI;
  let metricsUrl: string;
  const started = () =>
    readFileSync(launches, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [pid, fooEnv, ...args] = line.split(' ');
        return { pid: Number(pid), fooEnv, args };
      });
  const ask = async () =>
    (await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'are you there' }] }))
      .choices[0]!.message.content;
  const alive = (pid: number) => {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };

  let joinKey: string;
  // Restarts pass the spent join key too, as a deployment would: the persisted enrollment wins.
  const startAgent = async () => {
    agent = spawnXimAgent({
      routerUrl: router.url,
      joinKey,
      name: 'xim-supervised',
      dir,
      env: {
        XEROTIER_AGENT_MODEL: MODEL,
        XEROTIER_AGENT_VLLM_PATH: join(dir, 'vllm'),
        XEROTIER_AGENT_VLLM_SOCKET_PATH: socket,
        XEROTIER_AGENT_MAX_NUM_SEQS: '8',
        XEROTIER_AGENT_VLLM_ARGS: '--tokens-per-second 500 --tool-call-parser hermes',
        XEROTIER_AGENT_VLLM_ENV: 'FOO=from-vllm-env EMPTY=',
        XEROTIER_AGENT_SHUTDOWN_GRACE_SECONDS: '5',
      },
    });
    metricsUrl = (await new Promise<{ metrics_url: string }>((resolve) => agent.child.once('message', resolve)))
      .metrics_url;
    await waitFor('the supervised engine to serve', 30_000, async () =>
      (await ask().catch(() => undefined)) ? true : undefined,
    );
  };

  beforeAll(async () => {
    router = await startRouterHarness({ leaseRenewalIntervalMs: 200 });
    const vllm = join(dir, 'vllm');
    writeFileSync(
      vllm,
      `#!/bin/sh\necho "$$ $FOO $*" >> '${launches}'\nexec '${process.execPath}' --import tsx '${join(REPO_ROOT, 'services/xim-agent/scripted-engine/main.ts')}' "$@"\n`,
    );
    chmodSync(vllm, 0o755);
    writeFileSync(launches, '');
    const created = await router.app.inject({
      method: 'POST',
      url: `/${router.project.project.id}/v1/management/endpoints`,
      headers: bearer(router.project.adminKey),
      payload: { slug: 'default', models: [MODEL], service_tier: 'self_hosted' },
    });
    expect(created.statusCode).toBe(201);
    joinKey = await router.mintJoinKey('xim');
    client = new OpenAI({
      apiKey: router.project.adminKey,
      baseURL: `${router.url}/${router.project.project.id}/default/v1`,
      maxRetries: 0,
    });
    await startAgent();
  }, 60_000);
  // A case that stops the agent (SIGTERM) leaves the next one to start it again.
  beforeEach(async () => {
    if (agent.child.exitCode !== null || agent.child.signalCode !== null) await startAgent();
  }, 60_000);
  afterAll(async () => {
    if (agent && agent.child.exitCode === null) process.kill(-agent.child.pid!, 'SIGKILL');
    for (const launch of started()) if (alive(launch.pid)) process.kill(launch.pid, 'SIGKILL');
    await router?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('starts vLLM with serve <model>, --uds, prefix caching, the sizing keys, then the extra args and env', async () => {
    // Every launch (a restart in another case included) has the same command line.
    const launch = started().at(-1);
    expect(launch!.args).toEqual([
      'serve',
      MODEL,
      '--uds',
      socket,
      '--enable-prefix-caching',
      '--gpu-memory-utilization',
      '0.9',
      '--tensor-parallel-size',
      '1',
      '--max-num-seqs',
      '8',
      '--tokens-per-second',
      '500',
      '--tool-call-parser',
      'hermes',
    ]);
    expect(launch!.fooEnv).toBe('from-vllm-env');
    expect(await ask()).toBe('This is a scripted answer to: "are you there".');
  });

  it('restarts the engine when it dies, and serves again once it is healthy', async () => {
    const launches = started().length;
    const first = started().at(-1)!;
    process.kill(first.pid, 'SIGKILL');
    const second = await waitFor('a restarted engine', 15_000, () => started()[launches]);
    expect(second.pid).not.toBe(first.pid);
    await waitFor('answers from the restarted engine', 20_000, async () =>
      (await ask().catch(() => undefined)) ? true : undefined,
    );
    expect(agent.stdout() + agent.stderr()).toMatch(/engine exited; restarting/);
    const metrics = await (await fetch(metricsUrl)).text();
    expect(metrics).toMatch(/^xerotier_xim_engine_restarts\{service="xim-agent"\} 1$/m);
    expect(metrics).toMatch(/^xerotier_xim_engine_healthy\{service="xim-agent"\} 1$/m);
    expect(metrics).toMatch(/^xerotier_xim_requests_finished\{outcome="completed",service="xim-agent"\} [1-9]/m);
  });

  it('enrolls with `enroll` and exits; `run` then starts on that enrollment without a join key', async () => {
    const enrollDir = mkdtempSync(join(dir, 'enroll-'));
    const options = { routerUrl: router.url, name: 'xim-enroll-only', dir: enrollDir, engineUrl: `unix://${socket}` };
    const enrolled = spawnXimAgent({ ...options, joinKey: await router.mintJoinKey('xim'), args: ['enroll'] });
    expect((await enrolled.exited).code).toBe(0);
    const { agent_id: agentId } = JSON.parse(readFileSync(join(enrollDir, 'enrollment.json'), 'utf8')) as {
      agent_id: string;
    };
    const running = spawnXimAgent({ ...options, joinKey: '', args: ['run'] });
    try {
      const listening = await new Promise<{ agent_id: string }>((resolve) => running.child.once('message', resolve));
      expect(listening.agent_id).toBe(agentId);
    } finally {
      running.child.kill('SIGKILL');
    }
  });

  it('stops the engine with itself on SIGTERM', async () => {
    const engine = started().at(-1)!;
    // The agent alone is signalled (not its process group): stopping the engine is its job.
    agent.child.kill('SIGTERM');
    expect((await agent.exited).code).toBe(0);
    expect(alive(engine.pid)).toBe(false);
  });
});
