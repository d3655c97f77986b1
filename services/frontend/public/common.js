// Shared by every page: calls to the router through this UI's /api proxy, forms that keep what
// was typed and show the router's errors by field, and small DOM helpers (text only, never HTML).

const csrf = document.querySelector('meta[name="csrf-token"]')?.getAttribute('content') ?? '';

/** One call; resolves to { status, body } whatever the status, so callers show the router's error. */
export async function api(method, path, body, headers = {}) {
  const response = await fetch(`/api/${path}`, {
    method,
    headers: {
      accept: 'application/json',
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      ...(method === 'GET' ? {} : { 'x-csrf-token': csrf }),
      ...headers,
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  }).catch(() => undefined);
  if (!response) return { status: 0, body: { error: { code: 'offline', message: 'The UI could not be reached' } } };
  if (response.status === 401) location.assign('/sign-in');
  const text = await response.text();
  let parsed = {};
  try {
    parsed = text ? JSON.parse(text) : {};
  } catch {
    parsed = { error: { code: 'unreadable', message: text.slice(0, 200) } };
  }
  return { status: response.status, body: parsed };
}

/** A POST that streams Server-Sent Events back; calls onEvent(type, data, id) for each. */
export async function streamPost(path, body, onEvent, signal, headers = {}) {
  const response = await fetch(`/api/${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', accept: 'text/event-stream', 'x-csrf-token': csrf, ...headers },
    body: JSON.stringify(body),
    signal,
  });
  if (!response.ok || !(response.headers.get('content-type') ?? '').startsWith('text/event-stream')) {
    const text = await response.text();
    let error;
    try {
      error = JSON.parse(text).error;
    } catch {
      error = { code: 'failed', message: text.slice(0, 200) };
    }
    return { ok: false, error };
  }
  await readEvents(response.body, onEvent);
  return { ok: true };
}

async function readEvents(stream, onEvent) {
  const reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  let pending = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) return;
    pending += value;
    const blocks = pending.split('\n\n');
    pending = blocks.pop();
    for (const block of blocks) {
      let type = 'message';
      let data = '';
      let id;
      for (const line of block.split('\n')) {
        if (line.startsWith('event: ')) type = line.slice(7);
        else if (line.startsWith('data: ')) data += line.slice(6);
        else if (line.startsWith('id: ')) id = line.slice(4);
      }
      if (data) onEvent(type, JSON.parse(data), id);
    }
  }
}

/** An element with attributes and children (strings become text nodes: nothing is parsed as HTML). */
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === undefined || value === null || value === false) continue;
    if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else if (name === 'dataset') Object.assign(node.dataset, value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  for (const child of children.flat()) if (child !== undefined && child !== null) node.append(child);
  return node;
}

export function ago(iso) {
  if (!iso) return '—';
  const seconds = Math.max(0, Math.round((Date.now() - Date.parse(iso)) / 1000));
  if (seconds < 60) return `${seconds}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m`;
  if (seconds < 86400) return `${Math.floor(seconds / 3600)}h`;
  return `${Math.floor(seconds / 86400)}d`;
}

export function riskBadge(risk) {
  return el('span', { class: `badge risk-${risk ?? 'unknown'}` }, risk ?? 'unknown');
}

/** Fills a table body with rows built from items, or a single "none" row. */
export function fillTable(table, items, row, empty = 'None') {
  const body = table.tBodies[0];
  body.replaceChildren(
    ...(items.length > 0
      ? items.map(row)
      : [el('tr', {}, el('td', { colspan: table.tHead.rows[0].cells.length, class: 'empty' }, empty))]),
  );
}

/**
 * A form posted to the router as JSON. On failure the router's error is shown next to the field it
 * names (or above the form), and nothing typed is lost; on success onDone gets the answer.
 */
export function jsonForm(form, toRequest, onDone) {
  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    clearErrors(form);
    const values = Object.fromEntries(new FormData(form).entries());
    const { method, path, body } = toRequest(values);
    const button = form.querySelector('button[type="submit"]');
    button?.setAttribute('disabled', '');
    const answer = await api(method, path, body);
    button?.removeAttribute('disabled');
    if (answer.status >= 200 && answer.status < 300) return onDone(answer.body, form);
    showError(form, answer.body.error ?? { code: 'failed', message: `Failed (${answer.status})` });
  });
}

export function showError(form, error) {
  const field = error.param ?? error.field;
  const input = field ? form.querySelector(`[name="${CSS.escape(String(field).split('.').pop())}"]`) : null;
  const message = el(
    'p',
    { class: 'error field-error', role: 'alert', id: `${form.id}-error` },
    `${error.message} (${error.code})`,
  );
  if (input) {
    input.setAttribute('aria-invalid', 'true');
    input.setAttribute('aria-describedby', message.id);
    input.insertAdjacentElement('afterend', message);
    input.focus();
  } else form.prepend(message);
}

function clearErrors(form) {
  form.querySelectorAll('.field-error').forEach((node) => node.remove());
  form.querySelectorAll('[aria-invalid]').forEach((node) => node.removeAttribute('aria-invalid'));
}

/**
 * The project's live event stream (one per page), with a visible state; EventSource reconnects
 * by itself, and onOpen reloads what may have changed while it was away.
 */
export function liveEvents(path, state, handlers, onOpen) {
  const source = new EventSource(`/api/${path}`);
  source.addEventListener('open', () => {
    state.textContent = 'Live';
    state.dataset.state = 'live';
    onOpen?.();
  });
  source.addEventListener('error', () => {
    state.textContent = 'Reconnecting…';
    state.dataset.state = 'reconnecting';
  });
  for (const [type, handle] of Object.entries(handlers))
    source.addEventListener(type, (event) => handle(JSON.parse(event.data)));
  return source;
}
