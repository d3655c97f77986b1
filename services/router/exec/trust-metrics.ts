import { Counter, type Registry } from 'prom-client';

export interface TrustMetrics {
  /** A report refused because its agent does not hold the call or stream. */
  refused(type: string, reason: string): void;
  /** Bound agents disagreed about a tool (each disagreement once, by the router that saw it first). */
  conflict(): void;
}

/** The figures an operator watches for an agent misbehaving or lying about its tools. */
export function registerTrustMetrics(registry: Registry): TrustMetrics {
  const refused = new Counter({
    name: 'xerotier_agent_reports_refused_total',
    help: 'Agent reports refused because the agent does not hold the call or stream, by frame type and reason',
    labelNames: ['type', 'reason'],
    registers: [registry],
  });
  const conflicts = new Counter({
    name: 'xerotier_tool_descriptor_conflicts_total',
    help: 'Disagreements between bound agents about a tool (risk, parameters, bundle version), each counted once',
    registers: [registry],
  });
  return { refused: (type, reason) => refused.inc({ type, reason }), conflict: () => conflicts.inc() };
}
