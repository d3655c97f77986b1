import { describe, expect, it } from 'vitest';
import { ExecEventHub, type ExecEvent } from '../../../services/router/exec/exec-events.js';
import { ArgumentValidator, buildCatalog } from '../../../services/router/exec/tool-catalog.js';

const tool = (name: string, extra: object = {}) => ({
  name,
  description: name,
  risk: 'read',
  parameters: { type: 'object' },
  timeout_ms: 1_000,
  ...extra,
});
const row = (id: string, status: 'active' | 'stale', tools: object[], extra: object = {}) => ({
  id,
  status,
  exec_paused: false,
  manifest: { tools, workspaces: ['ws_a'] },
  ...extra,
});

describe('tool catalog', () => {
  it('merges manifests, counting only active, unpaused agents with the tool available as online', () => {
    const catalog = buildCatalog([
      row('agt_1', 'active', [tool('pg_list'), tool('kubectl_get', { available: false })]),
      row('agt_2', 'stale', [tool('pg_list')]),
      row('agt_3', 'active', [tool('pg_list')], { exec_paused: true }),
    ]);
    expect(catalog.get('pg_list')).toMatchObject({
      online_agents: 1,
      agents: [{ agent_id: 'agt_1' }, { agent_id: 'agt_2' }, { agent_id: 'agt_3' }],
    });
    expect(catalog.get('kubectl_get')).toMatchObject({ online_agents: 0 });
  });

  it('takes the strictest risk bound agents declare and keeps the disagreement', () => {
    const catalog = buildCatalog([
      row('agt_2', 'active', [tool('pg_drop_database', { risk: 'read', bundle_version: '9.9.9' })]),
      row('agt_1', 'active', [tool('pg_drop_database', { risk: 'irreversible', bundle_version: '1.0.0' })]),
    ]);
    const dropped = catalog.get('pg_drop_database')!;
    expect(dropped).toMatchObject({
      risk: 'irreversible',
      declared_risk: 'irreversible',
      conflict: { fields: ['risk', 'bundle_version'] },
    });
    expect(dropped.conflict!.offers.map((offer) => [offer.agent_id, offer.risk])).toEqual([
      ['agt_1', 'irreversible'],
      ['agt_2', 'read'],
    ]);
    // The same disagreement seen in another order has the same signature (recorded once).
    const again = buildCatalog([
      row('agt_1', 'active', [tool('pg_drop_database', { risk: 'irreversible', bundle_version: '1.0.0' })]),
      row('agt_2', 'active', [tool('pg_drop_database', { risk: 'read', bundle_version: '9.9.9' })]),
    ]);
    expect(again.get('pg_drop_database')!.conflict!.signature).toBe(dropped.conflict!.signature);
    expect(
      buildCatalog([row('agt_1', 'active', [tool('pg_list')]), row('agt_2', 'active', [tool('pg_list')])]).get(
        'pg_list',
      )!.conflict,
    ).toBeNull();
  });

  it('lets an override raise a risk but never lower it, and fails closed on malformed descriptors', () => {
    const raised = buildCatalog(
      [row('agt_1', 'active', [tool('pg_vacuum', { risk: 'write' })])],
      new Map([['pg_vacuum', { risk: 'destructive' as const, reason: 'prod' }]]),
    );
    expect(raised.get('pg_vacuum')).toMatchObject({
      risk: 'destructive',
      declared_risk: 'write',
      override: { risk: 'destructive' },
    });
    const kept = buildCatalog(
      [row('agt_1', 'active', [tool('pg_drop', { risk: 'irreversible' })])],
      new Map([['pg_drop', { risk: 'write' as const, reason: null }]]),
    );
    expect(kept.get('pg_drop')!.risk).toBe('irreversible');
    const odd = buildCatalog([row('agt_1', 'active', [{ name: 'odd', risk: 'harmless', parameters: 'none' }])]);
    expect(odd.get('odd')).toMatchObject({ risk: 'irreversible', parameters: { not: {} } });
    expect(new ArgumentValidator().check(odd.get('odd')!.parameter_schemas, {})).toBeDefined();
  });

  it('checks arguments against every distinct schema the bound agents carry', () => {
    const loose = { type: 'object' };
    const strictOne = { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] };
    const catalog = buildCatalog([
      row('agt_1', 'active', [tool('t', { parameters: loose })]),
      row('agt_2', 'active', [tool('t', { parameters: strictOne })]),
    ]);
    expect(catalog.get('t')!.parameter_schemas).toHaveLength(2);
    expect(new ArgumentValidator().check(catalog.get('t')!.parameter_schemas, {})).toMatchObject({ path: 'args.name' });
  });

  it('validates arguments and names the offending field', () => {
    const validator = new ArgumentValidator();
    const parameters = {
      type: 'object',
      properties: {
        name: { type: 'string', pattern: '^[a-z]+$' },
        opts: { type: 'object', properties: { n: { type: 'integer' } } },
      },
      required: ['name'],
      additionalProperties: false,
    };
    expect(validator.check(parameters, { name: 'ok' })).toBeUndefined();
    expect(validator.check(parameters, {})).toMatchObject({ path: 'args.name' });
    expect(validator.check(parameters, { name: 'BAD' })).toMatchObject({
      path: 'args.name',
      message: expect.stringContaining('pattern'),
    });
    expect(validator.check(parameters, { name: 'ok', extra: 1 })).toMatchObject({ path: 'args.extra' });
    expect(validator.check(parameters, { name: 'ok', opts: { n: 'x' } })).toMatchObject({ path: 'args.opts.n' });
  });
});

describe('exec event hub', () => {
  it('delivers to subscribers of the invocation and of the whole project, and ignores foreign payloads', () => {
    const hub = new ExecEventHub();
    const seen: string[] = [];
    const stop = hub.subscribe('proj_a', 'inv_1', (event) => seen.push(`one:${event.kind}`));
    hub.subscribe('proj_a', null, (event) => seen.push(`all:${event.invocation_id}`));
    const event = (invocation: string, project = 'proj_a'): ExecEvent => ({
      kind: 'state',
      project_id: project,
      invocation_id: invocation,
      state: 'queued',
      attempt: 0,
      agent_id: null,
      at: '',
    });
    hub.deliver(JSON.stringify(event('inv_1')));
    hub.deliver(JSON.stringify(event('inv_2')));
    hub.deliver(JSON.stringify(event('inv_1', 'proj_b')));
    hub.deliver('not json');
    stop();
    hub.deliver(JSON.stringify(event('inv_1')));
    expect(seen).toEqual(['one:state', 'all:inv_1', 'all:inv_2', 'all:inv_1']);
  });
});
