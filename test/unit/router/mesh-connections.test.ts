import { describe, expect, it } from 'vitest';
import { meshRoutingId, routingIdSpeaksFor } from '../../../services/protocol/routing-id.js';
import { ConnectionTable } from '../../../services/router/mesh/connections.js';
import { HandshakeBudget } from '../../../services/router/mesh/handshake-budget.js';

describe('mesh routing ids', () => {
  it('are fresh per socket, ASCII, and speak only for the agent they were made for', () => {
    const first = meshRoutingId('agt_0123456789abcdef01234567');
    const second = meshRoutingId('agt_0123456789abcdef01234567');
    expect(first).not.toBe(second);
    expect(first).toMatch(/^agt_0123456789abcdef01234567\.[0-9a-f]{16}$/);
    expect(routingIdSpeaksFor(Buffer.from(first), 'agt_0123456789abcdef01234567')).toBe(true);
    expect(routingIdSpeaksFor(Buffer.from(first), 'agt_0123456789abcdef0123456')).toBe(false);
  });

  it("refuse ids that only resemble an agent's", () => {
    const agent = 'agt_aa';
    for (const id of [
      'agt_aa',
      'agt_aa.',
      'agt_aa.0123',
      'agt_aa.0123456789abcdeg',
      'agt_aa.0123456789ABCDEF',
      'agt_aa.0123456789abcdef0',
      'xagt_aa.0123456789abcdef',
    ]) {
      expect(routingIdSpeaksFor(Buffer.from(id, 'latin1'), agent), id).toBe(false);
    }
    expect(routingIdSpeaksFor(Buffer.from('006b8b4567', 'hex'), agent)).toBe(false);
  });
});

describe('handshake budget', () => {
  it('allows a burst, then one handshake per refill period', () => {
    const budget = new HandshakeBudget({ burst: 3, refillMs: 1_000 });
    expect([0, 0, 0, 0].map(() => budget.spend('k', 0))).toEqual([true, true, true, false]);
    expect(budget.spend('k', 999)).toBe(false);
    expect(budget.spend('k', 1_000)).toBe(true);
    expect(budget.spend('k', 1_500)).toBe(false);
    expect(budget.spend('other', 1_500)).toBe(true);
  });

  it('refills to the burst and no further, and a full bucket does not bank time', () => {
    const budget = new HandshakeBudget({ burst: 2, refillMs: 1_000 });
    budget.spend('k', 0);
    budget.spend('k', 0);
    expect(budget.tokens('k', 60_000)).toBe(2);
    budget.spend('k', 60_000);
    budget.spend('k', 60_000);
    expect(budget.spend('k', 60_500)).toBe(false);
  });

  it('forgets the least recently seen keys beyond its capacity', () => {
    const budget = new HandshakeBudget({ burst: 1, refillMs: 60_000, maxKeys: 2 });
    budget.spend('a', 0);
    budget.spend('b', 0);
    budget.spend('c', 0);
    expect(budget.spend('a', 1)).toBe(true);
    expect(budget.spend('c', 1)).toBe(false);
  });
});

describe('connection table', () => {
  it('binds only the connection that answered its own challenge, and one connection per agent', () => {
    const table = new ConnectionTable();
    const nonce = table.challenge('r1', 'agt_a', 0);
    expect(table.expects('r1', 'agt_a', nonce)).toBe(true);
    expect(table.expects('r2', 'agt_a', nonce)).toBe(false);
    expect(table.expects('r1', 'agt_b', nonce)).toBe(false);
    table.bind('r1', 'agt_a', 0);
    expect(table.agentOf('r1')).toBe('agt_a');
    table.challenge('r2', 'agt_a', 1);
    table.bind('r2', 'agt_a', 1);
    expect(table.agentOf('r1')).toBeUndefined();
    expect(table.routingOf('agt_a')).toBe('r2');
    expect(table.boundCount).toBe(1);
    expect(table.pendingCount).toBe(0);
  });

  it('expires challenges nobody answers, keeping bound connections', () => {
    const table = new ConnectionTable();
    table.challenge('bound', 'agt_a', 0);
    table.bind('bound', 'agt_a', 0);
    for (let index = 0; index < 100; index += 1) table.challenge(`silent-${index}`, 'agt_b', 0);
    expect(table.pendingCount).toBe(100);
    table.expirePending(10_000);
    expect(table.pendingCount).toBe(100);
    table.expirePending(31_000);
    expect(table.pendingCount).toBe(0);
    expect(table.agentOf('bound')).toBe('agt_a');
  });
});
