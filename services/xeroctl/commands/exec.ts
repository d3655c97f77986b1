import { Option, type Command } from 'commander';
import { usageError } from '../exit-codes.js';
import { duration, integerIn, pageOptions, type Kit } from '../kit.js';
import { age, type Column, text } from '../output/render.js';
import { riskStyle } from '../output/terminal.js';
import type { Run } from '../runtime.js';
import { approvalHint, endedWell, followInvocation, watchProject } from './follow.js';

type Row = Record<string, unknown>;

export const invocationColumns = (now: () => Date, run?: Run): Column[] => [
  { header: 'ID', value: (row) => row['id'] },
  { header: 'TOOL', value: (row) => row['tool'] },
  { header: 'RISK', value: (row) => (run ? run.paint(riskStyle(row['risk']), String(row['risk'])) : row['risk']) },
  { header: 'STATE', value: (row) => row['state'] },
  { header: 'AGE', value: (row) => age(row['created_at'], now()) },
  { header: 'WORKSPACE', value: (row) => row['workspace_id'], wide: true },
  { header: 'AGENT', value: (row) => row['agent_id'], wide: true },
  { header: 'ATTEMPT', value: (row) => row['attempt'], wide: true },
  { header: 'APPROVAL', value: (row) => row['approval_id'], wide: true },
];

const TOOL_COLUMNS: Column[] = [
  { header: 'TOOL', value: (row) => row['name'] },
  { header: 'RISK', value: (row) => row['risk'] },
  { header: 'AGENTS', value: (row) => row['online_agents'] },
  { header: 'DESCRIPTION', value: (row) => row['description'] },
  { header: 'DECLARED', value: (row) => row['declared_risk'], wide: true },
  { header: 'TIMEOUT MS', value: (row) => row['timeout_ms'], wide: true },
];

/** `--arg k=v`: the value as JSON when it is JSON (numbers, booleans, objects), else the text. */
export function argumentPair(text: string): [string, unknown] {
  const at = text.indexOf('=');
  if (at < 1) throw usageError(`--arg "${text}" is not key=value`);
  const raw = text.slice(at + 1);
  try {
    return [text.slice(0, at), JSON.parse(raw)];
  } catch {
    return [text.slice(0, at), raw];
  }
}

export function callArguments(json: string | undefined, pairs: readonly string[]): Row {
  let args: unknown = {};
  if (json !== undefined) {
    try {
      args = JSON.parse(json);
    } catch (error) {
      throw usageError(`--args is not JSON: ${(error as Error).message}`);
    }
    if (typeof args !== 'object' || args === null || Array.isArray(args))
      throw usageError('--args must be a JSON object');
  }
  return { ...(args as Row), ...Object.fromEntries(pairs.map(argumentPair)) };
}

interface InvokeOptions {
  tool?: string;
  workspace?: string;
  args?: string;
  arg: string[];
  timeoutMs?: number;
  wait?: boolean;
  timeout?: number;
}

/** After a wait: the tool's output for people (stdout as it printed it), the invocation for machines. */
async function printEnded(run: Run, invocation: Row): Promise<void> {
  if (run.format !== 'table' && run.format !== 'wide') run.show(invocation, []);
  else if (invocation['state'] === 'succeeded' || invocation['state'] === 'failed') {
    const output = await (
      await run.client()
    )
      .call<Row>('GET', `exec/invocations/${text(invocation['id'])}/output`)
      .catch(() => undefined);
    if (output) run.out(text(output['output']));
  }
  endedWell(invocation);
}

/** Every call's state changes as the router reports them (the /ops stream), until Ctrl-C. */
async function watchStates(run: Run): Promise<void> {
  const client = await run.client();
  await watchProject(run, client, 'Watching every call (Ctrl-C stops).', (event) => {
    if (event.event !== 'state') return;
    const data = JSON.parse(event.data) as Row;
    if (run.format === 'json') run.out(`${event.data}\n`);
    else
      run.out(
        `${text(data['at'])}  ${text(data['invocation_id'])}  ${text(data['state'])}  ${text(data['agent_id'])}\n`,
      );
  });
}

