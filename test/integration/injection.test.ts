import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAppHarness, type AppHarness } from '../helpers/app-harness.js';
import type { Pool } from '../../services/router/store/pool.js';
import { bearer, type SeededProject } from '../helpers/fixtures.js';

const PAYLOADS = [
  "' OR '1'='1",
  "x'; DROP TABLE invocations; --",
  "inv_000000000000' OR 1=1 --",
  '1 UNION SELECT secret_hash FROM api_keys',
  '%27%3B%20DELETE%20FROM%20agents%3B--',
  '../../etc/passwd',
  'ws_000000000000%00',
  '$1',
  'a'.repeat(5_000),
  'key_000000000000) OR (1=1',
];
const enc = encodeURIComponent;

describe('injection attempts on every path parameter and list filter', () => {
  let harness: AppHarness;
  let pool: Pool;
  let app: FastifyInstance;
  let acme: SeededProject;

  beforeAll(async () => {
    harness = await startAppHarness();
    ({ pool, app, acme } = harness);
  });
  afterAll(() => harness.close());

  /** Every table's content, hashed: any change anywhere shows. */
  const digest = async () => {
    const tables = await pool.query<{ table_name: string }>(
      "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' ORDER BY table_name",
    );
    const parts: string[] = [];
    for (const { table_name: table } of tables.rows) {
      const hashed = await pool.query<{ h: string | null }>(
        `SELECT md5(string_agg(t::text, '|' ORDER BY t::text)) AS h FROM ${table} t`,
      );
      parts.push(`${table}:${hashed.rows[0]!.h}`);
    }
    return parts.join('\n');
  };

  it('answers 4xx with the envelope and changes nothing', async () => {
    const project = acme.project.id;
    // The first authenticated request on each surface records last_used_at; make them before the snapshot.
    await app.inject({ url: `/${project}/v1/management/agents`, headers: bearer(acme.adminKey) });
    await app.inject({ url: `/${project}/v1/exec/tools`, headers: bearer(acme.adminKey) });
    const before = await digest();
    const urls = PAYLOADS.flatMap((raw) => {
      const p = enc(raw);
      return [
        `/${p}/v1/management/agents`,
        `/${p}/v1/exec/tools`,
        ...['api-keys', 'join-keys', 'agents', 'workspaces'].map((kind) => `/${project}/v1/management/${kind}/${p}`),
        `/${project}/v1/management/agents/${p}/tools`,
        `/${project}/v1/management/agents/${p}/events`,
        `/${project}/v1/management/workspaces/${p}/bindings`,
        `/${project}/v1/management/approval-policies/${p}`,
        ...['subject', 'event', 'actor', 'before', 'limit'].map(
          (filter) => `/${project}/v1/management/audit?${filter}=${p}`,
        ),
        ...['agents', 'api-keys', 'join-keys', 'workspaces'].map(
          (kind) => `/${project}/v1/management/${kind}?after=${p}`,
        ),
        `/${project}/v1/exec/tools/${p}`,
        `/${project}/v1/exec/invocations/${p}`,
        `/${project}/v1/exec/invocations/${p}/output`,
        `/${project}/v1/exec/approvals/${p}`,
        ...['state', 'tool', 'risk', 'workspace_id', 'after', 'limit'].map(
          (filter) => `/${project}/v1/exec/invocations?${filter}=${p}`,
        ),
        ...['state', 'workspace_id', 'after'].map((filter) => `/${project}/v1/exec/approvals?${filter}=${p}`),
      ];
    });
    const posts = PAYLOADS.flatMap((raw) => {
      const p = enc(raw);
      return [
        `/${project}/v1/exec/invocations/${p}/cancel`,
        `/${project}/v1/exec/approvals/${p}/approve`,
        `/${project}/v1/management/agents/${p}/pause-exec`,
        `/${project}/v1/management/api-keys/${p}/rotate`,
      ];
    });
    for (const url of urls) {
      const response = await app.inject({ url, headers: bearer(acme.adminKey) });
      expect([400, 404, 414], url).toContain(response.statusCode);
      expect(response.headers['x-request-id'], url).toBeDefined();
      expect(response.json().error.code, url).toMatch(/^[a-z_]+$/);
    }
    for (const url of posts) {
      const response = await app.inject({ method: 'POST', url, headers: bearer(acme.adminKey), payload: {} });
      expect([400, 404, 414], url).toContain(response.statusCode);
    }
    for (const raw of PAYLOADS) {
      const body = { tool: raw, args: { name: raw }, workspace_id: raw };
      const response = await app.inject({
        method: 'POST',
        url: `/${project}/v1/exec/invocations`,
        headers: bearer(acme.adminKey),
        payload: body,
      });
      expect(response.statusCode).toBe(400);
    }
    expect(await digest()).toBe(before);
  });
});
