import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestAgent } from '../helpers/test-agent.js';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { meshRoutingId } from '../../services/protocol/routing-id.js';
import { waitFor } from '../helpers/processes.js';
import { RawPeer, type RawPeerOptions } from '../helpers/raw-agent.js';
import { startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';

// Each new libzmq socket takes the next value of the C library's unseeded rand(), and a ROUTER
// counts its auto routing ids up from the value it took. These are the first auto ids of the
// first eight sockets of any process: what a squatter would claim (security-anchors §0.4).
const EARLY_AUTO_IDS = `
import { Dealer, Router } from 'zeromq';
const routers = Array.from({ length: 8 }, () => new Router());
const ids = [];
for (const router of routers) {
  await router.bind('tcp://127.0.0.1:*');
  const peer = new Dealer();
  peer.connect(router.lastEndpoint);
  await peer.send('x');
  ids.push((await router.receive())[0].toString('hex'));
}
console.log(JSON.stringify(ids));
process.exit(0);
`;

// The squat against a bare ROUTER, in its own process because it aborts it: the control that
// shows the attack below is real on this libzmq.
const bareRouterSquat = (squatHex: string) => `
import { Dealer, Router } from 'zeromq';
const router = new Router();
await router.bind('tcp://127.0.0.1:*');
const squatter = new Dealer();
squatter.routingId = Buffer.from('${squatHex}', 'hex');
squatter.connect(router.lastEndpoint);
await squatter.send('x');
await router.receive();
const idless = new Dealer();
idless.connect(router.lastEndpoint);
await idless.send('y');
await router.receive();
process.exit(0);
`;

const runModule = (source: string) =>
  spawnSync(process.execPath, ['--input-type=module', '-e', source], {
    cwd: REPO_ROOT,
    encoding: 'utf8',
    timeout: 20_000,
  });

describe('mesh fails closed and survives hostile transports', () => {
  let router: RouterHarness;
  const peers: RawPeer[] = [];
  const peer = (options: RawPeerOptions = {}, routerKey?: string) => {
    const created = new RawPeer(router.mesh.server.endpoint, routerKey ?? router.routerCurvePublicKey, options);
    peers.push(created);
    return created;
  };
  beforeAll(async () => {
    router = await startRouterHarness();
    earlyAutoIds = JSON.parse(runModule(EARLY_AUTO_IDS).stdout) as string[];
  });
  afterAll(async () => {
    for (const each of peers) each.close();
    await router.close();
  });

  let earlyAutoIds: string[] = [];

  it('control: the routing-id squat aborts a bare libzmq ROUTER process', () => {
    expect(earlyAutoIds[0]).toBe('006b8b4567');
    const run = runModule(bareRouterSquat(earlyAutoIds[0]!));
    expect(run.signal).toBe('SIGABRT');
    expect(run.stderr).toContain('Assertion failed');
  });

  it('survives the same squat on every early auto id by an enrolled key; the id-less connection is never heard', async () => {
    expect(earlyAutoIds).toHaveLength(8);
    const squatter = await router.enrollPeer('xem-squatter');
    const hello = { agent_id: squatter.agentId, role: 'xem', agent_version: 'x' } as const;
    const before = router.mesh.server.stats.dropped.foreignRoutingId;
    for (const id of earlyAutoIds)
      await peer({ curve: squatter.curve, signing: squatter.signing, routingId: Buffer.from(id, 'hex') }).send(
        'hello',
        hello,
        { sign: false },
      );
    await waitFor('the squats', 3_000, () =>
      router.mesh.server.stats.dropped.foreignRoutingId >= before + 8 ? true : undefined,
    );
    // Unscrambled, the gateway's id would be the second of the list (its ZAP socket took the first).
    const idless = peer({ curve: squatter.curve, signing: squatter.signing, routingId: null });
    await idless.send('hello', hello, { sign: false });
    await waitFor('its hello refused', 3_000, () =>
      router.mesh.server.stats.dropped.foreignRoutingId >= before + 9 ? true : undefined,
    );
    expect(await idless.next('challenge', 300)).toBeUndefined();

    const honest = await router.enrollPeer('xem-honest');
    const bound = peer({ curve: honest.curve, signing: honest.signing, routingId: meshRoutingId(honest.agentId) });
    expect(await bound.bind(honest.agentId)).toMatchObject({ agent_id: honest.agentId });
    expect(router.mesh.server.stats.gatewayRestarts).toBe(0);
  });

  it('even when the squat lands (auto ids left predictable), only the gateway dies: the router restarts it and agents come back', async () => {
    const exposed = await startRouterHarness({ scrambleAutoIds: false, leaseRenewalIntervalMs: 200 });
    const dir = mkdtempSync(join(tmpdir(), 'xerotier-squat-'));
    try {
      const { agent: honest, agentId: honestId } = await startTestAgent({
        name: 'xem-bystander',
        routerUrl: exposed.url,
        joinKey: await exposed.mintJoinKey(),
      });
      const before = await waitFor('bystander bound', 5_000, () =>
        honest.bound ? exposed.mesh.server.connections.routingOf(honestId) : undefined,
      );
      const squatter = await exposed.enrollPeer('xem-squatter');
      const hello = { agent_id: squatter.agentId, role: 'xem', agent_version: 'x' } as const;
      const attackers: RawPeer[] = [];
      for (const id of earlyAutoIds)
        attackers.push(
          new RawPeer(exposed.mesh.server.endpoint, exposed.routerCurvePublicKey, {
            curve: squatter.curve,
            signing: squatter.signing,
            routingId: Buffer.from(id, 'hex'),
          }),
        );
      for (const attacker of attackers) await attacker.send('hello', hello, { sign: false });
      await waitFor('the squats', 3_000, () =>
        exposed.mesh.server.stats.dropped.foreignRoutingId >= 8 ? true : undefined,
      );
      attackers.push(
        new RawPeer(exposed.mesh.server.endpoint, exposed.routerCurvePublicKey, {
          curve: squatter.curve,
          signing: squatter.signing,
          routingId: null,
        }),
      );
      await attackers.at(-1)!.send('hello', hello, { sign: false });

      await waitFor('the gateway to abort and come back', 5_000, () =>
        exposed.mesh.server.stats.gatewayRestarts === 1 ? true : undefined,
      );
      expect((await exposed.app.inject('/readyz')).statusCode).toBe(200);
      const after = await waitFor('bystander bound again', 10_000, () =>
        honest.bound ? exposed.mesh.server.connections.routingOf(honestId) : undefined,
      );
      expect(after).not.toBe(before);
      for (const attacker of attackers) attacker.close();
      await honest.close();
    } finally {
      await exposed.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("an attacker holding an agent's exact routing id neither hears its traffic nor stops it", async () => {
    const victim = await router.enrollPeer('xem-victim-of-squat');
    const attacker = await router.enrollPeer('xem-id-thief');
    const routingId = meshRoutingId(victim.agentId);
    const real = peer({ curve: victim.curve, signing: victim.signing, routingId });
    expect(await real.bind(victim.agentId)).toBeDefined();
    const thief = peer({ curve: attacker.curve, signing: attacker.signing, routingId });
    await thief.send('hello', { agent_id: victim.agentId, role: 'xem', agent_version: 'x' }, { sign: false });
    // Showing that nothing happens needs a window: the thief's hello has no answer to wait for.
    await new Promise((resolve) => setTimeout(resolve, 300));

    await real.send('lease_renewal', real.renewal(), { id: 'after-squat' });
    expect((await real.next('ack'))?.body).toMatchObject({ ack_id: 'after-squat', status: 'ok' });
    expect(await thief.next('challenge', 300)).toBeUndefined();
    expect(await thief.next('ack', 100)).toBeUndefined();
  });

  it('refuses a hello whose connection id was not chosen for the agent it claims', async () => {
    const agent = await router.enrollPeer('xem-borrowed-id');
    const other = await router.enrollPeer('xem-lender');
    const before = router.mesh.server.stats.dropped.foreignRoutingId;
    const wrongPrefix = peer({ curve: agent.curve, signing: agent.signing, routingId: meshRoutingId(other.agentId) });
    expect(await wrongPrefix.bind(agent.agentId)).toBeUndefined();
    const bareId = peer({ curve: agent.curve, signing: agent.signing, routingId: agent.agentId });
    expect(await bareId.bind(agent.agentId)).toBeUndefined();
    expect(router.mesh.server.stats.dropped.foreignRoutingId).toBe(before + 2);
  });

  it('refuses handshakes from a key that keeps opening connections, and only that key', async () => {
    const noisy = await router.enrollPeer('xem-noisy');
    const { throttled } = router.mesh.zap.decisions;
    for (let index = 0; index < 12; index += 1) {
      const opened = peer({ curve: noisy.curve, signing: noisy.signing, routingId: meshRoutingId(noisy.agentId) });
      await opened.send('hello', { agent_id: noisy.agentId, role: 'xem', agent_version: 'x' }, { sign: false });
    }
    await waitFor('throttled handshakes', 5_000, () =>
      router.mesh.zap.decisions.throttled >= throttled + 2 ? true : undefined,
    );

    const quiet = await router.enrollPeer('xem-quiet');
    const fine = peer({ curve: quiet.curve, signing: quiet.signing, routingId: meshRoutingId(quiet.agentId) });
    expect(await fine.bind(quiet.agentId)).toBeDefined();
  });

  it('admits nobody once the ZAP handler is gone, not even an enrolled agent', async () => {
    const enrolled = await router.enrollPeer('xem-after-zap');
    router.mesh.zap.close();
    try {
      const late = peer({
        curve: enrolled.curve,
        signing: enrolled.signing,
        routingId: meshRoutingId(enrolled.agentId),
      });
      expect(await late.bind(enrolled.agentId)).toBeUndefined();
      late.close();
    } finally {
      // Open again for whatever case runs next; the refused peer is gone, so nothing slips in.
      router.mesh.zap.open();
    }
  });
});
