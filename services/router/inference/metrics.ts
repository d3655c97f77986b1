import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import type { StreamBroker } from './streams.js';

export interface InferenceOutcome {
  readonly api: 'responses' | 'chat.completions';
  readonly outcome: 'completed' | 'incomplete' | 'failed' | 'cancelled';
  readonly firstTokenMs: number | null;
  readonly inputTokens: number;
  readonly outputTokens: number;
}

export interface InferenceMetrics {
  finished(outcome: InferenceOutcome): void;
  refused(reason: string): void;
  /** The router's own time in one tool round trip of the agentic loop (model and tool time excluded). */
  toolRoundTrip?(routerMs: number): void;
}

/** Router-side inference figures: requests by outcome, refusals, time to first token, tokens, open streams. */
export function registerInferenceMetrics(registry: Registry, broker: StreamBroker): InferenceMetrics {
  const requests = new Counter({
    name: 'xerotier_inference_requests_total',
    help: 'Inference requests that started a stream, by API and outcome',
    labelNames: ['api', 'outcome'],
    registers: [registry],
  });
  const refusals = new Counter({
    name: 'xerotier_inference_refusals_total',
    help: 'Inference requests refused before any stream (no agent, no capacity, engine failure)',
    labelNames: ['reason'],
    registers: [registry],
  });
  const tokens = new Counter({
    name: 'xerotier_inference_tokens_total',
    help: 'Tokens the engines reported, by direction',
    labelNames: ['direction'],
    registers: [registry],
  });
  const firstToken = new Histogram({
    name: 'xerotier_inference_first_token_seconds',
    help: 'From the request reaching the router to the first token leaving it',
    labelNames: ['api'],
    registers: [registry],
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  const roundTrip = new Histogram({
    name: 'xerotier_loop_tool_round_trip_router_seconds',
    help: "The router's own time per tool round trip of the agentic loop: from the model's turn ending to the next one starting, less the calls' time on their agents",
    registers: [registry],
    buckets: [0.0005, 0.001, 0.002, 0.003, 0.004, 0.005, 0.0075, 0.01, 0.015, 0.02, 0.03, 0.05, 0.1, 0.25],
  });
  new Gauge({
    name: 'xerotier_inference_streams_open',
    help: 'Inference streams this router has open on XIM agents',
    registers: [registry],
    collect() {
      this.set(broker.openCount);
    },
  });
  return {
    finished(outcome) {
      requests.inc({ api: outcome.api, outcome: outcome.outcome });
      tokens.inc({ direction: 'input' }, outcome.inputTokens);
      tokens.inc({ direction: 'output' }, outcome.outputTokens);
      if (outcome.firstTokenMs !== null) firstToken.observe({ api: outcome.api }, outcome.firstTokenMs / 1_000);
    },
    refused: (reason) => refusals.inc({ reason }),
    toolRoundTrip: (routerMs) => roundTrip.observe(routerMs / 1_000),
  };
}
