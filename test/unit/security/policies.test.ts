import { describe, expect, it } from 'vitest';
import { wireProblem } from '../../../services/protocol/wire-safety.js';
import { classifyAddress, decideTarget, parseAllowlist } from '../../../services/router/webhooks/target-policy.js';
import { decideEnrollment, type LiveAgent } from '../../../services/router/enrollment/replacement.js';
import { ownershipOf } from '../../../services/router/exec/attempt-owners.js';
import {
  auditSigner,
  checkpointSignedBy,
  publicKeyHex,
  signCheckpoint,
} from '../../../services/router/audit/checkpoint.js';

describe('webhook target policy', () => {
  it('classifies the addresses a webhook must not reach by default', () => {
    expect(
      [
        '127.0.0.1',
        '::1',
        '10.1.2.3',
        '172.20.0.1',
        '192.168.1.1',
        '169.254.169.254',
        'fe80::1',
        'fd00:ec2::254',
        '0.0.0.0',
        '::ffff:127.0.0.1',
        '::ffff:7f00:1',
        '100.64.0.1',
        '224.0.0.1',
      ].map(classifyAddress),
    ).toEqual([
      'loopback',
      'loopback',
      'private',
      'private',
      'private',
      'metadata',
      'link_local',
      'metadata',
      'unspecified',
      'loopback',
      'loopback',
      'shared',
      'multicast',
    ]);
    expect(classifyAddress('93.184.216.34')).toBe('public');
    expect(classifyAddress('2606:2800:220:1:248:1893:25c8:1946')).toBe('public');
  });

  it('refuses a name if any address it resolves to is internal, unless allowed by name or range', () => {
    const none = parseAllowlist([]);
    expect(decideTarget('hooks.example', [{ address: '93.184.216.34', family: 4 }], none)).toMatchObject({
      ok: true,
      address: '93.184.216.34',
    });
    expect(
      decideTarget(
        'sneaky.example',
        [
          { address: '93.184.216.34', family: 4 },
          { address: '10.0.0.5', family: 4 },
        ],
        none,
      ),
    ).toMatchObject({ ok: false, reason: expect.stringContaining('private address (10.0.0.5)') });
    expect(decideTarget('rebind.example', [{ address: '127.0.0.1', family: 4 }], none)).toMatchObject({ ok: false });
    expect(
      decideTarget('receiver.internal', [{ address: '10.0.0.5', family: 4 }], parseAllowlist(['receiver.internal'])),
    ).toMatchObject({ ok: true });
    expect(
      decideTarget('x.internal', [{ address: '10.0.0.5', family: 4 }], parseAllowlist(['10.0.0.0/24'])),
    ).toMatchObject({ ok: true });
    expect(
      decideTarget('x.internal', [{ address: '10.0.1.5', family: 4 }], parseAllowlist(['10.0.0.0/24'])),
    ).toMatchObject({ ok: false });
  });
});

describe('what the mesh can carry', () => {
  it('names values too deep, integers beyond 2^53, and reserved keys', () => {
    let deep: unknown = 1;
    for (let i = 0; i < 40; i += 1) deep = { a: deep };
    expect(wireProblem({ args: deep })).toMatchObject({ message: expect.stringContaining('nests deeper') });
    expect(wireProblem({ args: { n: 2 ** 60 } })).toMatchObject({
      path: '/args/n',
      message: expect.stringContaining('2^53'),
    });
    expect(wireProblem(JSON.parse('{"args":{"constructor":1}}'))).toMatchObject({ path: '/args/constructor' });
    expect(wireProblem({ args: { ok: [1, 2, { b: 'c' }], n: Number.MAX_SAFE_INTEGER } })).toBeUndefined();
  });
});

