import { consume, countUsage, startInference, type InferenceHttpDeps } from '../http/inference-run.js';
import type { ExtractionRun } from './learning.js';

/**
 * A learnings extraction through the router's own inference path: the turn's project, model and
 * tier (so the same agents, cache salt and scheduler serve it), its usage counted against the
 * project like the turn's own, and its text collected whole.
 */
export function extractionRun(deps: InferenceHttpDeps): ExtractionRun {
  return async (turn, chat) => {
    const began = performance.now();
    const started = await startInference(deps, {
      projectId: turn.projectId,
      model: turn.model,
      tier: turn.tier,
      chat,
    });
    let written = '';
    const consumed = await consume(started, began, undefined, deps.broker, (chunk) => {
      written += chunk.choices?.[0]?.delta?.content ?? '';
    });
    countUsage(
      deps,
      {
        projectId: turn.projectId,
        endpointId: turn.endpointId,
        api: 'responses',
        model: turn.model,
        agentId: started.agentId,
        requestId: started.requestId,
        outcome: consumed.failure ? 'failed' : 'completed',
        firstTokenMs: consumed.firstTokenMs,
        durationMs: Math.round(performance.now() - began),
      },
      consumed.usage,
    );
    if (consumed.failure) throw new Error(`the learnings extraction failed: ${consumed.failure.message}`);
    return written;
  };
}
