import { createLifecycle, handleShutdownSignals } from '../runtime/lifecycle.js';
import { createLogger } from '../runtime/logger.js';
import { runMain } from '../runtime/process.js';
import { devPaths } from './dev-state.js';
import { startStack, type StackInfo } from './stack.js';

/**
 * `npm start`: the whole stack on one machine. Embedded Postgres unless XEROTIER_DATABASE_URL
 * is set; state under .xerotier/dev/ (XEROTIER_DEV_DIR to move it). Ctrl-C stops everything in
 * reverse order of start; a second Ctrl-C forces.
 */
runMain(async () => {
  const env = process.env;
  const paths = devPaths(env);
  const logger = createLogger({ service: 'devstack', level: 'info', destination: process.stderr });
  const lifecycle = createLifecycle({ logger, graceMs: 40_000 });
  handleShutdownSignals({ lifecycle, logger, graceMs: 40_000 });
  // Registered first, so it runs last: says the whole stack is down.
  lifecycle.defer('farewell', () => logger.info('dev stack stopped'));
  const echo = env['XEROTIER_DEV_QUIET'] === '1' ? undefined : process.stderr;
  try {
    const info = await startStack({
      env,
      paths,
      logger,
      lifecycle,
      ...(echo ? { echo } : {}),
      onServiceExit: (name, code, lastOutput) => {
        process.stderr.write(
          `\n--- last output of ${name} (full log in ${paths.logs}/${name}.log) ---\n${lastOutput.join('\n')}\n---\n`,
        );
        logger.error({ component: name, code }, 'a service exited on its own; stopping the stack');
        void lifecycle.close(`${name} exited`).finally(() => process.exit(1));
      },
    });
    printSummary(info, paths.stackFile);
  } catch (error) {
    await lifecycle.close('start-up failed').catch(() => undefined);
    throw error;
  }
});

function printSummary(info: StackInfo, stackFile: string): void {
  process.stdout.write(
    [
      '',
      'Xerotier dev stack is up',
      `  web UI      ${info.frontend_url}   (chat, /ops, /admin)`,
      `  router      ${info.router_url}   (health ${info.router_url}/readyz)`,
      `  project     ${info.project_id} (default workspace ${info.workspace_id})`,
      `  admin key   ${info.admin_api_key}`,
      `  sign in     ${info.admin_email} / ${info.admin_password}  (POST /v1/auth/sessions; the web UI, xeroctl login)`,
      `  xeroctl     npx xeroctl config add dev --url ${info.router_url} --project ${info.project_id} --ui-url ${info.frontend_url}`,
      `  mesh        ${info.mesh_endpoint}`,
      `  inference   ${info.router_url}/${info.project_id}/default/v1  (OpenAI base URL; model scripted/tiny-chat is the scripted engine, not a real model)`,
      ...info.agents.map((agent) => `  ${agent.role} agent   ${agent.name} ${agent.agent_id} (${agent.status})`),
      `  metrics     ${Object.entries(info.metrics_urls)
        .map(([name, url]) => `${name} ${url}`)
        .join(', ')}`,
      `  database    ${info.database === 'embedded' ? 'embedded Postgres' : 'XEROTIER_DATABASE_URL'}`,
      `  stack file  ${stackFile}`,
      'Press Ctrl-C to stop.',
      '',
    ].join('\n'),
  );
}
