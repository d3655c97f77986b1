import { randomBytes } from 'node:crypto';
import type { FastifyInstance } from 'fastify';
import { bearer } from './fixtures.js';
import { waitFor } from './processes.js';
import { FINAL_STATE_LIST } from '../../services/router/exec/invocation-state.js';

export interface InvocationBody {
  id: string;
  state: string;
  attempt: number;
  agent_id: string | null;
  approval_id?: string | null;
  result: { status: string; exit_code: number | null; error: { code: string } | null } | null;
  history?: { state: string; cause: string | null; attempt: number | null; reason?: string }[];
}

/** The exec and management APIs as a test drives them (through inject: no sockets). */
export function execClient(app: FastifyInstance, projectId: string) {
  const call = async (
    method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE',
    path: string,
    key: string,
    payload?: object,
  ) => {
    const response = await app.inject({
      method,
      url: `/${projectId}/v1${path}`,
      headers: bearer(key),
      ...(payload ? { payload } : {}),
    });
    return {
      status: response.statusCode,
      body: (response.body === '' ? {} : response.json()) as Record<string, unknown> & {
        error?: { code: string; param: string | null };
      },
    };
  };
  const client = {
    call,
    /**
     * A key of a new person in the project (through the API, as an admin would): reviewers in
     * tests are other people than the requester, since self-approval goes by person, not key.
     */
    async mintKey(
      adminKey: string,
      name: string,
      scopes: string[] = ['execution'],
      roles: string[] = ['operator', 'approver'],
    ): Promise<{ id: string; key: string; principalId: string }> {
      const email = `${name.toLowerCase().replace(/[^a-z0-9]+/g, '-')}-${randomBytes(4).toString('hex')}@people.test`;
      const user = await call('POST', '/management/users', adminKey, { email, display_name: name, roles });
      if (user.status !== 201) throw new Error(`could not add a user: ${JSON.stringify(user.body)}`);
      const owner = user.body['id'] as string;
      const minted = await call('POST', '/management/api-keys', adminKey, { name, scopes, owner });
      if (minted.status !== 201) throw new Error(`could not mint a key: ${JSON.stringify(minted.body)}`);
      return { id: minted.body['id'] as string, key: minted.body['key'] as string, principalId: owner };
    },
    async bind(adminKey: string, workspaceId: string, agentId: string): Promise<void> {
      const bound = await call('POST', `/management/workspaces/${workspaceId}/bindings`, adminKey, {
        agent_id: agentId,
      });
      if (bound.status !== 201) throw new Error(`could not bind: ${JSON.stringify(bound.body)}`);
    },
    invoke: (key: string, tool: string, args: Record<string, unknown>, extra: object = {}) =>
      call('POST', '/exec/invocations', key, { tool, args, ...extra }),
    async invocation(key: string, id: string): Promise<InvocationBody> {
      return (await call('GET', `/exec/invocations/${id}`, key)).body as unknown as InvocationBody;
    },
    /** Waits until the invocation reaches `state` (or any final one, which then fails the wait). */
    async until(key: string, id: string, state: string, timeoutMs = 15_000): Promise<InvocationBody> {
      return waitFor(`${id} to be ${state}`, timeoutMs, async () => {
        const current = await client.invocation(key, id);
        if (current.state === state) return current;
        if ((FINAL_STATE_LIST as readonly string[]).includes(current.state))
          throw new Error(`${id} ended ${current.state}, not ${state}: ${JSON.stringify(current)}`);
        return undefined;
      });
    },
  };
  return client;
}

export type ExecClient = ReturnType<typeof execClient>;
