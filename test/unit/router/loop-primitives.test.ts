import { describe, expect, it } from 'vitest';
import { engineChatFromResponses } from '../../../services/router/inference/responses-request.js';
import { READ_LIMIT, readPart, contentTypeOf } from '../../../services/router/knowledge/artifacts.js';
import {
  EXTRACTION_PROMPT,
  extractionChat,
  learntByModel,
  learntByRule,
} from '../../../services/router/knowledge/learnings.js';
import { fileTypeOf } from '../../../services/router/knowledge/mockups.js';
import { ApiError } from '../../../services/router/http/errors.js';
import { builtinRegistry } from '../../../services/router/loop/builtins.js';
import type { OfferedServer } from '../../../services/router/loop/servers.js';
import { stricterBy } from '../../../services/router/loop/servers.js';
import { SUBPLAN_DEPTH_LIMIT, SUBPLAN_TOOL, specOf } from '../../../services/router/loop/subplan.js';
import { searchableText } from '../../../services/router/store/chat-messages.js';
import type { ArtifactVersion } from '../../../services/router/store/artifacts.js';
import type { ChatRecord } from '../../../services/router/store/chats.js';
import type { TemplateVersion } from '../../../services/router/store/templates.js';
import { chatTurnBody } from '../../../services/router/templates/in-chat.js';

const tool = (name: string, risk = 'read') => ({
  name,
  description: name,
  risk,
  parameters: {},
  parameter_schemas: [{}],
});
const servers = (): OfferedServer[] => [
  {
    kind: 'workspace',
    label: 'ops',
    workspaceId: 'ws_000000000001',
    tools: [tool('disk_usage'), tool('uptime'), tool('restart', 'destructive')] as never,
    alwaysApprove: new Set(),
  },
  {
    kind: 'builtin',
    label: 'xerotier',
    tools: [tool('x_read_artifact'), tool(SUBPLAN_TOOL)] as never,
    builtins: new Map([['x_read_artifact', builtinRegistry().get('x_read_artifact')!]]),
  },
];

