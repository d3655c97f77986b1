import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { mintJoinKey, waitUntilActive, type DevAgent, type DevAgentOptions } from './agents.js';
import { spawnService } from './child-process.js';
import { keepRunning } from './keep-running.js';
import { REPO_ROOT } from './dev-state.js';
import { choosePort } from './ports.js';

/** The scripted stand-in's model: labelled scripted wherever it shows, never mistaken for a real one. */
export const DEV_MODEL = 'scripted/tiny-chat';
const NAME = 'dev-xim';

export type DevInferenceOptions = Omit<DevAgentOptions, 'workspaceId' | 'databaseUrl'> & { readonly saltSeed: string };

/**
 * The dev stack's inference path: the scripted engine on a Unix socket (started with vLLM's
 * flags, as the agent's supervisor would), one XIM agent attached to it, and the project's
 * endpoint `default` bound to its model, so `…/dev/default/v1/responses` answers at once.
 */
export async function startDevInference(options: DevInferenceOptions): Promise<DevAgent> {
  const dir = join(options.paths.root, 'xim');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const socket = join(dir, 'engine.sock');
  // The engine and the agent are restarted with backoff if they die (keep-running.ts).
  await keepRunning({
    name: 'scripted engine',
    logger: options.logger,
    lifecycle: options.lifecycle,
    launch: async () =>
      spawnService({
        name: 'scripted-engine',
        entry: join(REPO_ROOT, 'services/xim-agent/scripted-engine/main.ts'),
        cwd: REPO_ROOT,
        env: options.env,
        args: ['serve', DEV_MODEL, '--uds', socket, '--tokens-per-second', '50'],
        logFile: join(options.paths.logs, 'scripted-engine.log'),
      }),
  });
  const metricsPort = options.env['XEROTIER_AGENT_METRICS_PORT'] ?? String(await choosePort(9094));
  const spawnAgent = (joinKey: string) =>
    spawnService({
      name: 'xim-agent',
      entry: join(REPO_ROOT, 'services/xim-agent/main.ts'),
      cwd: REPO_ROOT,
      env: {
        ...options.env,
        XEROTIER_AGENT_ROUTER_URL: options.routerUrl,
        XEROTIER_AGENT_JOIN_KEY: joinKey,
        XEROTIER_AGENT_REGISTRATION_NAME: NAME,
        XEROTIER_AGENT_ENGINE_URL: `unix://${socket}`,
        XEROTIER_AGENT_ALLOW_INSECURE: '1',
        XEROTIER_AGENT_SIGNING_KEY_PATH: join(dir, 'agent-signing-key.hex'),
        XEROTIER_AGENT_CURVE_KEY_PATH: join(dir, 'agent-curve-key.hex'),
        XEROTIER_AGENT_ENROLLMENT_PATH: join(dir, 'enrollment.json'),
        XEROTIER_AGENT_MAX_CONCURRENT: '16',
        XEROTIER_AGENT_VLLM_SALT_SECRET: createHash('sha256').update(`xim-salt\u0000${options.saltSeed}`).digest('hex'),
        XEROTIER_AGENT_METRICS_PORT: metricsPort,
      },
      logFile: join(options.paths.logs, 'xim-agent.log'),
      ...(options.echo ? { echo: options.echo } : {}),
    });
  let listening: Record<string, unknown> = {};
  await keepRunning({
    name: 'xim agent',
    logger: options.logger,
    lifecycle: options.lifecycle,
    async launch() {
      const enrolled = existsSync(join(dir, 'enrollment.json'));
      let agent = spawnAgent(enrolled ? 'xjk_already-enrolled' : await mintJoinKey(options, 'xim'));
      const first = await agent.waitForMessage(['listening', 'retired'], 30_000);
      if (first['type'] === 'retired') {
        options.logger.warning(
          { reason: first['reason'] },
          'the dev XIM agent was retired by the router; enrolling it again',
        );
        await agent.stop(15_000);
        agent = spawnAgent(await mintJoinKey(options, 'xim', { allowReplace: true }));
        listening = await agent.waitForMessage('listening', 30_000);
      } else listening = first;
      return agent;
    },
  });
  const agentId = String(listening['agent_id']);
  await ensureDefaultEndpoint(options);
  const status = await waitUntilActive(options, agentId, Date.now(), 30_000);
  await waitUntilServed(options, 30_000);
  options.logger.info({ agent_id: agentId, status, model: DEV_MODEL }, 'dev XIM agent up on the scripted engine');
  return { role: 'xim', name: NAME, agent_id: agentId, status, metrics_url: String(listening['metrics_url']) };
}

/** `default` → the scripted model; an endpoint an operator changed is left as it is. */
async function ensureDefaultEndpoint(options: DevInferenceOptions): Promise<void> {
  const response = await fetch(`${options.routerUrl}/${options.projectId}/v1/management/endpoints`, {
    method: 'POST',
    headers: { authorization: `Bearer ${options.adminKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ slug: 'default', models: [DEV_MODEL], service_tier: 'self_hosted' }),
  });
  if (response.status !== 201 && response.status !== 409)
    throw new Error(`could not create the dev endpoint "default": HTTP ${response.status}`);
}

/** The engine answers and the agent reported its model: the first request will not get a 503. */
async function waitUntilServed(options: DevInferenceOptions, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await fetch(`${options.routerUrl}/${options.projectId}/default/v1/models`, {
      headers: { authorization: `Bearer ${options.adminKey}` },
    }).catch(() => undefined);
    const models = response?.ok ? ((await response.json()) as { data: { id: string; available: boolean }[] }).data : [];
    if (models.some((model) => model.id === DEV_MODEL && model.available)) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  options.logger.warning(
    { model: DEV_MODEL },
    'the dev XIM agent has not reported its model yet; inference answers 503 until it does',
  );
}
