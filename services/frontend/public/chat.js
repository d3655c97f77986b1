// The immersive chat: chats of the project, one conversation with its branches, a composer that
// streams the answer, tool and approval cards, and the workspace's artifacts, mockups, memories
// and learnings beside it. Every change is a call to the router; this page only shows.
import { api, el, jsonForm, showError } from './common.js';
import { itemNode } from './chat-render.js';
import { createTurnView } from './chat-stream.js';

const endpoint = document.body.dataset.endpoint;
const $ = (id) => document.getElementById(id);
const list = $('messages');
const state = $('stream-state');
let chat;
let branchId;
let turn;
let allChats = [];

async function loadChats() {
  const answer = await api('GET', 'v1/chats?archived=false&limit=100');
  allChats = answer.body.data ?? [];
  renderChats();
}

function renderChats() {
  const query = $('chat-search').value.trim().toLowerCase();
  $('chats').replaceChildren(
    ...allChats
      .filter((one) => !query || (one.title ?? '').toLowerCase().includes(query))
      .map((one) =>
        el(
          'li',
          {},
          el(
            'a',
            { href: `/chat#${one.id}`, 'aria-current': one.id === chat?.id ? 'page' : undefined },
            one.title ?? 'Untitled chat',
          ),
        ),
      ),
  );
}

async function loadTemplates() {
  const answer = await api('GET', 'v1/templates?limit=100');
  for (const template of answer.body.data ?? [])
    $('new-chat-template').append(el('option', { value: template.id }, template.name));
}

async function openChat(id, wantedBranch) {
  turn?.close();
  const answer = await api('GET', `v1/chats/${id}`);
  if (answer.status !== 200) {
    $('chat-title').textContent = answer.body.error?.message ?? 'Chat not found';
    return;
  }
  chat = answer.body;
  branchId =
    wantedBranch && chat.branches.some((branch) => branch.id === wantedBranch) ? wantedBranch : chat.default_branch_id;
  $('chat-title').textContent = chat.title ?? 'Untitled chat';
  remember();
  for (const id of ['rename-chat', 'archive-chat', 'composer']) $(id).hidden = false;
  renderBranches();
  renderChats();
  await loadMessages();
  void loadSide();
}

async function loadMessages() {
  const branch = chat.branches.find((one) => one.id === branchId);
  const answer = await api('GET', `v1/chats/${chat.id}/branches/${branchId}/messages?limit=100`);
  const messages = answer.body.data ?? [];
  const running = branch?.turn_in_progress ?? null;
  const answered = new Map(
    messages.flatMap((message) =>
      message.items
        .filter((item) => item.type === 'mcp_approval_response')
        .map((item) => [item.approval_request_id, item.approve ? 'Approved' : 'Rejected']),
    ),
  );
  list.replaceChildren();
  for (const message of messages) {
    // A turn still running is shown by replaying it whole below, not from what is stored so far.
    if (running && message.response_id === running && message.role !== 'user') continue;
    for (const item of message.items) {
      const made = itemNode(item, itemOptionsFor(item, message, answered));
      if (made) list.append(made.node);
    }
  }
  turn = newTurnView();
  busy(false);
  if (running) {
    busy(true);
    turn.follow(running);
  } else {
    // A turn that ended waiting on someone else goes on by itself once they decide: follow it.
    const lastMessage = messages.at(-1);
    if (lastMessage?.response_id && stillWaiting(lastMessage.items)) {
      busy(true);
      turn.follow(lastMessage.response_id);
    }
  }
}

function itemOptionsFor(item, message, answered = new Map()) {
  return {
    answered: answered.get(item.id),
    onFork: message && item.type === 'message' ? () => fork(message.id) : undefined,
    onDecide: decide,
  };
}

/** Whether a turn ended waiting for someone else: a wait no call ran after. */
function stillWaiting(items) {
  return items.some(
    (item, at) =>
      item.type === 'mcp_approval_request' &&
      item.x_waiting_for &&
      !items.slice(at + 1).some((later) => later.type === 'mcp_call' && later.approval_request_id === item.id),
  );
}

/** Whether a turn runs (or is followed): the composer waits, and tests and people can see it. */
function busy(running) {
  $('composer').dataset.turn = running ? 'running' : 'idle';
  if (running) $('send').setAttribute('disabled', '');
  else $('send').removeAttribute('disabled');
}

function newTurnView() {
  return createTurnView({
    list,
    state,
    endpoint,
    itemOptions: (item) => itemOptionsFor(item, undefined),
    onEnded: (response) => {
      busy(false);
      if (stillWaiting(response?.output ?? []))
        setTimeout(() => {
          busy(true);
          turn.follow(response.id);
        }, 0);
      void loadSide();
    },
    // The router forked the chat before an irreversible call and goes on there: so does this page.
    onFork: (fork) => void switchTo(fork.branch_id),
  });
}

/** The chat and branch in the address, so a reload or a shared link opens the same place. */
function remember() {
  history.replaceState(null, '', `/chat#${chat.id}${branchId === chat.default_branch_id ? '' : `:${branchId}`}`);
}

const fromHash = () => location.hash.slice(1).split(':');

/** The branch picker: every branch of the chat, the one shown selected. */
function renderBranches() {
  const select = $('branch');
  select.disabled = false;
  select.replaceChildren(
    ...chat.branches.map((branch) =>
      el(
        'option',
        { value: branch.id, selected: branch.id === branchId },
        `${branch.display_name ?? branch.id}${branch.is_default ? ' (default)' : ''}`,
      ),
    ),
  );
}

