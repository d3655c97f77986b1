// How a conversation's items look: messages, tool cards, approval cards, questions. Pure DOM
// building from the router's items; what a card's buttons do is passed in.
import { el, riskBadge } from './common.js';

const textOf = (content) =>
  typeof content === 'string' ? content : (content ?? []).map((part) => part.text ?? '').join('');

/** A message bubble; its text node is returned too, for streaming into. */
export function messageNode(role, text, { onFork } = {}) {
  const body = el('div', { class: 'text' }, text);
  const node = el(
    'li',
    { class: `message ${role}` },
    el('span', { class: 'role' }, role === 'user' ? 'You' : 'Assistant'),
    body,
    onFork ? el('button', { type: 'button', class: 'link fork', onclick: onFork }, 'Fork here') : null,
  );
  return { node, body };
}

/** A tool call card: tool, risk, arguments, live state and progress, output collapsed with copy. */
export function callCard(item) {
  const state = el('span', { class: 'call-state', 'aria-live': 'polite' }, item.status ?? 'running');
  const progress = el('pre', { class: 'progress', hidden: true });
  const output = el('pre', { class: 'output' });
  const copy = el(
    'button',
    { type: 'button', class: 'link', onclick: () => navigator.clipboard?.writeText(output.textContent) },
    'Copy',
  );
  const details = el('details', { class: 'call-output', hidden: true }, el('summary', {}, 'Output'), output, copy);
  const artifacts = el('p', { class: 'artifact-links' });
  const node = el(
    'li',
    { class: 'card call', dataset: { itemId: item.id } },
    el('div', { class: 'card-head' }, el('strong', {}, item.name), ' ', riskBadge(item.x_risk), ' ', state),
    el('code', { class: 'args' }, item.arguments ?? '{}'),
    progress,
    details,
    artifacts,
  );
  const card = {
    node,
    progress(text) {
      progress.hidden = false;
      progress.textContent += text;
    },
    state(text) {
      state.textContent = text;
    },
    done(done) {
      const failed = typeof done.error === 'string' && done.error !== '';
      state.textContent = failed ? 'failed' : 'done';
      node.classList.toggle('failed', failed);
      output.textContent = failed ? done.error : (done.output ?? '');
      details.hidden = false;
      const ids = [
        ...new Set(
          [done.x_artifact_id, ...(String(done.output ?? '').match(/cart_[0-9a-f]{8,}/g) ?? [])].filter(Boolean),
        ),
      ];
      artifacts.replaceChildren(
        ...ids.map((id) => el('a', { href: `#artifact-${id}`, dataset: { artifact: id } }, `Artifact ${id}`)),
      );
    },
  };
  // Stored calls arrive finished; streamed ones are added empty and finished by their done event.
  if (item.status === 'completed' || item.status === 'failed' || item.output || item.error) card.done(item);
  return card;
}

/**
 * An approval card: what would run, who may decide, approve / reject with a reason. An
 * irreversible call needs a second person, so the card links to the approval for them.
 */
export function approvalCard(item, { onDecide, answered }) {
  const reason = el('input', {
    type: 'text',
    name: 'reason',
    'aria-label': 'Reason',
    placeholder: 'Reason (optional)',
  });
  const who =
    item.x_risk === 'irreversible'
      ? el(
          'span',
          {},
          'Irreversible: needs two approvers. After you, a second person decides at ',
          el('a', { href: `/ops#${item.x_approval_id}` }, `/ops (${item.x_approval_id})`),
          '.',
        )
      : el('span', {}, 'Needs an approver of this workspace (you, if you hold the role).');
  const decide = (approve) => () => {
    const said = reason.value;
    row.replaceWith(
      el('p', { class: 'answered' }, approve ? 'You approved.' : `You rejected${said ? `: ${said}` : ''}.`),
    );
    onDecide(item, approve, said);
  };
  const row = el(
    'div',
    { class: 'row' },
    reason,
    el('button', { type: 'button', class: 'approve', onclick: decide(true) }, 'Approve'),
    el('button', { type: 'button', class: 'reject', onclick: decide(false) }, 'Reject'),
  );
  const node = el(
    'li',
    { class: 'card approval', dataset: { itemId: item.id, approvalId: item.x_approval_id } },
    el('div', { class: 'card-head' }, el('strong', {}, `Approval needed: ${item.name}`), ' ', riskBadge(item.x_risk)),
    el('code', { class: 'args' }, item.arguments ?? '{}'),
    el('p', { class: 'who' }, who),
    answered ? el('p', { class: 'answered' }, answered) : row,
  );
  return { node };
}

/** One stored or streamed item as a node (or nothing for items a person need not see). */
export function itemNode(item, options) {
  if (item.type === 'message') {
    const made = messageNode(item.role, textOf(item.content), options);
    if (item.x_ask_user) made.node.classList.add('question');
    return made;
  }
  if (item.type === 'mcp_call') return callCard(item);
  if (item.type === 'mcp_approval_request' && item.x_waiting_for)
    return {
      node: el(
        'li',
        { class: 'note waiting', dataset: { approvalId: item.x_approval_id } },
        `${item.name} waits for ${item.x_waiting_for}. `,
        el('a', { href: `/ops#${item.x_approval_id}` }, 'Open the approval'),
      ),
    };
  if (item.type === 'mcp_approval_request') return approvalCard(item, options);
  if (item.type === 'mcp_approval_response')
    return {
      node: el(
        'li',
        { class: 'note' },
        item.approve ? 'You approved the call.' : `You rejected the call${item.reason ? `: ${item.reason}` : ''}.`,
      ),
    };
  return undefined;
}

export { textOf };
