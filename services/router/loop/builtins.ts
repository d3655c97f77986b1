import { artifactBuiltins } from './builtins/artifacts.js';
import { askUser } from './builtins/ask-user.js';
import { invocationStatus } from './builtins/invocation-status.js';
import { memoryBuiltins } from './builtins/memories.js';
import { mockupBuiltins } from './builtins/mockups.js';
import type { Builtin } from './builtins/builtin.js';

export type { Builtin, BuiltinContext, BuiltinResult } from './builtins/builtin.js';

/**
 * The label of the router's own tools (`x_*`), offered as one more `mcp` tool: a request asks
 * for them with `{ "type": "mcp", "server_label": "xerotier" }`. The label is reserved: it never
 * names a workspace.
 */
export const BUILTIN_LABEL = 'xerotier';

/** Every built-in offered to the model, by name (`x_request_subplan` is the partitioner's own). */
export function builtinRegistry(): ReadonlyMap<string, Builtin> {
  return new Map(
    [invocationStatus, ...artifactBuiltins, ...memoryBuiltins, ...mockupBuiltins, askUser].map((builtin) => [
      builtin.name,
      builtin,
    ]),
  );
}
