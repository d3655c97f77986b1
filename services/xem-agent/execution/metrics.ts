import { Counter, Gauge, type Registry } from 'prom-client';
import type { Outbox } from '../outbox.js';
import type { ExecutionEngine } from './engine.js';

export interface ExecutionMetrics {
  /** One finished call: its tool and result status. */
  finished(tool: string, status: string): void;
}

/** What operators watch on an XEM agent: calls by outcome, calls running, results awaiting an ack. */
export function registerExecutionMetrics(
  registry: Registry,
  sources: { engine: () => ExecutionEngine; outbox: Outbox },
): ExecutionMetrics {
  const finished = new Counter({
    name: 'xerotier_xem_executions_total',
    help: 'Tool calls finished, by tool and result status',
    labelNames: ['tool', 'status'],
    registers: [registry],
  });
  new Gauge({
    name: 'xerotier_xem_executions_running',
    help: 'Tool calls running now',
    registers: [registry],
    collect() {
      this.set(sources.engine().running);
    },
  });
  new Gauge({
    name: 'xerotier_xem_outbox_pending',
    help: 'Results written but not yet acknowledged by the router',
    registers: [registry],
    collect() {
      this.set(sources.outbox.pendingCount());
    },
  });
  return { finished: (tool, status) => finished.inc({ tool, status }) };
}
