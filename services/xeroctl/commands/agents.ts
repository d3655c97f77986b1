import { Option, type Command } from 'commander';
import { integerIn, pageOptions, type Kit } from '../kit.js';
import { age, type Column, text } from '../output/render.js';
import type { Run } from '../runtime.js';

type Row = Record<string, unknown>;

export function agentColumns(now: () => Date): Column[] {
  return [
    { header: 'ID', value: (row) => row['id'] },
    { header: 'NAME', value: (row) => row['registration_name'] },
    { header: 'ROLE', value: (row) => row['role'] },
    { header: 'STATUS', value: (row) => `${text(row['status'])}${text(row['exec_paused'] ? ' (paused)' : '')}` },
    { header: 'LEASE AGE', value: (row) => age(row['last_heartbeat'], now()) },
    { header: 'MANIFEST', value: (row) => row['manifest_version'] },
    { header: 'REGION', value: (row) => row['region'], wide: true },
    { header: 'ENROLLED', value: (row) => row['enrolled_at'], wide: true },
  ];
}

const TOOL_COLUMNS: Column[] = [
  { header: 'TOOL', value: (row) => row['name'] },
  { header: 'RISK', value: (row) => row['risk'] },
  { header: 'TIMEOUT MS', value: (row) => row['timeout_ms'] },
  { header: 'DESCRIPTION', value: (row) => row['description'] },
];

const JOIN_KEY_COLUMNS = (now: () => Date): Column[] => [
  { header: 'ID', value: (row) => row['id'] },
  { header: 'NAME', value: (row) => row['name'] },
  { header: 'ROLE', value: (row) => row['role'] },
  { header: 'STATUS', value: (row) => row['status'] },
  { header: 'EXPIRES', value: (row) => age(row['expires_at'], now()) },
  { header: 'BOUND TO', value: (row) => row['registration_name'], wide: true },
  { header: 'USED BY', value: (row) => row['used_by_agent'], wide: true },
];

/** How to start an agent with a freshly minted key: the bootstrap for XEM hosts, env for XIM. */
export function installCommand(routerUrl: string, key: Row): string {
  const secret = String(key['key']);
  if (key['role'] === 'xim')
    return `XEROTIER_AGENT_ROUTER_URL=${routerUrl} XEROTIER_AGENT_JOIN_KEY=${secret} xerotier-xim-agent`;
  const name = text(key['registration_name'] ?? key['name']);
  const named = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/.test(name) && name.length <= 48 ? ` --name ${name}` : '';
  // The key travels on stdin (printf is a shell builtin): never in a process's arguments.
  return `printf %s '${secret}' | sudo xeroctl bootstrap --router-url ${routerUrl} --join-key-stdin${named} --start`;
}

function simpleAction(run: Run, path: string, past: string) {
  return async (id: string) => {
    const client = await run.client();
    const answer = await client.call<Row>('POST', `management/agents/${id}/${path}`, { body: {} });
    run.said(answer, `Agent ${id} ${past}.`);
  };
}

function registerJoinKeys(program: Command, kit: Kit): void {
  const keys = program.command('join-keys').description('one-shot keys agents enroll with');
  const mint = keys
    .command('mint <name>')
    .description('mint a join key; it is shown once, with the command that installs the agent')
    .addOption(new Option('--role <role>', 'the agent it enrolls').choices(['xem', 'xim']).default('xem'))
    .option('--region <region>', 'the region the agent reports')
    .addOption(
      new Option('--ttl <seconds>', 'how long it stays usable (60–604800; default 1800)').argParser(
        integerIn(60, 604_800),
      ),
    )
    .option('--registration-name <name>', 'the only registration name it may enroll (re-enrolling one agent)')
    .option('--allow-replace', 'the agent may replace a live one of the same name or key (a re-imaged host)')
    .addOption(
      new Option(
        '--scope <scope>',
        'platform: a shared XIM agent serving every project (in the platform project only)',
      ).choices(['project', 'platform']),
    );
  kit.examples(
    mint,
    'xeroctl join-keys mint db-host-1',
    'xeroctl join-keys mint gpu-a --role xim --ttl 3600',
    'xeroctl join-keys mint db-host-1 --registration-name db-host-1 --allow-replace',
    'xeroctl join-keys mint gpu-pool-1 --role xim --scope platform',
  );
  kit.act<{
    role: string;
    region?: string;
    ttl?: number;
    registrationName?: string;
    allowReplace?: boolean;
    scope?: string;
  }>(mint, async (run, options, name) => {
    const client = await run.client();
    const minted = await client.call<Row>('POST', 'management/join-keys', {
      body: {
        name,
        role: options.role,
        ...(options.region ? { region: options.region } : {}),
        ...(options.ttl ? { ttl_seconds: options.ttl } : {}),
        ...(options.registrationName ? { registration_name: options.registrationName } : {}),
        ...(options.allowReplace ? { allow_replace: true } : {}),
        ...(options.scope ? { scope: options.scope } : {}),
      },
    });
    if (run.format !== 'table' && run.format !== 'wide') return run.show(minted, []);
    run.out(`${text(minted['key'])}\n`);
    run.note(
      `Join key ${text(minted['id'])} (${text(minted['role'])}), usable once until ${text(minted['expires_at'])}; it is not shown again.`,
    );
    run.note(`Install the agent with:\n  ${installCommand(client.connection.url, minted)}`);
  });
  const list = pageOptions(keys.command('list').description('join keys and whether they were used'));
  kit.examples(list, 'xeroctl join-keys list', 'xeroctl join-keys list -o wide');
  kit.act<{ limit?: number; after?: string }>(list, async (run, options) => {
    const answer = await (
      await run.client()
    ).call('GET', 'management/join-keys', { query: { limit: options.limit, after: options.after } });
    run.list(answer, JOIN_KEY_COLUMNS(kit.deps.now));
  });
  const revoke = keys.command('revoke <id>').description('revoke an unused join key');
  kit.examples(revoke, 'xeroctl join-keys revoke jk_0123456789abcdef01234567');
  kit.act(revoke, async (run, _options, id) => {
    const answer = await (await run.client()).call<Row>('DELETE', `management/join-keys/${id}`);
    run.said(answer, `Join key ${id} revoked.`);
  });
}

