import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pg from 'pg';
import { insertEndpoint } from '../../services/router/store/endpoints.js';
import { claimDecided, isParked, parkTurn } from '../../services/router/store/parked-turns.js';
import { insertResponse } from '../../services/router/store/responses.js';
import { startAppHarness, type AppHarness } from '../helpers/app-harness.js';
import { execClient } from '../helpers/exec-client.js';
import { bearer, seedProject, type SeededProject } from '../helpers/fixtures.js';

/** A stored response's stream replayed from a sequence number, and parked turns claimed once. */
describe('stored responses: stream replay and parked turns', () => {
  let harness: AppHarness;
  let other: SeededProject;
  let key: string;
  let endpointId: string;
  const id = `resp_${'ab'.repeat(16)}`;
  const events = Array.from({ length: 5 }, (_, index) => ({ type: `response.step_${index}`, sequence_number: index }));

  beforeAll(async () => {
    harness = await startAppHarness();
    other = await seedProject(harness.pool, 'other');
    const api = execClient(harness.app, harness.acme.project.id);
    key = (await api.mintKey(harness.acme.adminKey, 'Reader', ['inference'], ['operator'])).key;
    const endpoint = await insertEndpoint(harness.pool, harness.acme.project.id, {
      slug: 'default',
      models: ['m'],
      service_tier: 'self_hosted',
      defaults: {},
    });
    endpointId = endpoint!.id;
    await insertResponse(harness.pool, {
      projectId: harness.acme.project.id,
      endpointId,
      previousResponseId: null,
      status: 'completed',
      history: [],
      response: { id, object: 'response', status: 'completed', output: [] },
      events: [...events.slice(0, 4), { type: 'response.completed', sequence_number: 4 }],
    });
  });
  afterAll(() => harness.close());

  const get = (path: string, project = harness.acme.project.id, secret = key) =>
    harness.app.inject({
      method: 'GET',
      url: `/${project}/default/v1/responses/${id}${path}`,
      headers: bearer(secret),
    });
  const sse = (payload: string) =>
    [...payload.matchAll(/^data: (.*)$/gm)].map((match) => JSON.parse(match[1]!) as { sequence_number: number });

  it('replays every event after starting_after, then ends at the terminal event', async () => {
    const all = await get('?stream=true');
    expect(all.headers['content-type']).toContain('text/event-stream');
    expect(sse(all.payload).map((event) => event.sequence_number)).toEqual([0, 1, 2, 3, 4]);
    const rest = await get('?stream=true&starting_after=2');
    expect(sse(rest.payload).map((event) => event.sequence_number)).toEqual([3, 4]);
    expect((await get('?stream=false')).json()).toMatchObject({ id, status: 'completed' });
  });

  it("refuses a bad sequence number with the envelope, and reads another project's response as unknown", async () => {
    const bad = await get('?stream=true&starting_after=two');
    expect(bad.statusCode).toBe(400);
    expect(bad.json().error).toMatchObject({ code: 'invalid_parameter', param: 'starting_after' });
    const stranger = await get('?stream=true', other.project.id, other.adminKey);
    expect(stranger.statusCode).toBe(404);
    expect(stranger.json().error.code).toBe('response_not_found');
  });

  it('a parked turn whose approvals are all decided is claimed by exactly one of many racing routers', async () => {
    const approval = `apr_${'cd'.repeat(8)}`;
    await parkTurn(harness.pool, {
      response_id: id,
      project_id: harness.acme.project.id,
      endpoint_id: endpointId,
      approval_ids: [approval],
      request: { model: 'm' },
      principal_id: harness.acme.adminId,
      key_id: 'key_x',
      chat_id: null,
      branch_id: null,
    });
    expect(await isParked(harness.pool, harness.acme.project.id, id)).toBe(true);
    // No approval row with that id is pending (none exists): the turn is ready to go on.
    const clients = await Promise.all(Array.from({ length: 4 }, () => connect(harness.db.url)));
    try {
      const claims = await Promise.all(clients.map((client) => claimDecided(client, null)));
      expect(claims.flat().map((turn) => turn.response_id)).toEqual([id]);
    } finally {
      await Promise.all(clients.map((client) => client.end()));
    }
    expect(await isParked(harness.pool, harness.acme.project.id, id)).toBe(false);
    const status = await harness.pool.query('SELECT status FROM responses WHERE id = $1', [id]);
    expect(status.rows[0].status).toBe('in_progress');
  });
});

async function connect(url: string): Promise<pg.Client> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  return client;
}
