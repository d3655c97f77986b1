// What every section of the admin page shares: tables filled from the router, secrets shown
// once, row buttons that call the router and reload the table.
import { api, el, fillTable } from './common.js';

export const $ = (id) => document.getElementById(id);

export const list = (values) =>
  String(values ?? '')
    .split(',')
    .map((value) => value.trim())
    .filter(Boolean);

/** A row of plain cells (strings or nodes). */
export const row = (...cells) => el('tr', {}, ...cells.map((cell) => el('td', {}, cell ?? '—')));

export function shownOnce(box, label, secret, extra) {
  box.hidden = false;
  box.replaceChildren(
    el('p', {}, `${label} (shown once; copy it now):`),
    el('code', { class: 'secret-value' }, secret),
    el('button', { type: 'button', onclick: () => navigator.clipboard?.writeText(secret) }, 'Copy'),
    ...(extra ?? []),
  );
}

export async function table(path, id, toRow) {
  const answer = await api('GET', path);
  if (answer.status !== 200) {
    fillTable($(id), [], toRow, `${answer.body.error?.message ?? 'Not available'}`);
    return [];
  }
  fillTable($(id), answer.body.data ?? [], toRow);
  return answer.body.data ?? [];
}

/**
 * A row's button: calls the router, then reloads. A refusal is said in the page's status line
 * (the router's message and code), never swallowed.
 */
export const action = (label, method, path, reload, body) =>
  el(
    'button',
    {
      type: 'button',
      onclick: async () => {
        const answer = await api(method, path, body);
        const status = $('admin-status');
        if (status)
          status.textContent =
            answer.status < 300
              ? `${label}: done`
              : `${label}: ${answer.body.error?.message ?? 'failed'} (${answer.body.error?.code ?? answer.status})`;
        await reload();
      },
    },
    label,
  );

/** Fills a <select> with options (value, label); keeps the chosen one when it still exists. */
export function options(select, entries) {
  const chosen = select.value;
  select.replaceChildren(...entries.map(([value, label]) => el('option', { value }, label)));
  if (entries.some(([value]) => value === chosen)) select.value = chosen;
}