function registerInvoke(exec: Command, kit: Kit): void {
  const invoke = exec
    .command('invoke [tool]')
    .description('call a tool; a destructive or irreversible call waits for a person to approve it')
    .option('--tool <name>', 'the tool (instead of the argument)')
    .option('--workspace <id>', 'the workspace (default: the project default)')
    .option('--args <json>', 'the arguments as one JSON object')
    .option(
      '--arg <key=value>',
      'one argument (repeatable; JSON values are parsed)',
      (value: string, previous: string[]) => [...previous, value],
      [],
    )
    .addOption(new Option('--timeout-ms <ms>', "the tool's run timeout").argParser(integerIn(100, 3_600_000)))
    .option(
      '-w, --wait',
      'follow the call to its end (through approval), print its output, exit 0 only if it succeeded',
    )
    .addOption(
      new Option('--timeout <duration>', 'with --wait: give up waiting after this long (e.g. 15m), exit 5').argParser(
        duration,
      ),
    );
  kit.examples(
    invoke,
    'xeroctl exec invoke disk_usage --wait',
    `xeroctl exec invoke restart_service --arg service=nginx --wait --timeout 30m`,
    `xeroctl exec invoke --tool drop_table --workspace ws_0123456789ab --args '{"table":"t1"}' -o json`,
  );
  kit.act<InvokeOptions>(invoke, async (run, options, positional) => {
    const tool = options.tool ?? positional;
    if (!tool) throw usageError('which tool? (xeroctl exec invoke TOOL, or --tool)');
    if (options.timeout !== undefined && !options.wait) throw usageError('--timeout needs --wait');
    const client = await run.client();
    const body = {
      tool,
      args: callArguments(options.args, options.arg),
      ...(options.workspace ? { workspace_id: options.workspace } : {}),
      ...(options.timeoutMs ? { timeout_ms: options.timeoutMs } : {}),
    };
    const created = await client.call<Row>('POST', 'exec/invocations', { body });
    if (!options.wait) {
      run.show(created, invocationColumns(kit.deps.now));
      if (created['state'] === 'pending_approval' && run.format === 'table')
        run.note(approvalHint(run, String(created['approval_id']), text(created['risk'])));
      return;
    }
    run.note(`${text(created['id'])}: ${tool} (${text(created['risk'])}) ${text(created['state'])}`);
    await printEnded(
      run,
      await followInvocation(run, client, String(created['id']), {
        from: text(created['state']),
        ...(options.timeout !== undefined ? { timeoutMs: options.timeout } : {}),
      }),
    );
  });
}