describe('loop primitives, decided by pure parts', () => {
  it('a subplan gets a subset of its caller tools, never more, and nests only to the depth limit', () => {
    const spec = specOf({ servers: servers() }, JSON.stringify({ goal: 'look', tools: ['disk_usage', SUBPLAN_TOOL] }));
    if (typeof spec === 'string') throw new Error(spec);
    expect(spec.servers.flatMap((server) => server.tools.map((entry) => entry.name))).toEqual([
      'disk_usage',
      SUBPLAN_TOOL,
    ]);
    expect(spec.depth).toBe(1);
    expect(specOf({ servers: servers() }, JSON.stringify({ goal: 'look', tools: ['disk_usage', 'rm_rf'] }))).toBe(
      'subplan_scope_too_wide: not yours to give: rm_rf',
    );
    // At the last level the nested model is not offered another subplan, even when asked for.
    const deepest = specOf(
      { servers: servers(), depth: SUBPLAN_DEPTH_LIMIT - 1 },
      JSON.stringify({ goal: 'x', tools: [SUBPLAN_TOOL, 'uptime'] }),
    );
    if (typeof deepest === 'string') throw new Error(deepest);
    expect(deepest.servers.flatMap((server) => server.tools.map((entry) => entry.name))).toEqual(['uptime']);
    expect(
      specOf({ servers: servers(), depth: SUBPLAN_DEPTH_LIMIT }, JSON.stringify({ goal: 'x', tools: ['uptime'] })),
    ).toMatch(/^subplan_too_deep/);
    expect(specOf({ servers: servers() }, '{"goal":"x"}')).toMatch(/^invalid_arguments/);
    expect(specOf({ servers: servers() }, 'not json')).toMatch(/^invalid_arguments/);
  });

  it("the outer model reads a subplan's answer, not its calls", () => {
    const chat = engineChatFromResponses(
      { input: [] } as never,
      [
        { type: 'message', role: 'user', content: 'go' },
        { type: 'mcp_call', id: 'mcp_1', name: SUBPLAN_TOOL, arguments: '{}', output: 'found it' },
        {
          type: 'mcp_call',
          id: 'mcp_2',
          name: 'disk_usage',
          arguments: '{}',
          output: '42%',
          x_subplan: { id: 'sub_1' },
        },
      ],
      {},
    );
    expect(JSON.stringify(chat.messages)).not.toContain('42%');
    expect(JSON.stringify(chat.messages)).toContain('found it');
  });

  it('reads an artifact whole, by lines or by bytes, never past the read limit, and says what remains', () => {
    const content = Array.from({ length: 5000 }, (_, index) => `row ${index + 1}`).join('\n');
    const version = { content, version: 1, bytes: Buffer.byteLength(content), lines: 5000 } as ArtifactVersion;
    expect(readPart(version, { kind: 'lines', start: 2, end: 3 })).toEqual({
      text: 'row 2\nrow 3',
      more: 'lines 4-5000 remain',
    });
    const whole = readPart(version, { kind: 'whole' });
    expect(Buffer.byteLength(whole.text)).toBe(READ_LIMIT);
    expect(whole.more).toBe(`${version.bytes - READ_LIMIT} more bytes: read on from offset ${READ_LIMIT}`);
    expect(readPart(version, { kind: 'bytes', offset: version.bytes - 5 })).toEqual({ text: ' 5000', more: null });
    expect(readPart(version, { kind: 'lines', start: 1 }).more).toMatch(/^cut at/);
    expect(contentTypeOf('{"a":1}')).toBe('application/json');
    expect(contentTypeOf('{not json')).toBe('text/plain; charset=utf-8');
  });

  it('a mockup file path stays inside its bundle and is one of the served text formats', () => {
    expect(fileTypeOf('index.html')).toBe('text/html; charset=utf-8');
    expect(fileTypeOf('css/site.css')).toBe('text/css; charset=utf-8');
    for (const path of [
      '../index.html',
      'a/../../b.html',
      '.env.js',
      '/etc/passwd.txt',
      'a//b.js',
      'run.sh',
      'x\\y.js',
    ])
      expect(fileTypeOf(path)).toBeInstanceOf(ApiError);
  });

  it('a template narrows a chat turn to its tools, only ever stricter, and puts its prompt first', () => {
    const chat = { workspace_id: 'ws_000000000001' } as ChatRecord;
    const template = {
      system_prompt: 'Be careful.',
      allowed_tools: ['disk_usage', 'x_ask_user'],
      approval_policy: 'restricted',
    } as TemplateVersion;
    const body = chatTurnBody({ instructions: 'Be brief.', tools: [] }, chat, template, true);
    expect(body.instructions).toBe('Be careful.\n\nBe brief.');
    expect(body.tools).toEqual([
      {
        type: 'mcp',
        server_label: 'ws_000000000001',
        allowed_tools: ['disk_usage', 'x_ask_user'],
        x_approval_policy: 'restricted',
      },
      {
        type: 'mcp',
        server_label: 'xerotier',
        allowed_tools: ['disk_usage', 'x_ask_user'],
        x_approval_policy: 'restricted',
      },
    ]);
    // The client may narrow further, never widen past the template.
    const asked = chatTurnBody(
      { tools: [{ type: 'mcp', server_label: 'ops', allowed_tools: ['disk_usage', 'uptime'] }] },
      chat,
      template,
      true,
    );
    expect(asked.tools![0]).toMatchObject({ allowed_tools: ['disk_usage'] });
    // Without the right to run tools, a template chat offers no workspace by itself.
    expect(chatTurnBody({ tools: [] }, chat, template, false).tools).toEqual([]);
    expect(stricterBy('elevated', [tool('a'), tool('b', 'write'), tool('c', 'destructive')] as never)).toEqual(['b']);
    expect(stricterBy('restricted', [tool('a'), tool('b', 'write')] as never)).toEqual(['a', 'b']);
    expect(stricterBy('never', [tool('a')] as never)).toEqual([]);
  });

  it('learns what workspace calls returned and, from people who may run tools, their standing instructions', () => {
    const turn = {
      input: [{ type: 'message', role: 'user', content: 'Check it. Always drain one node at a time. ok' }],
      output: [
        { type: 'mcp_call', name: 'disk_usage', output: '\n42% full\nmore', x_invocation_id: 'inv_1' },
        { type: 'mcp_call', name: 'probe', output: 'x', error: 'exit 3', x_invocation_id: 'inv_2' },
        { type: 'mcp_call', name: 'x_recall_memory', output: 'builtin, not learnt' },
      ],
      responseId: 'resp_1',
    };
    expect(learntByRule({ ...turn, mayCurate: true }).map((learning) => [learning.content, learning.source])).toEqual([
      ['disk_usage returned: 42% full', 'tool'],
      ['probe failed: exit 3', 'tool'],
      ['Always drain one node at a time.', 'chat'],
    ]);
    expect(learntByRule({ ...turn, mayCurate: false }).map((learning) => learning.source)).toEqual(['tool', 'tool']);
  });

  it('a message is searchable by its text and its tools output, not by ids', () => {
    expect(
      searchableText([
        { type: 'message', role: 'user', content: [{ type: 'input_text', text: 'where is staging' }] },
        { type: 'mcp_call', id: 'mcp_secretid', name: 'disk_usage', output: '42%' },
      ]),
    ).toBe('where is staging\ndisk_usage\n42%');
  });

  it("keeps a model's '- ' lines (three at most, '- none' meaning nothing) and ignores what is not in the format", () => {
    const kept = learntByModel(
      'Here is what I found:\n- db-3 holds the ledger\n  - backups run at 02:00\n-not a line\n- none\n- a\n- b',
      'resp_1',
    );
    expect(kept.map((learning) => learning.content)).toEqual(['db-3 holds the ledger', 'backups run at 02:00', 'a']);
    expect(kept[0]).toMatchObject({ source: 'model', sourceRef: 'resp_1', score: 0.6 });
    expect(learntByModel('- none', 'resp_1')).toEqual([]);
    expect(learntByModel('I cannot help with that.', 'resp_1')).toEqual([]);
    expect(learntByModel(`- ${'x'.repeat(1_000)}`, 'resp_1')[0]!.content).toHaveLength(300);
  });

  it("gives the extracting model the turn's calls, and what the person said only when they may run tools", () => {
    const turn = {
      input: [{ type: 'message', role: 'user', content: 'always drain before patching' }],
      output: [
        {
          type: 'mcp_call',
          id: 'mcp_1',
          name: 'uptime',
          arguments: '{}',
          output: 'up 3 days',
          x_invocation_id: 'inv_1',
        },
        {
          type: 'mcp_call',
          id: 'mcp_2',
          name: 'reboot',
          arguments: '{"host":"a"}',
          error: 'denied',
          x_invocation_id: 'inv_2',
        },
        { type: 'message', role: 'assistant', content: [{ type: 'output_text', text: 'Done.' }] },
      ],
    };
    const curated = extractionChat({ ...turn, mayCurate: true })!;
    expect(curated.messages[0]).toEqual({ role: 'system', content: EXTRACTION_PROMPT });
    expect(curated.messages[1]!.content).toBe(
      'Person: always drain before patching\nTool uptime {} returned: up 3 days\nTool reboot {"host":"a"} failed: denied\nAssistant: Done.',
    );
    expect(extractionChat({ ...turn, mayCurate: false })!.messages[1]!.content).not.toContain('Person');
    // A chat-only person's turn with no calls: nothing to learn from, no extraction runs.
    expect(extractionChat({ input: turn.input, output: [turn.output[2]!], mayCurate: false })).toBeUndefined();
  });
});