describe('enrollment never evicts a live agent unless the operator said so', () => {
  const live = (id: string, project: string, name: string, key: number): LiveAgent => ({
    id,
    project_id: project,
    registration_name: name,
    curve_public_key: Buffer.alloc(32, key),
  });
  const grant = (overrides: Partial<Parameters<typeof decideEnrollment>[0]> = {}) => ({
    project_id: 'proj_a',
    allow_replace: false,
    registration_name: null,
    ...overrides,
  });
  const request = (name: string, key: number) => ({ registration_name: name, curve_public_key: Buffer.alloc(32, key) });

  it('refuses a live name or key of the project without allow_replace, and replaces with it', () => {
    expect(decideEnrollment(grant(), request('db-1', 9), [live('agt_1', 'proj_a', 'db-1', 1)])).toEqual({
      refusal: 'registration_name_in_use',
    });
    expect(decideEnrollment(grant(), request('db-2', 1), [live('agt_1', 'proj_a', 'db-1', 1)])).toEqual({
      refusal: 'agent_key_in_use',
    });
    expect(
      decideEnrollment(grant({ allow_replace: true }), request('db-1', 9), [live('agt_1', 'proj_a', 'db-1', 1)]),
    ).toEqual({ replace: ['agt_1'] });
    expect(decideEnrollment(grant(), request('db-3', 3), [])).toEqual({ replace: [] });
  });

  it("never replaces another project's agent, whatever the key allows, and honours a bound name", () => {
    expect(
      decideEnrollment(grant({ allow_replace: true }), request('x', 1), [live('agt_9', 'proj_b', 'victim', 1)]),
    ).toEqual({ refusal: 'agent_key_in_use' });
    expect(decideEnrollment(grant({ registration_name: 'gpu-1' }), request('gpu-2', 4), [])).toEqual({
      refusal: 'registration_name_not_allowed',
    });
  });
});

describe('report ownership', () => {
  const owner = { attempt: 2, agentId: 'agt_1', projectId: 'proj_a' };
  it("accepts only the holder of the current attempt, of the invocation's project", () => {
    expect(ownershipOf(owner, { id: 'agt_1', projectId: 'proj_a' }, 2)).toBe('current');
    expect(ownershipOf(owner, { id: 'agt_1', projectId: 'proj_a' }, 1)).toBe('stale_attempt');
    expect(ownershipOf(owner, { id: 'agt_2', projectId: 'proj_a' }, 2)).toBe('not_the_dispatched_agent');
    expect(ownershipOf(owner, { id: 'agt_1', projectId: 'proj_b' }, 2)).toBe('not_the_dispatched_agent');
    expect(ownershipOf(owner, { id: 'agt_1', projectId: 'proj_a' }, 3)).toBe('unknown_invocation');
    expect(ownershipOf(undefined, { id: 'agt_1', projectId: 'proj_a' }, 1)).toBe('unknown_invocation');
  });
});

describe('audit checkpoints', () => {
  it('verify only with the pinned key and only as signed', () => {
    const signer = auditSigner('11'.repeat(32));
    const other = auditSigner('22'.repeat(32));
    const checkpoint = signCheckpoint(
      { chain: 'global', position: 41, hash: 'ab'.repeat(32), at: '2026-12-01T00:00:00.000Z' },
      signer,
    );
    expect(checkpointSignedBy(checkpoint, publicKeyHex(signer))).toBe(true);
    expect(checkpointSignedBy(checkpoint, publicKeyHex(other))).toBe(false);
    expect(checkpointSignedBy({ ...checkpoint, position: 42 }, publicKeyHex(signer))).toBe(false);
    expect(checkpointSignedBy({ ...checkpoint, hash: 'cd'.repeat(32) }, publicKeyHex(signer))).toBe(false);
    // A forger's own key, named in the checkpoint, does not help: the verifier uses the pinned one.
    const forged = signCheckpoint({ chain: 'global', position: 41, hash: 'cd'.repeat(32), at: checkpoint.at }, other);
    expect(checkpointSignedBy(forged, publicKeyHex(signer))).toBe(false);
  });
});
