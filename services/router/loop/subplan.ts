import { consume } from '../http/inference-run.js';
import { BUILTIN_LABEL } from './builtins.js';
import type { ResponseItem } from '../inference/responses-request.js';
import { ResponsesTranslator } from '../inference/responses-stream.js';
import type { CallOutcome, startCall as StartCall } from './calls.js';
import { newLoopId, openCall } from './mcp-call.js';
import { parseArguments } from './run-tool.js';
import type { LoopTurn } from './run-loop.js';
import type { OfferedServer } from './servers.js';

export const SUBPLAN_TOOL = 'x_request_subplan';
/** How deep subplans nest (a subplan's own subplan is depth 2), and a subplan's model turns unless it asks for fewer. */
export const SUBPLAN_DEPTH_LIMIT = 2;
export const SUBPLAN_TURNS = 4;
const SUBPLAN_TURNS_MAX = 10;

export const SUBPLAN_PARAMETERS = {
  type: 'object',
  properties: {
    goal: { type: 'string', minLength: 1, maxLength: 4000, description: 'What the subplan is to find out or do' },
    tools: {
      type: 'array',
      items: { type: 'string', maxLength: 128 },
      minItems: 1,
      maxItems: 64,
      uniqueItems: true,
      description: 'The tools it may call: a subset of yours',
    },
    max_turns: { type: 'integer', minimum: 1, maximum: SUBPLAN_TURNS_MAX },
  },
  required: ['goal', 'tools'],
  additionalProperties: false,
};

export const SUBPLAN_DESCRIPTION =
  "Hand a self-contained part of the work to a nested loop with a narrower set of tools (a subset of yours) and its own turn budget; its answer comes back as this call's output. Approvals its calls need are asked of the person like yours.";

/** The tools offered in a scope: every server's, names only. */
export const scopeOf = (servers: readonly OfferedServer[]) =>
  new Set(servers.flatMap((server) => server.tools.map((tool) => tool.name)));

/**
 * `x_request_subplan`: a nested loop on a goal, with a tool scope that is a subset of the caller's
 * (never wider: a name outside it is refused, and so is any call the nested model makes outside
 * its own), a depth limit and its own turn budget. Its calls are items of the same response
 * (tagged `x_subplan`, so the outer model reads only the subplan's answer); an approval one of
 * them needs ends the turn on the outer response like any other, and the answer is given there.
 */
export async function subplanCall(
  turn: LoopTurn,
  args: string,
  group: string,
  /** The partitioner (passed in: it is the one calling). */
  startCall: typeof StartCall,
): Promise<() => Promise<CallOutcome>> {
  const call = openCall(
    turn,
    { server_label: BUILTIN_LABEL, name: SUBPLAN_TOOL, arguments: args, x_model_turn: group },
    args,
  );
  return async () => {
    const spec = specOf(turn, args);
    if (typeof spec === 'string') {
      call.close('', spec);
      return 'done';
    }
    const ran = await runSubplan(turn, spec, startCall);
    call.close(ran.answer, ran.error, { x_subplan_id: spec.id });
    return ran.outcome;
  };
}

interface Spec {
  readonly id: string;
  readonly goal: string;
  readonly servers: OfferedServer[];
  readonly maxTurns: number;
  readonly depth: number;
}

/** The subplan asked for, or why it is refused (wider scope, too deep). */
export function specOf(turn: Pick<LoopTurn, 'servers' | 'depth'>, args: string): Spec | string {
  const parsed = parseArguments(args);
  if (typeof parsed === 'string') return parsed;
  const depth = (turn.depth ?? 0) + 1;
  if (depth > SUBPLAN_DEPTH_LIMIT) return `subplan_too_deep: subplans nest at most ${SUBPLAN_DEPTH_LIMIT} deep`;
  const goal = typeof parsed['goal'] === 'string' ? parsed['goal'].slice(0, 4000) : '';
  const wanted = Array.isArray(parsed['tools'])
    ? parsed['tools'].filter((name): name is string => typeof name === 'string')
    : [];
  if (!goal || wanted.length === 0) return 'invalid_arguments: a subplan needs a goal and the tools it may use';
  const mine = scopeOf(turn.servers);
  const wider = wanted.filter((name) => !mine.has(name));
  if (wider.length > 0) return `subplan_scope_too_wide: not yours to give: ${wider.slice(0, 10).join(', ')}`;
  const allowed = new Set(wanted);
  // The nested model may itself start a subplan only while the depth allows, and only if it was given the tool.
  const servers = turn.servers
    .map((server) => narrowed(server, allowed, depth < SUBPLAN_DEPTH_LIMIT))
    .filter((server) => server.tools.length > 0);
  const maxTurns = Math.min(Number(parsed['max_turns'] ?? SUBPLAN_TURNS) || SUBPLAN_TURNS, SUBPLAN_TURNS_MAX);
  return { id: newLoopId('sub'), goal, servers, maxTurns, depth };
}

