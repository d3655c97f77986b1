import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import OpenAI from 'openai';
import { stringify } from 'yaml';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { execClient } from './exec-client.js';
import { spawnXemAgent, spawnXimAgent, startScriptedEngine, waitFor, type Spawned } from './processes.js';
import { startRouterHarness, type RouterHarness } from './router-harness.js';

export interface LoopStack {
  readonly router: RouterHarness;
  readonly api: ReturnType<typeof execClient>;
  readonly client: OpenAI;
  readonly operator: { key: string; principalId: string; id: string };
  readonly workspace: string;
  readonly model: string;
  readonly dir: string;
  readonly runs: Spawned[];
  /** The XEM agent (replaced when a test restarts it) and how to start it again. */
  xem: Spawned;
  readonly xemOptions: Parameters<typeof spawnXemAgent>[0];
  /** The openai package as a person with this key, on an endpoint of the project. */
  readonly clientFor: (apiKey: string, slug?: string, defaultHeaders?: Record<string, string>) => OpenAI;
  readonly close: () => Promise<void>;
}

/**
 * The agentic loop's whole stack as real processes: a router, a XEM agent running one tool
 * bundle in the project's default workspace, a XIM agent on the scripted engine, an endpoint
 * serving the model, and an operator's key for the official openai package.
 */
export async function startLoopStack(options: {
  model: string;
  bundle: (dir: string) => { name: string } & Record<string, unknown>;
  prefix: string;
  /** More environment for the XEM agent, given the router and project (e.g. router callback credentials). */
  xemEnv?: (stack: { router: RouterHarness; api: ReturnType<typeof execClient> }) => Promise<Record<string, string>>;
  /** More arguments of the scripted engine (e.g. `--tokens-per-second 40`). */
  engineArgs?: readonly string[];
  /** More router settings, as its environment (e.g. XEROTIER_LEARNINGS_EXTRACTOR). */
  routerEnv?: Record<string, string>;
}): Promise<LoopStack> {
  const router = await startRouterHarness({
    leaseRenewalIntervalMs: 500,
    heartbeatTimeoutMs: 2_500,
    ...(options.routerEnv ? { env: options.routerEnv } : {}),
  });
  const api = execClient(router.app, router.project.project.id);
  const workspace = router.project.workspace.id;
  const admin = router.project.adminKey;
  const operator = await api.mintKey(admin, 'Chat Operator', ['inference', 'execution'], ['operator']);
  const dir = mkdtempSync(join(REPO_ROOT, '.xerotier', options.prefix));
  const runs: Spawned[] = [];
  const bundle = options.bundle(dir);
  mkdirSync(join(dir, 'xem', 'tools', bundle.name), { recursive: true });
  // The agent serves the workspaces it holds a credentials folder for.
  mkdirSync(join(dir, 'xem', 'credentials', workspace), { recursive: true });
  writeFileSync(join(dir, 'xem', 'tools', bundle.name, 'bundle.yaml'), stringify(bundle));
  const xemOptions = {
    routerUrl: router.url,
    joinKey: await router.mintJoinKey(),
    name: `xem-${options.prefix.replace(/[^a-z]/g, '')}`,
    dir: join(dir, 'xem'),
    intervalMs: 500,
    ...(options.xemEnv ? { env: await options.xemEnv({ router, api }) } : {}),
  };
  const xem = spawnXemAgent(xemOptions);
  runs.push(xem);
  const agentId = await new Promise<string>((resolve) =>
    xem.child.once('message', (message: { agent_id: string }) => resolve(message.agent_id)),
  );
  await waitFor("the agent's manifest", 20_000, async () =>
    (await api.call('GET', `/management/agents/${agentId}/tools`, admin)).status === 200 ? true : undefined,
  );
  await api.bind(admin, workspace, agentId);
  const firstTool = String((bundle['tools'] as { name: string }[])[0]!.name);
  await waitFor('the agent online in the workspace', 20_000, async () =>
    (await api.call('GET', `/exec/tools/${firstTool}`, operator.key)).body['online_agents'] === 1 ? true : undefined,
  );
  const socket = join(dir, 'engine.sock');
  runs.push(await startScriptedEngine(options.model, socket, options.engineArgs));
  mkdirSync(join(dir, 'xim'), { recursive: true });
  runs.push(
    spawnXimAgent({
      routerUrl: router.url,
      joinKey: await router.mintJoinKey('xim'),
      name: `xim-${options.prefix.replace(/[^a-z]/g, '')}`,
      dir: join(dir, 'xim'),
      engineUrl: `unix://${socket}`,
    }),
  );
  const created = await api.call('POST', '/management/endpoints', admin, {
    slug: 'default',
    models: [options.model],
    service_tier: 'self_hosted',
  });
  if (created.status !== 201) throw new Error(`endpoint: ${JSON.stringify(created.body)}`);
  const clientFor = (apiKey: string, slug = 'default', defaultHeaders: Record<string, string> = {}) =>
    new OpenAI({
      apiKey,
      baseURL: `${router.url}/${router.project.project.id}/${slug}/v1`,
      maxRetries: 0,
      defaultHeaders,
    });
  const client = clientFor(operator.key);
  await waitFor(
    'the model served',
    20_000,
    async () =>
      (await client.models.list()).data.some((model) => (model as unknown as { available: boolean }).available) ||
      undefined,
  );
  const stack: LoopStack = {
    router,
    api,
    client,
    operator,
    workspace,
    model: options.model,
    dir,
    runs,
    xem,
    xemOptions,
    clientFor,
    async close() {
      for (const run of runs)
        if (run.child.exitCode === null && run.child.signalCode === null) process.kill(-run.child.pid!, 'SIGKILL');
      await Promise.all(runs.map((run) => run.exited));
      await router.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return stack;
}
