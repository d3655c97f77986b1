// Administration: every form posts to the router and shows its answer; secrets the router shows
// once (join keys, API keys) are shown once here too, and never stored by this page.
import { api, el, fillTable, jsonForm } from './common.js';

const $ = (id) => document.getElementById(id);
/** A join key's name that is also a valid registration name is suggested as the agent's. */
const REGISTRATION_NAME = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;
const list = (values) =>
  String(values ?? '')
    .split(',')
    .map((value) => value.trim())
    .filter(Boolean);

function shownOnce(box, label, secret, extra) {
  box.hidden = false;
  box.replaceChildren(
    el('p', {}, `${label} (shown once; copy it now):`),
    el('code', { class: 'secret-value' }, secret),
    el('button', { type: 'button', onclick: () => navigator.clipboard?.writeText(secret) }, 'Copy'),
    ...(extra ?? []),
  );
}

async function table(path, id, row) {
  const answer = await api('GET', path);
  if (answer.status !== 200) {
    fillTable($(id), [], row, `${answer.body.error?.message ?? 'Not available'}`);
    return;
  }
  fillTable($(id), answer.body.data ?? [], row);
}

const revoke = (path, reload) =>
  el('button', { type: 'button', onclick: async () => (await api('DELETE', path), reload()) }, 'Revoke');

const loadJoinKeys = () =>
  table('v1/management/join-keys?limit=100', 'join-keys', (key) =>
    el(
      'tr',
      {},
      el('td', {}, key.id),
      el('td', {}, key.name),
      el('td', {}, key.role),
      el('td', {}, new Date(key.expires_at).toLocaleString()),
      el('td', {}, key.revoked_at ? 'revoked' : revoke(`v1/management/join-keys/${key.id}`, loadJoinKeys)),
    ),
  );
const loadKeys = () =>
  table('v1/management/api-keys?limit=100', 'api-keys', (key) =>
    el(
      'tr',
      {},
      el('td', {}, key.id),
      el('td', {}, key.name),
      el('td', {}, (key.scopes ?? []).join(', ')),
      el('td', {}, key.last_used_at ? new Date(key.last_used_at).toLocaleString() : 'never'),
      el(
        'td',
        {},
        key.revoked_at ? 'revoked' : revoke(`v1/management/api-keys/${key.id}`, loadKeys),
        key.revoked_at
          ? ''
          : el(
              'button',
              {
                type: 'button',
                onclick: async () => {
                  const answer = await api('POST', `v1/management/api-keys/${key.id}/rotate`, {});
                  if (answer.status < 300) shownOnce($('api-key-shown'), `New secret of ${key.name}`, answer.body.key);
                  void loadKeys();
                },
              },
              'Rotate',
            ),
      ),
    ),
  );
const loadWorkspaces = () =>
  table('v1/management/workspaces?limit=100', 'workspaces', (ws) =>
    el(
      'tr',
      {},
      el('td', {}, ws.id),
      el('td', {}, ws.name),
      el('td', {}, ws.type ?? '—'),
      el('td', {}, ws.is_default ? 'yes' : ''),
    ),
  );
const loadUsers = () =>
  table('v1/management/users?limit=100', 'users', (user) =>
    el(
      'tr',
      {},
      el('td', {}, user.id),
      el('td', {}, user.email ?? '—'),
      el('td', {}, user.display_name ?? ''),
      el('td', {}, (user.roles ?? []).join(', ')),
    ),
  );

jsonForm(
  $('mint-join-key'),
  (values) => ({ method: 'POST', path: 'v1/management/join-keys', body: { name: values.name, role: values.role } }),
  (minted, form) => {
    const router = document.body.dataset.router;
    // A XEM host is set up by xeroctl bootstrap (config, key file, directories, systemd unit).
    const command =
      minted.role === 'xim'
        ? `XEROTIER_AGENT_ROUTER_URL=${router} XEROTIER_AGENT_JOIN_KEY=${minted.key} xerotier-xim-agent`
        : `sudo xeroctl bootstrap --router-url ${router} --join-key ${minted.key}${REGISTRATION_NAME.test(minted.name) ? ` --name ${minted.name}` : ''} --start`;
    shownOnce($('join-key-shown'), `Join key ${minted.name}`, minted.key, [
      el('p', {}, 'Install the agent with (docs/xeroctl.md, docs/xem-agent.md):'),
      el('code', { class: 'command' }, command),
    ]);
    form.reset();
    void loadJoinKeys();
  },
);
jsonForm(
  $('create-key'),
  (values) => ({
    method: 'POST',
    path: 'v1/management/api-keys',
    body: { name: values.name, scopes: list(values.scopes) },
  }),
  (created, form) => {
    shownOnce($('api-key-shown'), `API key ${created.name}`, created.key);
    form.reset();
    void loadKeys();
  },
);
jsonForm(
  $('create-workspace'),
  (values) => ({ method: 'POST', path: 'v1/management/workspaces', body: { name: values.name } }),
  (_created, form) => {
    form.reset();
    void loadWorkspaces();
  },
);
jsonForm(
  $('add-user'),
  (values) => ({
    method: 'POST',
    path: 'v1/management/users',
    body: {
      email: values.email,
      roles: list(values.roles),
      ...(values.display_name ? { display_name: values.display_name } : {}),
      ...(values.password ? { password: values.password } : {}),
    },
  }),
  (_created, form) => {
    form.reset();
    void loadUsers();
  },
);