async function switchTo(id) {
  branchId = id;
  const answer = await api('GET', `v1/chats/${chat.id}`);
  if (answer.status !== 200) return;
  chat = answer.body;
  remember();
  renderBranches();
}

// People who may run tools get the chat's workspace offered to the model; others chat without tools.
const mayInvoke = api('GET', 'v1/auth/whoami').then((answer) =>
  (answer.body.permissions ?? []).includes('exec.invoke'),
);

async function send(input) {
  busy(true);
  turn = newTurnView();
  const tools = (await mayInvoke) ? [{ type: 'mcp', server_label: chat.workspace_id }] : undefined;
  await turn.start({
    model: endpoint,
    input,
    conversation: chat.id,
    metadata: { x_branch_id: branchId },
    ...(tools ? { tools } : {}),
  });
}

async function decide(item, approve, reason) {
  await send([{ type: 'mcp_approval_response', approval_request_id: item.id, approve, ...(reason ? { reason } : {}) }]);
}

async function fork(messageId) {
  const answer = await api('POST', `v1/chats/${chat.id}/branches`, { from_message_id: messageId });
  if (answer.status !== 201) return (state.textContent = answer.body.error?.message ?? 'Could not fork');
  await openChat(chat.id, answer.body.id);
}

async function loadSide() {
  const [artifacts, mockups, memories, learnings] = await Promise.all([
    api('GET', `v1/chats/${chat.id}/artifacts`),
    api('GET', `v1/chats/${chat.id}/mockups`),
    api('GET', `v1/knowledge/memories?workspace_id=${chat.workspace_id}`),
    api('GET', `v1/knowledge/learnings?workspace_id=${chat.workspace_id}`),
  ]);
  $('artifacts').replaceChildren(
    ...(artifacts.body.data ?? []).map((artifact) =>
      el(
        'li',
        {},
        el(
          'button',
          {
            type: 'button',
            class: 'link',
            dataset: { artifact: artifact.id },
            onclick: () => showArtifact(artifact.id),
          },
          `${artifact.name} (v${artifact.latest_version})`,
        ),
      ),
    ),
  );
  $('mockups').replaceChildren(
    ...(mockups.body.data ?? []).map((mockup) =>
      el(
        'li',
        {},
        el(
          'button',
          { type: 'button', class: 'link', onclick: () => showMockup(mockup) },
          mockup.title ?? mockup.identifier,
        ),
      ),
    ),
  );
  $('memories').replaceChildren(...(memories.body.data ?? []).map((memory) => el('li', {}, memory.content)));
  $('learnings').replaceChildren(
    ...(learnings.body.data ?? []).map((learning) => el('li', {}, `${learning.content} (${learning.source})`)),
  );
}

async function showArtifact(id) {
  const view = $('artifact-view');
  const response = await fetch(`/api/v1/chats/${chat.id}/artifacts/${id}/raw`);
  view.hidden = false;
  view.textContent = response.ok ? await response.text() : `Could not open ${id} (${response.status})`;
  view.focus();
}

function showMockup(mockup) {
  const frame = $('mockup-frame');
  frame.hidden = false;
  frame.src = mockup.preview_path;
}

list.addEventListener('click', (event) => {
  const link = event.target.closest('[data-artifact]');
  if (link) {
    event.preventDefault();
    void showArtifact(link.dataset.artifact);
  }
});
$('composer').addEventListener('submit', (event) => {
  event.preventDefault();
  const prompt = $('prompt');
  const text = prompt.value.trim();
  if (!text || $('composer').dataset.turn === 'running') return;
  prompt.value = '';
  list.append(itemNode({ type: 'message', role: 'user', content: text }, {}).node);
  void send(text);
});
$('prompt').addEventListener('keydown', (event) => {
  if (event.key === 'Enter' && !event.shiftKey) {
    event.preventDefault();
    $('composer').requestSubmit();
  }
});
$('branch').addEventListener('change', (event) => void openChat(chat.id, event.target.value));
$('chat-search').addEventListener('input', renderChats);
$('rename-chat').addEventListener('click', async () => {
  const title = prompt('New title', chat.title ?? '');
  if (!title) return;
  const answer = await api('PATCH', `v1/chats/${chat.id}`, { title });
  if (answer.status === 200) {
    chat.title = title;
    $('chat-title').textContent = title;
    await loadChats();
  } else state.textContent = answer.body.error?.message ?? 'Could not rename';
});
$('archive-chat').addEventListener('click', async () => {
  const answer = await api('PATCH', `v1/chats/${chat.id}`, { archived: true });
  if (answer.status === 200) location.assign('/chat');
});
jsonForm(
  $('new-chat'),
  (values) => ({
    method: 'POST',
    path: 'v1/chats',
    body: {
      ...(values.title ? { title: values.title } : {}),
      ...(values.template_id ? { template_id: values.template_id } : {}),
    },
  }),
  async (created, form) => {
    form.reset();
    location.hash = created.id;
    await loadChats();
  },
);
window.addEventListener('hashchange', () => void openChat(...fromHash()));
void loadChats();
void loadTemplates();
if (location.hash.length > 1) void openChat(...fromHash());
export { showError };
