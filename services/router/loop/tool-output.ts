import {
  ARTIFACT_MAX_BYTES,
  ARTIFACT_THRESHOLD,
  artifactSummary,
  contentTypeOf,
  createArtifact,
} from '../knowledge/artifacts.js';
import type { LoopTurn } from './run-loop.js';

/** What the model reads of a call's output, and the item's fields that say where the rest went. */
export interface ModelOutput {
  readonly output: string;
  readonly extra: Record<string, unknown>;
}

/**
 * Auto-artifact: an output above ARTIFACT_THRESHOLD bytes goes to the artifact store (the call's
 * workspace, the turn's chat) and the model reads a summary naming the artifact, which it can
 * read back by range with `x_read_artifact`. Smaller outputs are the model's as they are.
 */
export async function modelOutput(
  turn: LoopTurn,
  call: { workspaceId: string; tool: string; invocationId: string | undefined },
  output: string,
): Promise<ModelOutput> {
  if (Buffer.byteLength(output) <= ARTIFACT_THRESHOLD) return { output, extra: {} };
  // Past the store's limit the head is kept, and the summary says how much was cut.
  const bytes = Buffer.from(output);
  const content = bytes.length > ARTIFACT_MAX_BYTES ? bytes.subarray(0, ARTIFACT_MAX_BYTES).toString('utf8') : output;
  const { artifact, version } = await createArtifact(
    turn.exec.pool,
    { projectId: turn.target.projectId, workspaceId: call.workspaceId, chatId: turn.home.chatId },
    {
      name: `${call.tool} output${call.invocationId ? ` (${call.invocationId})` : ''}`,
      content,
      contentType: contentTypeOf(content),
      source: 'tool_output',
      ...(call.invocationId ? { invocationId: call.invocationId } : {}),
    },
    turn.requester,
  );
  const cut =
    bytes.length > ARTIFACT_MAX_BYTES
      ? `\n[${bytes.length - ARTIFACT_MAX_BYTES} bytes past the artifact limit were not kept]`
      : '';
  return { output: artifactSummary(artifact, version, content) + cut, extra: { x_artifact_id: artifact.id } };
}
