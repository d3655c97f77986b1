import type { Queryable } from './db.js';

export interface UsageRecord {
  readonly projectId: string;
  readonly endpointId: string;
  readonly api: 'responses' | 'chat.completions';
  readonly model: string;
  readonly agentId: string | null;
  readonly requestId: string;
  readonly outcome: 'completed' | 'incomplete' | 'failed' | 'cancelled';
  readonly inputTokens: number;
  readonly cachedTokens: number;
  readonly outputTokens: number;
  readonly firstTokenMs: number | null;
  readonly durationMs: number;
}

export async function recordUsage(db: Queryable, usage: UsageRecord): Promise<void> {
  await db.query({
    name: 'record_inference_usage',
    text: `INSERT INTO inference_usage (project_id, endpoint_id, api, model, agent_id, request_id, outcome, input_tokens, cached_tokens, output_tokens, first_token_ms, duration_ms)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
    values: [
      usage.projectId,
      usage.endpointId,
      usage.api,
      usage.model,
      usage.agentId,
      usage.requestId,
      usage.outcome,
      usage.inputTokens,
      usage.cachedTokens,
      usage.outputTokens,
      usage.firstTokenMs,
      usage.durationMs,
    ],
  });
}