void loadJoinKeys();
void loadKeys();
void loadWorkspaces();
void loadUsers();
void table('v1/management/endpoints?limit=100', 'endpoints', (ep) =>
  el('tr', {}, el('td', {}, ep.slug), el('td', {}, (ep.models ?? []).join(', ')), el('td', {}, ep.service_tier)),
);
void table('v1/templates?limit=100', 'templates', (tpl) =>
  el(
    'tr',
    {},
    el('td', {}, tpl.id),
    el('td', {}, tpl.name),
    el('td', {}, tpl.scope),
    el('td', {}, String(tpl.latest_version ?? tpl.version ?? '')),
  ),
);
void table('v1/management/webhooks?limit=100', 'webhooks', (hook) =>
  el(
    'tr',
    {},
    el('td', {}, hook.id),
    el('td', {}, hook.url),
    el('td', {}, (hook.events ?? []).join(', ')),
    el('td', {}, hook.active === false ? 'no' : 'yes'),
    el('td', {}, el('button', { type: 'button', onclick: () => showDeliveries(hook) }, 'Deliveries')),
  ),
);

/** A webhook's delivery log, newest first, as the router keeps it. */
async function showDeliveries(hook) {
  $('deliveries-h').hidden = false;
  $('deliveries-h').textContent = `Deliveries to ${hook.url}`;
  $('webhook-deliveries').hidden = false;
  await table(`v1/management/webhooks/${hook.id}/deliveries`, 'webhook-deliveries', (delivery) =>
    el(
      'tr',
      {},
      el('td', {}, delivery.event_type),
      el('td', {}, delivery.status),
      el('td', {}, String(delivery.attempts)),
      el('td', {}, delivery.last_status_code ? String(delivery.last_status_code) : (delivery.last_error ?? '—')),
      el('td', {}, new Date(delivery.delivered_at ?? delivery.created_at).toLocaleString()),
    ),
  );
}

// Approval policies: the chosen workspace's policy fills the form; saving sends every field.
const POLICY_FLAGS = [
  'allow_self_approval',
  'chat_user_may_approve',
  'approval_required_write',
  'approval_required_read',
];
const POLICY_FIELDS = [
  'min_approvers_destructive',
  'min_approvers_irreversible',
  'timeout_seconds_destructive',
  'timeout_seconds_irreversible',
  'on_timeout_destructive',
  'on_timeout_irreversible',
];

async function loadPolicy() {
  const form = $('approval-policy');
  const workspace = form.elements.namedItem('workspace_id').value;
  if (!workspace) return;
  const answer = await api('GET', `v1/management/approval-policies/${workspace}`);
  if (answer.status !== 200) {
    $('policy-state').textContent = answer.body.error?.message ?? 'Not available';
    return;
  }
  for (const name of POLICY_FIELDS) form.elements.namedItem(name).value = String(answer.body[name]);
  for (const name of POLICY_FLAGS) form.elements.namedItem(name).checked = Boolean(answer.body[name]);
  $('policy-state').textContent = answer.body.is_default ? 'The default policy' : `Changed ${answer.body.updated_at}`;
}

async function loadPolicyWorkspaces() {
  const answer = await api('GET', 'v1/management/workspaces?limit=100');
  const select = $('policy-ws');
  select.replaceChildren(
    ...(answer.body.data ?? []).map((ws) =>
      el('option', { value: ws.id }, ws.is_default ? `${ws.name} (default)` : ws.name),
    ),
  );
  await loadPolicy();
}

$('policy-ws').addEventListener('change', () => void loadPolicy());
jsonForm(
  $('approval-policy'),
  (values) => ({
    method: 'PATCH',
    path: `v1/management/approval-policies/${values.workspace_id}`,
    body: {
      min_approvers_destructive: Number(values.min_approvers_destructive),
      min_approvers_irreversible: Number(values.min_approvers_irreversible),
      timeout_seconds_destructive: Number(values.timeout_seconds_destructive),
      timeout_seconds_irreversible: Number(values.timeout_seconds_irreversible),
      on_timeout_destructive: values.on_timeout_destructive,
      on_timeout_irreversible: values.on_timeout_irreversible,
      ...Object.fromEntries(POLICY_FLAGS.map((name) => [name, values[name] === 'on'])),
    },
  }),
  (saved) => {
    $('policy-state').textContent =
      `Saved: ${saved.min_approvers_destructive} for destructive, ${saved.min_approvers_irreversible} for irreversible`;
  },
);
void loadPolicyWorkspaces();
