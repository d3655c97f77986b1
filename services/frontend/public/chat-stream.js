// One turn's stream into the conversation: started by a POST, or (after a dropped connection, a
// reload, or a turn waiting on someone else) followed by replaying the stored response from the
// last event seen. Each event is applied once, by its sequence number, so nothing shows twice.
import { api, streamPost } from './common.js';
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

/** A call asked for again while it waits is the same wait: one note per approval. */
const keyOf = (item) => (item.x_waiting_for ? `waiting:${item.x_approval_id}` : item.id);

export function createTurnView({ list, state, endpoint, itemOptions, onEnded, onFork }) {
  let responseId;
  let last = -1;
  let source;
  const nodes = new Map();
  // A wait already on the page (from the stored chat, or an earlier stream of this turn) is not shown twice.
  const shown = (item) =>
    item.x_waiting_for !== undefined &&
    list.querySelector(`.waiting[data-approval-id="${CSS.escape(String(item.x_approval_id))}"]`) !== null;
  const say = (text, kind = '') => {
    state.textContent = text;
    state.dataset.state = kind;
  };
  const apply = (type, data) => {
    if (typeof data.sequence_number === 'number') {
      if (data.sequence_number <= last && !ENDED.has(type)) return;
      last = Math.max(last, data.sequence_number);
    }
    if (type === 'response.created') responseId = data.response.id;
    else if (type === 'response.output_item.added' && !nodes.has(keyOf(data.item)) && !shown(data.item)) {
      const made = itemNode(data.item, itemOptions(data.item));
      if (made) {
        nodes.set(keyOf(data.item), made);
        list.append(made.node);
      }
    } else if (type === 'response.output_text.delta') nodes.get(data.item_id)?.body?.append(data.delta);
    else if (type === 'response.output_item.done') {
      const made = nodes.get(keyOf(data.item));
      if (data.item.type === 'mcp_call') made?.done?.(data.item);
      else if (!made) apply('response.output_item.added', { item: data.item });
    } else if (type === 'x_exec.progress') nodes.get(data.item_id)?.progress?.(data.data);
    else if (type === 'x_exec.state') nodes.get(data.item_id)?.state?.(data.state);
    else if (type === 'x_context_fork') {
      say(`Forked to “${data.branch_display_name ?? data.branch_id}” before an irreversible call`, 'fork');
      onFork?.(data);
    }
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
  /**
   * When a followed stream closes, the stored response says whether the turn is over; if it is,
   * whatever of it this page has not shown is shown and the turn ends here too.
   */
  const settle = async (id) => {
    const answer = await api('GET', `${endpoint}/v1/responses/${id}`);
    const status = answer.body.status;
    if (answer.status !== 200 || !['completed', 'failed', 'incomplete', 'cancelled'].includes(status)) return;
    for (const item of answer.body.output ?? []) apply('response.output_item.done', { item });
    apply(status === 'cancelled' ? 'response.failed' : `response.${status}`, { response: answer.body });
  };
  /** Follows a stored response from the last event applied; EventSource reconnects by itself. */
  const follow = (id) => {
    responseId = id;
    source?.close();
    say('Reconnecting…', 'reconnecting');
    const after = last >= 0 ? `&starting_after=${last}` : '';
    // EventSource sends no headers: x_events asks the UI to opt in to vendor events for it.
    source = new EventSource(`/api/${endpoint}/v1/responses/${id}?stream=true&x_events=exec${after}`);
    source.addEventListener('open', () => say('Streaming…', 'streaming'));
    source.addEventListener('error', () => {
      say('Reconnecting…', 'reconnecting');
      void settle(id);
    });
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
      const started = await streamPost(
        `${endpoint}/v1/responses`,
        { ...body, stream: true },
        (type, data) => {
          if (apply(type, data) === 'ended') ended = true;
        },
        undefined,
        { 'x-xerotier-events': 'exec' },
      ).catch(() => ({ ok: true }));
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
