import { describe, expect, it } from 'vitest';
import { ChatAccumulator } from '../../../services/router/inference/chat-accumulator.js';
import { engineChatFromChat, promptText } from '../../../services/router/inference/chat-request.js';
import {
  engineChatFromResponses,
  InputError,
  inputItems,
} from '../../../services/router/inference/responses-request.js';
import { ResponsesTranslator, type ResponseEvent } from '../../../services/router/inference/responses-stream.js';

const text = (content: string) => ({ choices: [{ index: 0, delta: { content } }] });
const fragment = (index: number, fields: { id?: string; name?: string; arguments?: string }) => ({
  choices: [
    {
      index: 0,
      delta: {
        tool_calls: [
          {
            index,
            ...(fields.id ? { id: fields.id, type: 'function' } : {}),
            function: {
              ...(fields.name ? { name: fields.name } : {}),
              ...(fields.arguments ? { arguments: fields.arguments } : {}),
            },
          },
        ],
      },
    },
  ],
});
const finish = (reason: string) => ({ choices: [{ index: 0, delta: {}, finish_reason: reason }] });
const usage = { prompt_tokens: 7, completion_tokens: 5, total_tokens: 12, prompt_tokens_details: { cached_tokens: 4 } };

function translate(chunks: Record<string, unknown>[]): { events: ResponseEvent[]; translator: ResponsesTranslator } {
  let n = 0;
  const translator = new ResponsesTranslator({ id: 'resp_1', model: 'm' }, (prefix) => `${prefix}_${(n += 1)}`);
  const events = [
    ...translator.start(),
    ...chunks.flatMap((chunk) => translator.chunk(chunk)),
    ...translator.complete(usage),
  ];
  return { events, translator };
}

/** What the SDK's accumulator (v7.5+) checks, restated: append-only indices, scaffolding before deltas. */
function assertSdkOrder(events: ResponseEvent[]): void {
  expect(events[0]!.type).toBe('response.created');
  expect(events.map((event) => event.sequence_number)).toEqual(events.map((_, index) => index));
  const items: { id: string; parts: number }[] = [];
  for (const event of events) {
    const index = event['output_index'] as number | undefined;
    if (event.type === 'response.output_item.added') {
      expect(index).toBe(items.length);
      const item = event['item'] as { id: string; call_id?: string; type: string };
      expect(item.id).toMatch(/\S/);
      if (item.type === 'function_call') expect(item.call_id).toMatch(/\S/);
      items.push({ id: item.id, parts: 0 });
    } else if (event.type === 'response.content_part.added') items[index!]!.parts += 1;
    else if (event.type === 'response.output_text.delta')
      expect(items[index!]!.parts).toBeGreaterThan(event['content_index'] as number);
    else if (index !== undefined) expect(items[index]).toBeDefined();
  }
}

describe('ResponsesTranslator', () => {
  it('turns a text stream into the canonical message sequence, with the whole response last', () => {
    const { events } = translate([text('Hel'), text('lo'), finish('stop')]);
    assertSdkOrder(events);
    expect(events.map((event) => event.type)).toEqual([
      'response.created',
      'response.in_progress',
      'response.output_item.added',
      'response.content_part.added',
      'response.output_text.delta',
      'response.output_text.delta',
      'response.output_text.done',
      'response.content_part.done',
      'response.output_item.done',
      'response.completed',
    ]);
    expect(events.at(-1)!['response']).toMatchObject({
      id: 'resp_1',
      status: 'completed',
      output: [
        {
          type: 'message',
          id: 'msg_1',
          status: 'completed',
          content: [{ type: 'output_text', text: 'Hello', annotations: [] }],
        },
      ],
      usage: { input_tokens: 7, input_tokens_details: { cached_tokens: 4 }, output_tokens: 5, total_tokens: 12 },
    });
  });

  it('closes the message before tool calls, keeps parallel calls at their own indices, ids never empty', () => {
    const { events } = translate([
      text('Checking.'),
      fragment(0, { id: 'call_a', name: 'get_weather' }),
      fragment(1, { name: 'get_time' }),
      fragment(0, { arguments: '{"city":' }),
      fragment(1, { arguments: '{}' }),
      fragment(0, { arguments: '"Oslo"}' }),
      finish('tool_calls'),
    ]);
    assertSdkOrder(events);
    const added = events
      .filter((event) => event.type === 'response.output_item.added')
      .map((event) => event['item'] as Record<string, unknown>);
    expect(added.map((item) => [item['type'], item['call_id']])).toEqual([
      ['message', undefined],
      ['function_call', 'call_a'],
      ['function_call', 'call_4'],
    ]);
    expect(events.findIndex((event) => event.type === 'response.output_item.done')).toBeLessThan(
      events.findIndex((event) => event.type === 'response.function_call_arguments.delta'),
    );
    const done = events.filter((event) => event.type === 'response.function_call_arguments.done');
    expect(done.map((event) => [event['name'], event['arguments']])).toEqual([
      ['get_weather', '{"city":"Oslo"}'],
      ['get_time', '{}'],
    ]);
  });

  it('says incomplete when the token cap cut the answer, and failed in-band with the items so far', () => {
    expect(translate([text('Once upon'), finish('length')]).events.at(-1)).toMatchObject({
      type: 'response.incomplete',
      response: { status: 'incomplete', incomplete_details: { reason: 'max_output_tokens' } },
    });
    const translator = new ResponsesTranslator({ id: 'resp_2', model: 'm' }, (prefix) => `${prefix}_x`);
    const events = [
      ...translator.start(),
      ...translator.chunk(text('par')),
      ...translator.fail('server_error', 'agent lost'),
    ];
    expect(events.at(-1)).toMatchObject({
      type: 'response.failed',
      sequence_number: events.length - 1,
      response: {
        status: 'failed',
        error: { code: 'server_error', message: 'agent lost' },
        output: [{ type: 'message' }],
      },
    });
    expect(events.at(-1)).not.toHaveProperty('error');
  });
});