export function registerAgents(program: Command, kit: Kit): void {
  const agents = program.command('agents').description('XEM and XIM agents of the project');
  const list = pageOptions(agents.command('list').description('agents: role, status, lease age, manifest'));
  kit.examples(list, 'xeroctl agents list', 'xeroctl agents list -o json');
  kit.act<{ limit?: number; after?: string }>(list, async (run, options) => {
    const answer = await (
      await run.client()
    ).call('GET', 'management/agents', { query: { limit: options.limit, after: options.after } });
    run.list(answer, agentColumns(kit.deps.now));
  });
  const show = agents
    .command('show <id>')
    .description('one agent, with the tools its manifest publishes and its last heartbeat');
  kit.examples(show, 'xeroctl agents show agt_0123456789abcdef01234567');
  kit.act(show, async (run, _options, id) => {
    const client = await run.client();
    const agent = await client.call<Row>('GET', `management/agents/${id}`);
    const tools = await client
      .call<{ data: Row[] }>('GET', `management/agents/${id}/tools`)
      .catch(() => ({ data: [] }));
    if (run.format !== 'table' && run.format !== 'wide') return run.show({ ...agent, tools: tools.data }, []);
    run.show(agent, [
      ...agentColumns(kit.deps.now).map((column) => ({ ...column, wide: false })),
      { header: 'LAST HEARTBEAT', value: (row) => row['last_heartbeat'] },
    ]);
    run.out('\n');
    run.list(tools, TOOL_COLUMNS);
  });
  const events = agents.command('events <id>').description("the agent's lifecycle, from the audit log (newest first)");
  kit.examples(events, 'xeroctl agents events agt_0123456789abcdef01234567');
  kit.act(events, async (run, _options, id) => {
    const answer = await (await run.client()).call('GET', `management/agents/${id}/events`);
    run.list(answer, [
      { header: 'AT', value: (row) => row['at'] },
      { header: 'EVENT', value: (row) => row['event'] },
      { header: 'ACTOR', value: (row) => row['actor'] },
      { header: 'DETAIL', value: (row) => row['detail'], wide: true },
    ]);
  });
  for (const [verb, path, past, what] of [
    [
      'pause-exec',
      'pause-exec',
      'paused: no new calls go to it',
      'stop new calls going to the agent (it keeps its lease and finishes what runs)',
    ],
    ['resume-exec', 'resume-exec', 'resumed', 'let calls go to the agent again'],
    [
      'revoke-credentials',
      'revoke-credentials',
      'revoked: it needs a new join key',
      "revoke the agent's credentials: it is cut off and must enroll again",
    ],
  ] as const) {
    const command = agents.command(`${verb} <id>`).description(what);
    kit.examples(command, `xeroctl agents ${verb} agt_0123456789abcdef01234567`);
    kit.act(command, async (run, _options, id) => simpleAction(run, path, past)(id!));
  }
  const rotate = agents
    .command('curve-rotate')
    .description(
      "move the project's connected agents to the router's next CURVE key (the routers must serve it: XEROTIER_ROUTER_CURVE_SECRET_KEY_NEXT)",
    );
  kit.examples(rotate, 'xeroctl agents curve-rotate', 'xeroctl agents curve-rotate -o json');
  kit.act(rotate, async (run) => {
    const answer = await (await run.client()).call<Row>('POST', 'management/agents/curve-rotate', { body: {} });
    run.said(
      answer,
      `Rotation ${String(answer['id'])}: connected agents are moving to ${String(answer['mesh_endpoint'])}; watch xerotier_mesh_agents_on_next_key.`,
    );
  });
  registerJoinKeys(program, kit);
}