export function registerExec(program: Command, kit: Kit): void {
  const exec = program.command('exec').description('tools and tool calls (invocations)');
  const tools = exec
    .command('tools')
    .description("the workspace's tools, their risk and how many agents offer them")
    .option('--workspace <id>', 'the workspace');
  kit.examples(tools, 'xeroctl exec tools', 'xeroctl exec tools --workspace ws_0123456789ab -o wide');
  kit.act<{ workspace?: string }>(tools, async (run, options) =>
    run.list(
      await (await run.client()).call('GET', 'exec/tools', { query: { workspace_id: options.workspace } }),
      TOOL_COLUMNS,
    ),
  );
  const toolShow = exec
    .command('tool-show <name>')
    .description('one tool: risk, parameters (JSON Schema), agents offering it')
    .option('--workspace <id>', 'the workspace');
  kit.examples(toolShow, 'xeroctl exec tool-show restart_service', 'xeroctl exec tool-show restart_service -o json');
  kit.act<{ workspace?: string }>(toolShow, async (run, options, name) =>
    run.show(
      await (
        await run.client()
      ).call('GET', `exec/tools/${encodeURIComponent(name!)}`, { query: { workspace_id: options.workspace } }),
      [
        ...TOOL_COLUMNS.map((column) => ({ ...column, wide: false })),
        { header: 'PARAMETERS', value: (row) => row['parameters'] },
      ],
    ),
  );
  registerInvoke(exec, kit);
  const watch = exec
    .command('watch <id>')
    .description('follow a call to its end, printing its states (and its output); exit as --wait does')
    .addOption(new Option('--timeout <duration>', 'give up after this long, exit 5').argParser(duration));
  kit.examples(watch, 'xeroctl exec watch inv_0123456789abcdef01234567');
  kit.act<{ timeout?: number }>(watch, async (run, options, id) => {
    const client = await run.client();
    await printEnded(
      run,
      await followInvocation(run, client, id!, {
        ...(options.timeout !== undefined ? { timeoutMs: options.timeout } : {}),
        onProgress: (stream, data) => stream === 'stderr' && run.note(data),
      }),
    );
  });
  const list = pageOptions(exec.command('list').description('calls, newest first'))
    .option('--state <state>', 'only in this state (e.g. pending_approval, running, ambiguous)')
    .option('--tool <name>', 'only of this tool')
    .addOption(
      new Option('--risk <risk>', 'only of this risk').choices(['read', 'write', 'destructive', 'irreversible']),
    )
    .option('--workspace <id>', 'only in this workspace')
    .option('-w, --watch', 'then keep printing state changes of every call as they happen (NDJSON with -o json)');
  kit.examples(
    list,
    'xeroctl exec list --state pending_approval',
    'xeroctl exec list --risk irreversible -o wide',
    'xeroctl exec list --limit 5 --watch',
  );
  kit.act<{
    limit?: number;
    after?: string;
    state?: string;
    tool?: string;
    risk?: string;
    workspace?: string;
    watch?: boolean;
  }>(list, async (run, options) => {
    const answer = await (
      await run.client()
    ).call('GET', 'exec/invocations', {
      query: {
        limit: options.limit,
        after: options.after,
        state: options.state,
        tool: options.tool,
        risk: options.risk,
        workspace_id: options.workspace,
      },
    });
    run.list(answer, invocationColumns(kit.deps.now, run));
    if (options.watch) await watchStates(run);
  });
  const show = exec.command('show <id>').description('one call with its status history');
  kit.examples(show, 'xeroctl exec show inv_0123456789abcdef01234567');
  kit.act(show, async (run, _options, id) => {
    const invocation = await (await run.client()).call<Row>('GET', `exec/invocations/${id}`);
    run.show(invocation, [
      ...invocationColumns(kit.deps.now).map((column) => ({ ...column, wide: false })),
      { header: 'ARGS', value: (row) => row['args'] },
    ]);
    if (run.format !== 'table' && run.format !== 'wide') return;
    run.out('\n');
    run.list({ data: (invocation['history'] as Row[]) ?? [] }, [
      { header: 'AT', value: (row) => row['at'] },
      { header: 'STATE', value: (row) => row['state'] },
      { header: 'ACTOR', value: (row) => row['actor'] },
      { header: 'CAUSE', value: (row) => row['cause'] },
      { header: 'ATTEMPT', value: (row) => row['attempt'] },
    ]);
  });
  const output = exec
    .command('output <id>')
    .alias('raw')
    .description("the call's whole output (also past 256 KiB), as the tool printed it");
  kit.examples(output, 'xeroctl exec output inv_0123456789abcdef01234567 > report.txt');
  kit.act(output, async (run, _options, id) => {
    const answer = await (await run.client()).call<Row>('GET', `exec/invocations/${id}/output`);
    if (run.format === 'table' || run.format === 'wide') run.out(text(answer['output']));
    else run.show(answer, []);
  });
  const cancel = exec
    .command('cancel <id>')
    .description('cancel a call that has not ended (a running one is stopped on its agent)')
    .option('--reason <text>', 'why');
  kit.examples(cancel, 'xeroctl exec cancel inv_0123456789abcdef01234567 --reason "wrong host"');
  kit.act<{ reason?: string }>(cancel, async (run, options, id) => {
    const answer = await (
      await run.client()
    ).call<Row>('POST', `exec/invocations/${id}/cancel`, { body: options.reason ? { reason: options.reason } : {} });
    run.show(answer, invocationColumns(kit.deps.now));
  });
  const resolve = exec
    .command('resolve <id>')
    .description('say how an ambiguous call ended, after checking the system by hand')
    .addOption(
      new Option('--outcome <outcome>', 'what happened').choices(['succeeded', 'failed']).makeOptionMandatory(),
    )
    .option('--note <text>', 'what you checked');
  kit.examples(resolve, 'xeroctl exec resolve inv_0123456789abcdef01234567 --outcome succeeded --note "service is up"');
  kit.act<{ outcome: string; note?: string }>(resolve, async (run, options, id) => {
    const answer = await (
      await run.client()
    ).call<Row>('POST', `exec/invocations/${id}/resolve`, {
      body: { outcome: options.outcome, ...(options.note ? { note: options.note } : {}) },
    });
    run.show(answer, invocationColumns(kit.deps.now));
  });
}