describe('Responses requests as chat requests', () => {
  it('makes a string one user turn, replays function calls as one assistant turn and their outputs as tool turns', () => {
    const items = [
      ...inputItems('weather?'),
      { type: 'function_call', call_id: 'call_1', name: 'get_weather', arguments: '{"city":"Oslo"}' },
      { type: 'function_call', call_id: 'call_2', name: 'get_time', arguments: '{}' },
      ...inputItems([
        { type: 'function_call_output', call_id: 'call_1', output: '3C' },
        { role: 'developer', content: [{ type: 'input_text', text: 'terse' }] },
      ]),
    ];
    const chat = engineChatFromResponses(
      {
        input: '',
        instructions: 'Be kind.',
        tools: [{ type: 'function', name: 'get_weather', parameters: { type: 'object' } }],
        tool_choice: { type: 'function', name: 'get_weather' },
        max_output_tokens: 9,
      },
      items,
      { temperature: 0.5 },
    );
    expect(chat.messages).toEqual([
      { role: 'system', content: 'Be kind.' },
      { role: 'user', content: 'weather?' },
      {
        role: 'assistant',
        content: null,
        tool_calls: [
          { id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Oslo"}' } },
          { id: 'call_2', type: 'function', function: { name: 'get_time', arguments: '{}' } },
        ],
      },
      { role: 'tool', tool_call_id: 'call_1', content: '3C' },
      { role: 'system', content: 'terse' },
    ]);
    expect(chat).toMatchObject({
      tools: [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }],
      tool_choice: { type: 'function', function: { name: 'get_weather' } },
      max_tokens: 9,
      temperature: 0.5,
    });
  });

  it('refuses what it cannot carry, naming the field', () => {
    expect(() => inputItems([{ type: 'item_reference', id: 'x' }])).toThrow(InputError);
    expect(() => engineChatFromResponses({ input: '', tools: [{ type: 'web_search' }] }, [], {})).toThrow(/tools\[0\]/);
    expect(() =>
      engineChatFromResponses(
        { input: '' },
        inputItems([{ role: 'user', content: [{ type: 'input_image', image_url: 'x' }] }]),
        {},
      ),
    ).toThrow(/input_image/);
  });

  it("puts endpoint defaults under the caller's chat parameters and keeps router-only fields away from the engine", () => {
    const chat = engineChatFromChat(
      {
        messages: [{ role: 'user', content: 'hi' }],
        max_completion_tokens: 5,
        prompt_cache_key: 'k',
        service_tier: 'auto',
        metadata: {},
        stream: true,
      },
      { temperature: 0.1, max_output_tokens: 100, instructions: 'Be brief.' },
    );
    expect(chat).toEqual({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'hi' },
      ],
      temperature: 0.1,
      max_tokens: 5,
    });
    expect(promptText(chat)).toBe('<|system|>Be brief.\n<|user|>hi\n');
  });
});

describe('ChatAccumulator', () => {
  it('folds tool-call fragments by index and keeps the usage', () => {
    const accumulator = new ChatAccumulator();
    for (const chunk of [
      fragment(0, { id: 'call_a', name: 'f' }),
      fragment(0, { arguments: '{"a"' }),
      fragment(0, { arguments: ':1}' }),
      finish('tool_calls'),
      { choices: [], usage },
    ])
      accumulator.add(chunk);
    expect(accumulator.toolCalls).toEqual([
      { id: 'call_a', type: 'function', function: { name: 'f', arguments: '{"a":1}' } },
    ]);
    expect(accumulator.finishReason).toBe('tool_calls');
    expect(accumulator.usage).toEqual(usage);
  });
});
