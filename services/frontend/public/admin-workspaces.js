// Where tools run: workspaces, the XEM agents bound to each (bind, unbind), and each
// workspace's approval policy.
import { api, el, jsonForm } from './common.js';
import { $, action, options, row, table } from './admin-kit.js';

const boundAgents = async (ws, reload) => {
  const answer = await api('GET', `v1/management/workspaces/${ws.id}/bindings`);
  const bindings = answer.status === 200 ? (answer.body.data ?? []) : [];
  if (bindings.length === 0) return 'none';
  return el(
    'span',
    {},
    ...bindings.flatMap((binding) => [
      el('code', {}, binding.agent_id),
      ' ',
      action('Unbind', 'DELETE', `v1/management/workspaces/${ws.id}/bindings/${binding.agent_id}`, reload),
      ' ',
    ]),
  );
};

async function loadWorkspaces() {
  const agentsCell = new Map();
  const workspaces = await table('v1/management/workspaces?limit=100', 'workspaces', (ws) => {
    const cell = el('span', {}, '…');
    agentsCell.set(ws.id, cell);
    return row(ws.id, ws.name, ws.type ?? '—', ws.is_default ? 'yes' : '', cell);
  });
  await Promise.all(
    workspaces.map(async (ws) => agentsCell.get(ws.id)?.replaceChildren(await boundAgents(ws, loadWorkspaces))),
  );
  const names = workspaces.map((ws) => [ws.id, ws.is_default ? `${ws.name} (default)` : ws.name]);
  options($('bind-ws'), names);
  options($('policy-ws'), names);
  const agents = await api('GET', 'v1/management/agents?limit=100');
  options(
    $('bind-agent'),
    (agents.body.data ?? [])
      .filter((agent) => agent.role === 'xem' && agent.status === 'active')
      .map((agent) => [agent.id, `${agent.registration_name} (${agent.id})`]),
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

export function workspaceSections() {
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
  jsonForm(
    $('create-workspace'),
    (values) => ({ method: 'POST', path: 'v1/management/workspaces', body: { name: values.name } }),
    (_created, form) => {
      form.reset();
      void loadWorkspaces();
    },
  );
  jsonForm(
    $('bind-agent-form'),
    (values) => ({
      method: 'POST',
      path: `v1/management/workspaces/${values.workspace_id}/bindings`,
      body: { agent_id: values.agent_id },
    }),
    (binding) => {
      $('admin-status').textContent = `Bound ${binding.agent_id} to ${binding.workspace_id}`;
      void loadWorkspaces();
    },
  );
  void loadWorkspaces().then(loadPolicy);
}
