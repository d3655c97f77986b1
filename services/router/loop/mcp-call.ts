import { randomBytes } from 'node:crypto';
import type { LoopTurn } from './run-loop.js';

export const newLoopId = (prefix: string) => `${prefix}_${randomBytes(12).toString('hex')}`;
const newId = newLoopId;

/**
 * An `mcp_call` item, open: added (with its arguments' events when the model just wrote them)
 * and in progress; `close` completes or fails it with the output the model will read.
 */
export function openCall(turn: LoopTurn, fields: Record<string, unknown>, args?: string) {
  const item = {
    id: newId('mcp'),
    type: 'mcp_call',
    ...fields,
    ...turn.tag,
    status: 'in_progress',
    output: null,
    error: null,
  };
  const { translator } = turn;
  const added = translator.addItem({ ...item }, false);
  const where = { item_id: item.id, output_index: added.outputIndex };
  turn.emit([
    ...added.events,
    ...(args === undefined
      ? []
      : [
          translator.loopEvent('response.mcp_call_arguments.delta', { ...where, delta: args }),
          translator.loopEvent('response.mcp_call_arguments.done', { ...where, arguments: args }),
        ]),
    translator.loopEvent('response.mcp_call.in_progress', where),
  ]);
  return {
    where,
    close(output: string, error: string | null, extra: Record<string, unknown> = {}) {
      const change = {
        status: error ? 'failed' : 'completed',
        // A readable text in output as well as error: SDK versions disagree about error's shape.
        output: error ? `${output}${output ? '\n' : ''}error: ${error}` : output,
        error,
        ...extra,
      };
      const event = translator.loopEvent(error ? 'response.mcp_call.failed' : 'response.mcp_call.completed', where);
      turn.emit(translator.finishItem(added.outputIndex, change, [event]));
    },
  };
}