function narrowed(server: OfferedServer, allowed: ReadonlySet<string>, mayNest: boolean): OfferedServer {
  const keep = (name: string) => allowed.has(name) && (name !== SUBPLAN_TOOL || mayNest);
  if (server.kind === 'workspace') return { ...server, tools: server.tools.filter((tool) => keep(tool.name)) };
  return {
    ...server,
    tools: server.tools.filter((tool) => keep(tool.name)),
    builtins: new Map([...server.builtins].filter(([name]) => keep(name))),
  };
}

/** The nested loop: its own model context (the goal and its own calls), the outer response's items. */
async function runSubplan(
  turn: LoopTurn,
  spec: Spec,
  startCall: typeof StartCall,
): Promise<{ answer: string; error: string | null; outcome: CallOutcome }> {
  const scope = scopeOf(spec.servers);
  const tag = { id: spec.id, depth: spec.depth };
  const inner: LoopTurn = { ...turn, servers: spec.servers, depth: spec.depth, tag: { x_subplan: tag } };
  const tools = new Map(
    spec.servers.flatMap((server) => server.tools.map((tool) => [tool.name, { server, tool }] as const)),
  );
  const instructions = `You are a subplan of a larger task. Your goal: ${spec.goal}\nUse only the tools you are given, then answer with what you found or did, briefly.`;
  const chatFor = turn.subplanChat!(spec.servers, instructions);
  // Every name is a server call to the nested translator, so a call outside its scope is seen, and refused.
  const translator = new ResponsesTranslator({ id: spec.id, model: turn.target.model }, newLoopId, {
    has: () => true,
  } as unknown as Set<string>);
  for (let turns = 1; turns <= spec.maxTurns; turns += 1) {
    const own = turn.translator
      .items()
      .filter((item) => (item['x_subplan'] as { id?: string } | undefined)?.id === spec.id);
    const started = await turn.begin({ ...turn.target, chat: chatFor([goalItem(spec.goal), ...own.map(untagged)]) });
    const consumed = await consume(
      started,
      turn.began,
      undefined,
      turn.inference.broker,
      (chunk) => void translator.chunk(chunk),
    );
    turn.accrue?.(consumed.usage);
    if (consumed.failure)
      return { answer: '', error: `the subplan's model failed: ${consumed.failure.message}`, outcome: 'done' };
    const ended = translator.endModelTurn();
    if (ended.serverCalls.length === 0) return { answer: lastText(translator.items()), error: null, outcome: 'done' };
    const group = newLoopId('mt');
    const running: Promise<CallOutcome>[] = [];
    for (const call of ended.serverCalls) {
      const entry = tools.get(call.name);
      running.push(
        entry && scope.has(call.name)
          ? (await startCall(inner, entry, call.arguments, group))()
          : Promise.resolve(outOfScope(inner, call, group)),
      );
    }
    const outcomes = await Promise.all(running);
    if (outcomes.includes('approval'))
      return {
        answer:
          'The subplan stopped at a call that waits for a person; its request is in this response, and once decided its result comes back in this conversation.',
        error: null,
        outcome: 'approval',
      };
    if (outcomes.includes('ask'))
      return { answer: 'The subplan asked the person a question.', error: null, outcome: 'ask' };
  }
  return {
    answer: lastText(translator.items()) || 'The subplan used its turns without an answer.',
    error: null,
    outcome: 'done',
  };
}

/** A call the nested model made of a tool outside its scope: refused, and it is told so. */
function outOfScope(turn: LoopTurn, call: { name: string; arguments: string }, group: string): CallOutcome {
  const item = openCall(
    turn,
    { server_label: BUILTIN_LABEL, name: call.name, arguments: call.arguments, x_model_turn: group },
    call.arguments,
  );
  item.close('', `tool_not_in_scope: ${call.name.slice(0, 128)} is not one of this subplan's tools`);
  return 'done';
}

const goalItem = (goal: string): ResponseItem => ({ type: 'message', role: 'user', content: goal });

function untagged(item: ResponseItem): ResponseItem {
  const { x_subplan: _tag, ...rest } = item;
  return rest as ResponseItem;
}

function lastText(items: readonly ResponseItem[]): string {
  const message = [...items].reverse().find((item) => item.type === 'message');
  const parts = (message?.['content'] as { text?: string }[] | undefined) ?? [];
  return parts.map((part) => part.text ?? '').join('');
}
