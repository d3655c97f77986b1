// Who and what gets in: join keys (shown once, with the command that installs the agent), API
// keys (shown once; revoke, rotate) and the project's people with their roles.
import { api, el, jsonForm } from './common.js';
import { $, action, list, row, shownOnce, table } from './admin-kit.js';

/** A join key's name that is also a valid registration name is suggested as the agent's. */
const REGISTRATION_NAME = /^[A-Za-z0-9]+(-[A-Za-z0-9]+)*$/;

/** A XEM host is set up by xeroctl bootstrap (config, key file, directories, systemd unit). */
function installCommand(router, minted) {
  if (minted.role === 'xim')
    return `XEROTIER_AGENT_ROUTER_URL=${router} XEROTIER_AGENT_JOIN_KEY=${minted.key} xerotier-xim-agent`;
  const named = REGISTRATION_NAME.test(minted.name) ? ` --name ${minted.name}` : '';
  // The key travels on stdin (printf is a shell builtin), never in a process's arguments.
  return `printf %s '${minted.key}' | sudo xeroctl bootstrap --router-url ${router} --join-key-stdin${named} --start`;
}

const loadJoinKeys = () =>
  table('v1/management/join-keys?limit=100', 'join-keys', (key) =>
    row(
      key.id,
      key.name,
      key.role,
      new Date(key.expires_at).toLocaleString(),
      key.status === 'active'
        ? action('Revoke', 'DELETE', `v1/management/join-keys/${key.id}`, loadJoinKeys)
        : key.status,
    ),
  );

const rotate = (key) =>
  el(
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
  );

const loadKeys = () =>
  table('v1/management/api-keys?limit=100', 'api-keys', (key) =>
    row(
      key.id,
      key.name,
      (key.scopes ?? []).join(', '),
      key.last_used_at ? new Date(key.last_used_at).toLocaleString() : 'never',
      key.revoked_at
        ? 'revoked'
        : el('span', {}, action('Revoke', 'DELETE', `v1/management/api-keys/${key.id}`, loadKeys), ' ', rotate(key)),
    ),
  );

/** Roles are edited in place: the cell is a field, saved with its button (PUT members/:id/roles). */
function rolesEditor(user) {
  const field = el('input', {
    value: (user.roles ?? []).join(', '),
    'aria-label': `Roles of ${user.email ?? user.id}`,
  });
  const save = el(
    'button',
    {
      type: 'button',
      onclick: async () => {
        const answer = await api('PUT', `v1/management/members/${user.id}/roles`, { roles: list(field.value) });
        $('admin-status').textContent =
          answer.status < 300
            ? `Roles of ${user.email}: ${answer.body.roles.join(', ')}`
            : `${answer.body.error?.message} (${answer.body.error?.code})`;
        if (answer.status < 300) void loadUsers();
      },
    },
    'Save roles',
  );
  return el('span', { class: 'inline-edit' }, field, save);
}

const loadUsers = () =>
  table('v1/management/users?limit=100', 'users', (user) =>
    row(
      user.id,
      user.email,
      user.display_name ?? '',
      rolesEditor(user),
      action(
        user.status === 'disabled' ? 'Enable' : 'Disable',
        'PATCH',
        `v1/management/members/${user.id}`,
        loadUsers,
        { status: user.status === 'disabled' ? 'active' : 'disabled' },
      ),
    ),
  );

export function accessSections() {
  jsonForm(
    $('mint-join-key'),
    (values) => ({ method: 'POST', path: 'v1/management/join-keys', body: { name: values.name, role: values.role } }),
    (minted, form) => {
      shownOnce($('join-key-shown'), `Join key ${minted.name}`, minted.key, [
        el('p', {}, 'Install the agent with (docs/xeroctl.md, docs/xem-agent.md):'),
        el('code', { class: 'command' }, installCommand(document.body.dataset.router, minted)),
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
  void loadUsers();
}
