import { Gauge, type Registry } from 'prom-client';
import type { AgentState } from './agent.js';

const STATES: readonly AgentState[] = ['created', 'enrolling', 'connecting', 'bound', 'retired', 'stopped'];

/** `xerotier_agent_state{state}`: 1 for the state the agent is in, 0 for the others (alert on retired). */
export function registerAgentState(registry: Registry, current: () => AgentState): void {
  new Gauge({
    name: 'xerotier_agent_state',
    help: "The agent's lifecycle state (1 for the current one)",
    labelNames: ['state'],
    registers: [registry],
    collect() {
      const now = current();
      for (const state of STATES) this.set({ state }, state === now ? 1 : 0);
    },
  });
}
