import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createAgent, type Agent } from '../../services/agent/agent.js';
import { silentLogger } from './logger.js';

/** An agent (the shared agent module, no tools or engine) in this process, enrolled and started. */
export async function startTestAgent(options: {
  name: string;
  routerUrl: string;
  joinKey: string;
  onRetired?: (reason: string) => void;
}): Promise<{ agent: Agent; agentId: string; dir: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'xerotier-agent-'));
  const agent = createAgent({
    identity: {
      role: 'xem',
      registrationName: options.name,
      signingKeyPath: join(dir, 'sign.hex'),
      curveKeyPath: join(dir, 'curve.hex'),
      enrollmentPath: join(dir, 'enrollment.json'),
      agentVersion: 'test',
    },
    router: { url: options.routerUrl, joinKey: options.joinKey, allowInsecure: true },
    offer: {
      manifest: () => ({ manifest: { tools: [], workspaces: [] }, version: 1 }),
      capacity: () => ({ max_concurrent: 1, in_use: 0 }),
    },
    events: { onRetired: options.onRetired ?? (() => undefined) },
    logger: silentLogger(),
  });
  const agentId = await agent.start();
  return { agent, agentId, dir };
}
