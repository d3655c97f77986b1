// One turn's stream into the conversation: started by a POST, or (after a dropped connection, a
// reload, or a turn waiting on someone else) followed by replaying the stored response from the
// last event seen. Each event is applied once, by its sequence number, so nothing shows twice.
import { streamPost } from './common.js';
import { itemNode } from './chat-render.js';

const ENDED = new Set(['response.completed', 'response.failed', 'response.incomplete']);
const EVENTS = [
  'response.created',
  'response.output_item.added',
  'response.output_item.done',
  'response.output_text.delta',
  'response.completed',
  'response.failed',
  'response.incomplete',
  'x_exec.state',
  'x_exec.progress',
  'x_context_fork',
  'x_ask_user.question',
];

export function createTurnView({ list, state, endpoint, itemOptions, onEnded }) {
  let responseId;
  let last = -1;
  let source;
  const nodes = new Map();
  const say = (text, kind = '') => {
    state.textContent = text;
    state.dataset.state = kind;
  };
  const apply = (type, data) => {
    if (typeof data.sequence_number === 'number') {
      if (data.sequence_number <= last) return;
      last = data.sequence_number;
    }
    if (type === 'response.created') responseId = data.response.id;
    else if (type === 'response.output_item.added' && !nodes.has(data.item.id)) {
      const made = itemNode(data.item, itemOptions(data.item));
      if (made) {
        nodes.set(data.item.id, made);
        list.append(made.node);
      }
    } else if (type === 'response.output_text.delta') nodes.get(data.item_id)?.body?.append(data.delta);
    else if (type === 'response.output_item.done') {
      const made = nodes.get(data.item.id);
      if (data.item.type === 'mcp_call') made?.done?.(data.item);
      else if (!made) apply('response.output_item.added', { item: data.item });
    } else if (type === 'x_exec.progress') nodes.get(data.item_id)?.progress?.(data.data);
    else if (type === 'x_exec.state') nodes.get(data.item_id)?.state?.(data.state);
    else if (type === 'x_context_fork') say(`Forked to a new branch before an irreversible call`, 'fork');
    if (ENDED.has(type)) {
      source?.close();
      source = undefined;
      const failed = type === 'response.failed' ? (data.response?.error?.message ?? 'the turn failed') : '';
      say(failed ? `Failed: ${failed}` : '', failed ? 'failed' : 'done');
      onEnded(data.response, failed);
      return 'ended';
    }
    return undefined;
  };
  /** Follows a stored response from the last event applied; EventSource reconnects by itself. */
  const follow = (id) => {
    responseId = id;
    source?.close();
    say('Reconnecting…', 'reconnecting');
    const after = last >= 0 ? `&starting_after=${last}` : "";
    source = new EventSource(`/api/${endpoint}/v1/responses/${id}?stream=true${after}`);
    source.addEventListener('open', () => say('Streaming…', 'streaming'));
    source.addEventListener('error', () => say('Reconnecting…', 'reconnecting'));
    for (const type of EVENTS) source.addEventListener(type, (event) => apply(type, JSON.parse(event.data)));
  };
  return {
    get responseId() {
      return responseId;
    },
    follow,
    /** Starts a turn; a stream cut before its end is followed from where it stopped. */
    async start(body) {
      say('Streaming…', 'streaming');
      let ended = false;
      const started = await streamPost(`${endpoint}/v1/responses`, { ...body, stream: true }, (type, data) => {
        if (apply(type, data) === 'ended') ended = true;
      }, undefined, { 'x-xerotier-events': 'exec' }).catch(() => ({ ok: true }));
      if (!started.ok) {
        say(`${started.error.message} (${started.error.code})`, 'failed');
        onEnded(undefined, started.error.message);
        return;
      }
      if (!ended && responseId) follow(responseId);
      else if (!ended) say('The connection dropped before the turn began; send again', 'failed');
    },
    close() {
      source?.close();
    },
  };
}
