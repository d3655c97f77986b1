import { newLoopId as newId, openCall } from './mcp-call.js';
import type { LoopTurn } from './run-loop.js';
import { cancelIfSafe, finishTool, parseArguments, startTool } from './run-tool.js';
import type { BuiltinServer, OfferedServer, WorkspaceServer } from './servers.js';
import { modelOutput } from './tool-output.js';
import { SUBPLAN_TOOL, subplanCall } from './subplan.js';

/**
 * What came of one call: it waits for a person (an approval, or a question put to them); it ran
 * on an agent (its ms there); or it ended without one (refused, failed, a built-in).
 */
export type CallOutcome = 'approval' | 'ask' | 'done' | number;

/**
 * The partitioner: one of the model's calls of a tool the router runs — a built-in (`x_*`, run
 * here) or a workspace's XEM tool (through the exec API's own path). The client's own function
 * tools never come here: the translator returns them to the client as `function_call` items.
 * Resolves once the call is started and its item added (so items keep the model's order when
 * calls start one after another), with the rest of the call, which may run beside the others.
 */
export async function startCall(
  turn: LoopTurn,
  entry: { server: OfferedServer; tool: OfferedServer['tools'][number] },
  args: string,
  group: string,
): Promise<() => Promise<CallOutcome>> {
  const { server } = entry;
  const name = entry.tool.name;
  if (name === SUBPLAN_TOOL) return subplanCall(turn, args, group, startCall);
  if (server.kind === 'workspace')
    return workspaceCall(
      turn,
      server,
      server.tools.find((tool) => tool.name === name)!,
      args,
      group,
    );
  const call = openCall(turn, { server_label: server.label, name, arguments: args, x_model_turn: group }, args);
  return () => ranBuiltin(turn, server, name, args, call);
}

/** A workspace tool: an mcp_call item that runs and completes, or an approval request. */
async function workspaceCall(
  turn: LoopTurn,
  server: WorkspaceServer,
  tool: WorkspaceServer['tools'][number],
  args: string,
  group: string,
): Promise<() => Promise<CallOutcome>> {
  const { signal } = turn;
  const begun = await startTool(
    turn.exec,
    {
      projectId: turn.target.projectId,
      workspaceId: server.workspaceId,
      tool,
      arguments: args,
      alwaysApprove: server.alwaysApprove.has(tool.name),
    },
    turn.requester,
  );
  const base = { server_label: server.label, name: tool.name, arguments: args };
  if (begun.kind === 'approval') {
    const item = {
      id: newId('mcpr'),
      type: 'mcp_approval_request',
      ...base,
      x_approval_id: begun.approvalId,
      x_invocation_id: begun.invocationId,
      x_risk: tool.risk,
      x_model_turn: group,
      ...turn.tag,
    };
    turn.emit(turn.translator.addItem(item).events);
    return async () => 'approval';
  }
  // Ran at once (no approval needed) and cannot be undone: the chat forks first.
  if (begun.kind === 'running' && tool.risk === 'irreversible')
    await turn.forkBeforeIrreversible?.({ tool: tool.name, invocationId: begun.invocation.id });
  // The risk rides on the item so every client can badge the call as the router classed it.
  const call = openCall(turn, { ...base, x_risk: tool.risk, x_model_turn: group }, args);
  return async () => {
    const unfollow = begun.kind === 'running' && turn.execEvents ? followCall(turn, call, begun.invocation) : undefined;
    const outcome =
      begun.kind === 'refused'
        ? { output: '', error: begun.error, agentMs: null }
        : await finishTool(turn.exec, begun.invocation, signal).catch(async (error: unknown) => {
            if (signal.aborted) await cancelIfSafe(turn.exec, begun.invocation, turn.requester);
            return { output: '', error: (error as Error).message, agentMs: null };
          });
    unfollow?.();
    const invocationId = begun.kind === 'running' ? begun.invocation.id : undefined;
    const read = await modelOutput(
      turn,
      { workspaceId: server.workspaceId, tool: tool.name, invocationId },
      outcome.output,
    );
    call.close(read.output, outcome.error, {
      ...(invocationId ? { x_invocation_id: invocationId } : {}),
      ...read.extra,
    });
    return outcome.agentMs ?? 'done';
  };
}

/**
 * Vendor events for a client that opted in: the call's state changes and its output lines as the
 * agent streams them, numbered with the rest and tied to the call's item. Strict clients never
 * see them.
 */
function followCall(turn: LoopTurn, call: ReturnType<typeof openCall>, invocation: { project_id: string; id: string }) {
  return turn.exec.hub.subscribe(invocation.project_id, invocation.id, (event) => {
    const where = { ...call.where, invocation_id: invocation.id };
    if (event.kind === 'state')
      turn.emit([turn.translator.loopEvent('x_exec.state', { ...where, state: event.state, attempt: event.attempt })]);
    else if (event.kind === 'progress')
      turn.emit([
        turn.translator.loopEvent('x_exec.progress', {
          ...where,
          stream: event.stream,
          data: event.data,
          attempt: event.attempt,
        }),
      ]);
  });
}

/** A built-in: its arguments checked against its schema, run here, reaching only this turn's workspaces. */
async function ranBuiltin(
  turn: LoopTurn,
  server: BuiltinServer,
  name: string,
  args: string,
  call: ReturnType<typeof openCall>,
): Promise<CallOutcome> {
  const builtin = server.builtins.get(name)!;
  const parsed = parseArguments(args);
  const problem = typeof parsed === 'string' ? parsed : turn.exec.validator.check(builtin.parameters, parsed)?.message;
  if (problem !== undefined || typeof parsed === 'string') {
    call.close('', typeof parsed === 'string' ? parsed : `invalid_arguments: ${problem}`);
    return 'done';
  }
  const workspaceIds = new Set([
    turn.home.workspaceId,
    ...turn.servers.flatMap((offered) => (offered.kind === 'workspace' ? [offered.workspaceId] : [])),
  ]);
  const outcome = await builtin
    .run(
      {
        pool: turn.exec.pool,
        exec: turn.exec,
        projectId: turn.target.projectId,
        workspaceIds,
        home: turn.home,
        requester: turn.requester,
      },
      parsed,
    )
    .catch((error: unknown) => ({ output: '', error: `the built-in failed: ${(error as Error).message}` }));
  call.close(outcome.output, outcome.error);
  if (!('ask' in outcome) || !outcome.ask) return 'done';
  askPerson(turn, call, outcome.ask);
  return 'ask';
}

/**
 * x_ask_user: the question as an assistant message every client shows (with the choices), and
 * `x_ask_user.question` for clients that opted in to vendor events; the turn ends on it.
 */
function askPerson(
  turn: LoopTurn,
  call: ReturnType<typeof openCall>,
  ask: { question: string; choices: readonly string[] },
) {
  const text =
    ask.choices.length > 0
      ? `${ask.question}\n\n${ask.choices.map((choice) => `- ${choice}`).join('\n')}`
      : ask.question;
  const item = {
    id: newId('msg'),
    type: 'message',
    status: 'completed',
    role: 'assistant',
    content: [{ type: 'output_text', text, annotations: [] }],
    x_ask_user: { call_item_id: call.where.item_id, question: ask.question, choices: ask.choices },
  };
  turn.emit(turn.translator.addItem(item).events);
  if (turn.execEvents)
    turn.emit([
      turn.translator.loopEvent('x_ask_user.question', {
        item_id: call.where.item_id,
        question: ask.question,
        choices: ask.choices,
      }),
    ]);
}
