import { CliError, EXIT } from '../exit-codes.js';
import type { RouterClient } from '../http/router-client.js';
import { cell, text } from '../output/render.js';
import { riskStyle } from '../output/terminal.js';
import type { Run } from '../runtime.js';

type Row = Record<string, unknown>;

/** An approval the turn ended waiting on: the item the model's call became, and who may decide it. */
export interface PendingApproval {
  readonly itemId: string;
  readonly approvalId: string;
  readonly tool: string;
  readonly risk: string;
  readonly args: unknown;
  /** Set when someone else must decide it (a second person, an irreversible call). */
  readonly waitingFor?: string;
}

export interface TurnOutcome {
  readonly response?: Row;
  readonly pending: readonly PendingApproval[];
}

/**
 * One turn as a person reads it in a terminal: the answer's text on stdout as it streams, tool
 * calls as cards on stderr (tool, risk, arguments, state, output's first lines), approvals named.
 */
export function turnPrinter(run: Run) {
  const pending = new Map<string, PendingApproval>();
  let response: Row | undefined;
  let wroteText = false;
  const card = (text: string) => {
    if (wroteText) run.out('\n');
    wroteText = false;
    run.note(text);
  };
  const onItem = (item: Row) => {
    const risk = text(item['x_risk'] ?? 'read');
    const badge = run.paint(riskStyle(risk), risk);
    if (item['type'] === 'mcp_call') card(`┌ ${text(item['name'])} [${badge}] ${text(cell(item['arguments']))}`);
    if (item['type'] === 'mcp_approval_request') {
      const approval: PendingApproval = {
        itemId: String(item['id']),
        approvalId: String(item['x_approval_id']),
        tool: String(item['name']),
        risk,
        args: item['arguments'],
        ...(item['x_waiting_for'] ? { waitingFor: text(item['x_waiting_for']) } : {}),
      };
      pending.set(approval.approvalId, approval);
      card(
        `┌ ${approval.tool} [${badge}] ${cell(approval.args)} needs approval ${approval.approvalId}${approval.waitingFor ? `: ${approval.waitingFor}` : ''}`,
      );
    }
  };
  const onDone = (item: Row) => {
    if (item['type'] !== 'mcp_call') return;
    const output = text(item['output'] ?? item['error']);
    const lines = output.split('\n');
    const shown = lines
      .slice(0, 6)
      .map((line) => `│ ${line}`)
      .join('\n');
    card(
      `${shown}${lines.length > 6 ? `\n│ … ${lines.length - 6} more lines (xeroctl exec output ${text(item['x_invocation_id'] ?? '')})` : ''}\n└ ${text(item['error'] ? 'failed' : 'done')}`,
    );
  };
  return {
    apply(type: string, data: Row): void {
      if (type === 'response.output_text.delta') {
        run.out(String(data['delta']));
        wroteText = true;
      } else if (type === 'response.output_item.added') onItem(data['item'] as Row);
      else if (type === 'response.output_item.done') onDone(data['item'] as Row);
      else if (type === 'x_exec.state') run.note(`│ ${text(data['state'])}`);
      else if (type === 'x_context_fork')
        card(`(forked to “${text(data['branch_display_name'] ?? data['branch_id'])}” before an irreversible call)`);
      else if (type === 'response.completed' || type === 'response.failed' || type === 'response.incomplete')
        response = data['response'] as Row;
    },
    outcome(): TurnOutcome {
      if (wroteText) run.out('\n');
      return { ...(response ? { response } : {}), pending: [...pending.values()] };
    },
  };
}

/** Sends one turn of a chat and prints it as it streams. */
export async function sendTurn(run: Run, client: RouterClient, path: string, body: Row): Promise<TurnOutcome> {
  const printer = turnPrinter(run);
  for await (const event of client.events(path, {
    method: 'POST',
    body: { ...body, stream: true },
    signal: run.deps.interrupted,
  })) {
    try {
      printer.apply(event.event, JSON.parse(event.data) as Row);
    } catch (error) {
      if (error instanceof SyntaxError) continue;
      throw error;
    }
  }
  const outcome = printer.outcome();
  const failed = outcome.response?.['status'] === 'failed';
  if (failed)
    throw new CliError(
      `the turn failed: ${text(cell((outcome.response?.['error'] as Row | undefined)?.['message']))}`,
      EXIT.error,
      'turn_failed',
    );
  return outcome;
}
