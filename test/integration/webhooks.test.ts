import { createHmac, randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { open, seal } from '../../services/runtime/sealed.js';
import { retryDelaySeconds, signatureHeader, webhookEventFor } from '../../services/router/webhooks/events.js';
import { insertFakeXemAgent } from '../helpers/app-harness.js';
import { execClient } from '../helpers/exec-client.js';
import { waitFor } from '../helpers/processes.js';
import { startRouterHarness, type RouterHarness } from '../helpers/router-harness.js';

interface Received {
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

describe('outbound webhooks for exec events', () => {
  let router: RouterHarness;
  let receiver: Server;
  let receiverUrl: string;
  const received: Received[] = [];
  let failuresLeft = 1;

  beforeAll(async () => {
    router = await startRouterHarness();
    receiver = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString()));
      request.on('end', () => {
        received.push({ headers: request.headers, body });
        response.statusCode = failuresLeft-- > 0 ? 500 : 204;
        response.end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    receiverUrl = `http://127.0.0.1:${(receiver.address() as { port: number }).port}/hooks`;
    await insertFakeXemAgent(router.pool, router.project, 'xem-hooks', [{ name: 'drop_it', risk: 'destructive' }]);
  });
  afterAll(async () => {
    await router.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('signs each event, retries a failed delivery with backoff, and logs every attempt', async () => {
    const api = execClient(router.app, router.project.project.id);
    const admin = router.project.adminKey;
    const created = await api.call('POST', '/management/webhooks', admin, {
      url: receiverUrl,
      events: ['exec.approval_requested', 'exec.approved'],
      description: 'ops channel',
    });
    expect(created.status).toBe(201);
    const secret = created.body['secret'] as string;
    expect(secret).toMatch(/^whsec_/);
    expect(
      JSON.stringify((await api.call('GET', `/management/webhooks/${created.body['id'] as string}`, admin)).body),
    ).not.toContain(secret);

    const requester = await api.mintKey(admin, 'requester');
    const call = await api.invoke(requester.key, 'drop_it', {});
    await api.call('POST', `/exec/approvals/${call.body['approval_id'] as string}/approve`, admin, {});
    // The first attempt gets a 500; the schedule retries 5 s later.
    await waitFor('both events delivered', 20_000, () =>
      received.filter((request) => request.headers['x-xerotier-event-type'] === 'exec.approved').length >= 1 &&
      received.length >= 3
        ? true
        : undefined,
    );

    for (const request of received) {
      const [, t, v1] = /^t=(\d+),v1=([0-9a-f]{64})$/.exec(String(request.headers['x-xerotier-signature']))!;
      expect(v1).toBe(createHmac('sha256', secret).update(`${t}.${request.body}`).digest('hex'));
      const event = JSON.parse(request.body) as {
        id: string;
        object: string;
        type: string;
        data: Record<string, unknown>;
      };
      expect(event).toMatchObject({
        object: 'event',
        id: request.headers['x-xerotier-event-id'],
        data: { invocation_id: call.body['id'], tool_name: 'drop_it', workspace_id: router.project.workspace.id },
      });
    }
    const types = received.map((request) => request.headers['x-xerotier-event-type']);
    expect(types.filter((type) => type === 'exec.approval_requested')).toHaveLength(2);
    // The worker records an attempt after the receiver answered it: read the log once it has.
    const requested = await waitFor('the retry recorded', 10_000, async () => {
      const deliveries = await api.call(
        'GET',
        `/management/webhooks/${created.body['id'] as string}/deliveries`,
        admin,
      );
      const row = (
        deliveries.body['data'] as { event_type: string; status: string; attempts: number; last_status_code: number }[]
      ).find((entry) => entry.event_type === 'exec.approval_requested');
      return row && row.attempts >= 2 ? row : undefined;
    });
    expect(requested).toMatchObject({ status: 'delivered', attempts: 2, last_status_code: 204 });
  });

  it('refuses plain-http URLs unless allowed, credentials in URLs, and unknown event types', async () => {
    const api = execClient(router.app, router.project.project.id);
    const admin = router.project.adminKey;
    expect(
      (
        await api.call('POST', '/management/webhooks', admin, {
          url: 'https://user:pw@example.com/x',
          events: ['exec.completed'],
        })
      ).body,
    ).toMatchObject({ error: { code: 'invalid_body', param: 'url' } });
    expect(
      (
        await api.call('POST', '/management/webhooks', admin, {
          url: 'https://example.com/x',
          events: ['exec.everything'],
        })
      ).status,
    ).toBe(400);
    expect(
      (
        await api.call('POST', '/management/webhooks', admin, {
          url: 'ftp://example.com/x',
          events: ['exec.completed'],
        })
      ).status,
    ).toBe(400);
  });
});

describe('attack: webhooks pointed inside', () => {
  let router: RouterHarness;
  let receiver: Server;
  let port: number;
  let hits = 0;

  beforeAll(async () => {
    // No allowlist, as a production router starts; a name the test resolves to loopback.
    router = await startRouterHarness({
      webhookTargets: [],
      resolve: async (hostname) => (hostname === 'rebind.test' ? [{ address: '127.0.0.1', family: 4 }] : []),
    });
    receiver = createServer((_request, response) => {
      hits += 1;
      response.end('internal secrets');
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    port = (receiver.address() as { port: number }).port;
    await insertFakeXemAgent(router.pool, router.project, 'xem-ssrf', [{ name: 'drop_it', risk: 'destructive' }]);
  });
  afterAll(async () => {
    await router.close();
    await new Promise((resolve) => receiver.close(resolve));
  });

  it('refuses loopback, link-local, metadata and private addresses when the endpoint is created', async () => {
    const api = execClient(router.app, router.project.project.id);
    for (const url of [
      `http://127.0.0.1:${port}/x`,
      'http://[::1]/x',
      'http://169.254.169.254/latest/meta-data/',
      'http://10.0.0.8/x',
      'http://localhost/x',
      'http://[::ffff:127.0.0.1]/x',
    ]) {
      const created = await api.call('POST', '/management/webhooks', router.project.adminKey, {
        url,
        events: ['exec.approval_requested'],
      });
      expect(created, url).toMatchObject({
        status: 400,
        body: { error: { code: 'webhook_target_refused', param: 'url' } },
      });
    }
  });

  it('refuses a name that resolves inside at delivery time, records why and how long, never the body, and does not retry', async () => {
    const api = execClient(router.app, router.project.project.id);
    const created = await api.call('POST', '/management/webhooks', router.project.adminKey, {
      url: `http://rebind.test:${port}/hook`,
      events: ['exec.approval_requested'],
    });
    expect(created.status).toBe(201);
    const requester = await api.mintKey(router.project.adminKey, 'requester');
    await api.invoke(requester.key, 'drop_it', {});
    const delivery = await waitFor('the refused delivery', 10_000, async () => {
      const deliveries = await api.call(
        'GET',
        `/management/webhooks/${created.body['id'] as string}/deliveries`,
        router.project.adminKey,
      );
      const row = (
        deliveries.body['data'] as {
          status: string;
          last_error: string | null;
          last_duration_ms: number | null;
          attempts: number;
        }[]
      )[0];
      return row && row.attempts > 0 ? row : undefined;
    });
    expect(delivery).toMatchObject({
      status: 'failed',
      attempts: 1,
      last_error: expect.stringContaining('target refused: rebind.test resolves to a loopback address (127.0.0.1)'),
      last_duration_ms: expect.any(Number),
    });
    expect(JSON.stringify(delivery)).not.toContain('internal secrets');
    expect(hits).toBe(0);
  });
});

describe('webhook building blocks', () => {
  it('maps audit entries to the exec catalogue with stable ids', () => {
    const at = new Date('2026-11-22T10:00:00Z');
    const fact = {
      position: '255',
      at,
      actor: 'agent:agt_1',
      event: 'invocation.succeeded',
      subject: 'inv_1',
      detail: { attempt: 1, agent_id: 'agt_1', result: { status: 'succeeded' } },
      invocation: { id: 'inv_1', tool: 'pg_list', workspace_id: 'ws_1' },
    };
    expect(webhookEventFor(fact)).toEqual({
      id: 'evt_00000000000000ff',
      object: 'event',
      type: 'exec.completed',
      created_at: at.toISOString(),
      data: {
        invocation_id: 'inv_1',
        tool_name: 'pg_list',
        workspace_id: 'ws_1',
        attempt: 1,
        agent_id: 'agt_1',
        result: { status: 'succeeded' },
      },
    });
    expect(webhookEventFor({ ...fact, event: 'invocation.running' })).toBeUndefined();
    expect(
      webhookEventFor({ ...fact, event: 'agent.lease_stale', subject: 'agt_9', invocation: null, detail: {} }),
    ).toMatchObject({ type: 'exec.agent_offline', data: { agent_id: 'agt_9' } });
    // A person's decision names them and how they decided.
    const approved = webhookEventFor({
      ...fact,
      actor: 'usr_0123456789ab',
      event: 'approval.approved',
      subject: 'apr_1',
      detail: { invocation_id: 'inv_1', via: { key_id: 'key_1', channel: 'ui' } },
    });
    expect(approved?.data).toMatchObject({ principal_id: 'usr_0123456789ab', via: { key_id: 'key_1', channel: 'ui' } });
  });

  it('signs timestamp.body, backs off on a fixed schedule, and seals secrets so tampering shows', () => {
    expect(signatureHeader('whsec_x', 1_700_000_000, '{}')).toBe(
      `t=1700000000,v1=${createHmac('sha256', 'whsec_x').update('1700000000.{}').digest('hex')}`,
    );
    expect([1, 2, 3, 8, 9].map(retryDelaySeconds)).toEqual([5, 30, 120, 14_400, undefined]);
    const key = randomBytes(32);
    const sealed = seal(key, 'whsec_secret');
    expect(open(key, sealed)).toBe('whsec_secret');
    sealed[14] = sealed[14]! ^ 1;
    expect(() => open(key, sealed)).toThrow();
    expect(() => open(randomBytes(32), seal(key, 'x'))).toThrow();
  });
});
