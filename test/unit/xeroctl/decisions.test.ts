import { describe, expect, it } from 'vitest';
import { FINAL_STATE_LIST } from '../../../services/router/exec/invocation-state.js';
import { CliError, EXIT } from '../../../services/xeroctl/exit-codes.js';
import { apiError, exitCodeOf } from '../../../services/xeroctl/http/router-client.js';
import { parseSseChunk } from '../../../services/xeroctl/http/sse.js';
import { age, cell, render } from '../../../services/xeroctl/output/render.js';
import { colorWanted } from '../../../services/xeroctl/output/terminal.js';
import { parseConfigFile } from '../../../services/xeroctl/settings/config-file.js';
import { resolveConnection } from '../../../services/xeroctl/settings/connection.js';
import { callArguments } from '../../../services/xeroctl/commands/exec.js';
import { WAIT_ENDS, worthReconnecting } from '../../../services/xeroctl/commands/follow.js';
import { checkedPath } from '../../../services/xeroctl/http/router-client.js';
import { policyAssignment } from '../../../services/xeroctl/commands/workspaces.js';
import { lastCheckpoint, verdictText } from '../../../services/xeroctl/commands/audit.js';

const noFile = () => {
  throw new Error('no key file here');
};

describe("xeroctl's decisions", () => {
  it('ends a wait at every final state of the router, and at ambiguous', () => {
    expect([...WAIT_ENDS].sort()).toEqual([...FINAL_STATE_LIST, 'ambiguous'].sort());
  });

  it('reopens a stream that was cut or met a failing router, never one the router refused', () => {
    expect(worthReconnecting(new TypeError('terminated'))).toBe(true);
    expect(worthReconnecting(new CliError('x', EXIT.error, 'unreachable'))).toBe(true);
    expect(worthReconnecting(apiError(502, {}, null))).toBe(true);
    expect(worthReconnecting(apiError(503, { error: { code: 'shutting_down' } }, null))).toBe(true);
    expect(worthReconnecting(apiError(404, { error: { code: 'invocation_not_found' } }, null))).toBe(false);
    expect(worthReconnecting(apiError(401, { error: { code: 'invalid_api_key' } }, null))).toBe(false);
  });

  it('refuses ids that are not plain path segments before anything is sent', () => {
    expect(checkedPath('management/api-keys/key_0123456789abcdef')).toBe('management/api-keys/key_0123456789abcdef');
    for (const bad of ['management/api-keys/../join-keys/jk_1', 'exec/invocations/a?b=1', 'x//y', 'a/b c'])
      expect(() => checkedPath(bad)).toThrow(expect.objectContaining({ exitCode: EXIT.usage }));
  });

  it('maps HTTP answers to exit codes once, and quotes the code and field, never a secret', () => {
    expect([401, 403, 404, 400, 409, 500, 503].map(exitCodeOf)).toEqual([3, 3, 4, 1, 1, 1, 1]);
    const error = apiError(400, { error: { message: 'bad', code: 'invalid_body', param: 'args' } }, 'req-1');
    expect(error.message).toBe('bad (invalid_body, field args)');
    expect(apiError(500, {}, 'req-9').message).toContain('[request req-9]');
  });

  it('takes each setting from the flag, else the environment, else the context', () => {
    const config = parseConfigFile(
      'current_context: a\ncontexts:\n  a: {url: "http://a.test/", project: pa, credentials: {api_key: ka}}\n  b: {url: "http://b.test", project: pb, credentials: {key_file: /k}}\n',
      'config.yaml',
    );
    expect(resolveConnection(config, {}, {}, noFile)).toMatchObject({
      context: 'a',
      url: 'http://a.test',
      project: 'pa',
      key: 'ka',
    });
    expect(resolveConnection(config, {}, { XEROCTL_CONTEXT: 'b' }, () => 'kb\n')).toMatchObject({
      context: 'b',
      key: 'kb',
      keySource: 'key file /k',
    });
    const overridden = resolveConnection(
      config,
      { project: 'flag' },
      { XEROCTL_PROJECT: 'env', XEROCTL_URL: 'http://env.test', XEROCTL_API_KEY: 'ke' },
      noFile,
    );
    expect(overridden).toMatchObject({
      url: 'http://env.test',
      project: 'flag',
      key: 'ke',
      keySource: 'XEROCTL_API_KEY',
    });
    expect(() => resolveConnection(config, { context: 'zz' }, {}, noFile)).toThrow(
      expect.objectContaining({ exitCode: EXIT.notFound }),
    );
    expect(() => resolveConnection({ contexts: {} }, {}, {}, noFile)).toThrow(/no router configured/);
  });

  it('names the key and the file for every problem in the config file', () => {
    const bad = (text: string) => {
      try {
        parseConfigFile(text, '/home/ana/.config/xerotier/config.yaml');
      } catch (error) {
        return (error as CliError).message;
      }
      return 'accepted';
    };
    expect(bad('contexts: [1]')).toBe(
      '/home/ana/.config/xerotier/config.yaml: contexts must be a mapping of name to context',
    );
    expect(bad('contexts: {a: {url: ftp://x, project: p}}')).toContain('contexts.a.url must be an http(s) URL');
    expect(bad('contexts: {a: {url: http://x}}')).toContain('contexts.a.project must be a string');
    expect(bad('contexts: {a: {url: http://x, project: p, credentials: {api_key: k, key_file: f}}}')).toContain(
      'has api_key and key_file: keep exactly one',
    );
    expect(bad('contexts: {"bad name": {url: http://x, project: p}}')).toContain('is not a valid context name');
    expect(bad('{')).toMatch(/not YAML/);
    expect(bad('')).toBe('accepted');
  });

  it('parses call arguments from JSON and key=value pairs, refusing anything else as usage', () => {
    expect(callArguments('{"a":1}', ['b=2', 'c=text', 'd={"x":true}'])).toEqual({
      a: 1,
      b: 2,
      c: 'text',
      d: { x: true },
    });
    expect(() => callArguments('[1]', [])).toThrow(expect.objectContaining({ exitCode: EXIT.usage }));
    expect(() => callArguments('{nope', [])).toThrow(expect.objectContaining({ exitCode: EXIT.usage }));
    expect(() => callArguments(undefined, ['novalue'])).toThrow(expect.objectContaining({ exitCode: EXIT.usage }));
    expect(policyAssignment('min_approvers_irreversible=2')).toEqual(['min_approvers_irreversible', 2]);
    expect(policyAssignment('allow_self_approval=false')).toEqual(['allow_self_approval', false]);
    expect(policyAssignment('approvers=usr_a, usr_b')).toEqual(['approvers', ['usr_a', 'usr_b']]);
  });

  it('reads Server-Sent Events across chunk boundaries, dropping comments', () => {
    const buffer = { pending: '' };
    const events = [
      ...parseSseChunk(buffer, ': keep-alive\n\nevent: state\nid: 3\ndata: {"a"'),
      ...parseSseChunk(buffer, ':1}\n\ndata: one\r\ndata: two\r\n\r\n'),
    ];
    expect(events).toEqual([
      { event: 'state', id: '3', data: '{"a":1}' },
      { event: 'message', data: 'one\ntwo' },
    ]);
  });

  it('prints tables for people and the answer whole for machines', () => {
    const answer = { object: 'list', data: [{ id: 'a_1', n: null, tags: ['x', 'y'] }] };
    const columns = [
      { header: 'ID', value: (row: Record<string, unknown>) => row['id'] },
      { header: 'TAGS', value: (row: Record<string, unknown>) => row['tags'] },
      { header: 'N', value: (row: Record<string, unknown>) => row['n'], wide: true },
    ];
    expect(render(answer, answer.data, columns, 'table')).toBe('ID   TAGS\na_1  x,y\n');
    expect(render(answer, answer.data, columns, 'wide')).toBe('ID   TAGS  N\na_1  x,y   -\n');
    expect(JSON.parse(render(answer, answer.data, columns, 'json'))).toEqual(answer);
    expect(render(answer, answer.data, columns, 'name')).toBe('a_1\n');
    expect(render({ data: [] }, [], columns, 'table')).toBe('No resources found.\n');
    expect(cell({ a: 1 })).toBe('{"a":1}');
    const now = new Date('2026-12-03T12:00:00Z');
    expect([
      age('2026-12-03T11:59:30Z', now),
      age('2026-12-03T11:00:00Z', now),
      age('2026-12-03T12:30:00Z', now),
    ]).toEqual(['30s', '60m', 'in 30m']);
  });

  it('colours only a terminal, never with NO_COLOR or --no-color', () => {
    expect(colorWanted({}, true, true)).toBe(true);
    expect(colorWanted({}, false, true)).toBe(false);
    expect(colorWanted({ NO_COLOR: '' }, true, true)).toBe(false);
    expect(colorWanted({}, true, false)).toBe(false);
    expect(colorWanted({ CLICOLOR_FORCE: '1' }, false, true)).toBe(true);
  });

  it('says an audit verdict and reads the newest checkpoint of a JSON-lines file', () => {
    const broken = {
      ok: false,
      entries: 9,
      first_broken: { position: 4, problem: 'hash_mismatch' },
      signatures: { verified: 1, unverifiable: 0 },
      checkpoint: null,
    };
    expect(verdictText(broken)).toMatch(/^BROKEN: row 4 \(hash_mismatch\)/);
    expect(lastCheckpoint('{"position":1}\n{"position":2}\n', 'c.jsonl')).toEqual({ position: 2 });
    expect(() => lastCheckpoint('nope', 'c.jsonl')).toThrow(expect.objectContaining({ exitCode: EXIT.usage }));
  });
});
