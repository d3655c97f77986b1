import { createHash } from 'node:crypto';
import { toWireValue } from '../../protocol/canonical.js';

/** What an approval is bound to: the frozen call, independent of which agent will run it. */
export interface FrozenRequest {
  readonly tool: string;
  readonly args: Record<string, unknown>;
  readonly workspace_id: string;
}

/** sha256 (hex) of the canonical JSON (sorted keys): any change to tool, args or workspace changes it. */
export function requestHash(request: FrozenRequest): string {
  const canonical = toWireValue({ tool: request.tool, args: request.args, workspace_id: request.workspace_id });
  return createHash('sha256').update(JSON.stringify(canonical)).digest('hex');
}
