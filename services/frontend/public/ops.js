// /ops: live invocations, the approvals queue, agents and the audit tail on one screen, kept
// current by the project's one event stream; decisions and pauses are calls to the router.
import { ago, api, el, fillTable, liveEvents, riskBadge } from './common.js';

const $ = (id) => document.getElementById(id);
let refreshing;

function soon() {
  // Events come in bursts (a call's states); one reload per burst.
  clearTimeout(refreshing);
  refreshing = setTimeout(() => void Promise.all([loadInvocations(), loadApprovals()]), 150);
}

async function loadInvocations() {
  const state = $('inv-filter').value;
  const answer = await api('GET', `v1/exec/invocations?limit=50${state ? `&state=${state}` : ''}`);
  fillTable($('invocations'), answer.body.data ?? [], (invocation) =>
    el(
      'tr',
      { dataset: { invocation: invocation.id, state: invocation.state } },
      el(
        'td',
        {},
        el('button', { type: 'button', class: 'link', onclick: () => showInvocation(invocation.id) }, invocation.id),
      ),
      el('td', { class: 'state-cell' }, invocation.state),
      el('td', {}, invocation.tool),
      el('td', {}, riskBadge(invocation.risk)),
      el('td', {}, invocation.workspace_id),
      el('td', {}, invocation.agent_id ?? '—'),
      el('td', {}, ago(invocation.created_at)),
    ),
  );
}

async function showInvocation(id) {
  const [record, output] = await Promise.all([
    api('GET', `v1/exec/invocations/${id}`),
    api('GET', `v1/exec/invocations/${id}/output`),
  ]);
  const detail = $('invocation-detail');
  const invocation = record.body;
  detail.hidden = false;
  detail.replaceChildren(
    el('h3', {}, `${invocation.tool} · ${invocation.state}`),
    el('p', {}, `Arguments: ${JSON.stringify(invocation.args)}`),
    el(
      'ol',
      { class: 'history' },
      ...(invocation.history ?? []).map((step) =>
        el('li', {}, `${step.state} at ${step.at ?? ''}${step.reason ? ` (${step.reason})` : ''}`),
      ),
    ),
    el('pre', { class: 'output' }, output.status === 200 ? output.body.output : 'No output yet'),
  );
  detail.focus();
}

async function loadApprovals() {
  const answer = await api('GET', 'v1/exec/approvals?state=pending&limit=50');
  fillTable(
    $('approvals'),
    answer.body.data ?? [],
    (approval) => {
      const reason = el('input', { type: 'text', 'aria-label': `Reason for ${approval.id}`, placeholder: 'Reason' });
      const result = el('span', { class: 'decision', role: 'status' });
      const decide = (verdict) => async () => {
        const body = reason.value ? { [verdict === 'approve' ? 'note' : 'reason']: reason.value } : {};
        const answer = await api('POST', `v1/exec/approvals/${approval.id}/${verdict}`, body);
        result.textContent =
          answer.status === 200 ? `${answer.body.state}` : `${answer.body.error?.message} (${answer.body.error?.code})`;
        soon();
      };
      return el(
        'tr',
        { id: approval.id, dataset: { approval: approval.id } },
        el('td', {}, approval.invocation_id),
        el(
          'td',
          {},
          riskBadge(approval.risk),
          approval.min_approvers > 1 ? ` · ${approval.decisions.length}/${approval.min_approvers} approvers` : '',
        ),
        el('td', {}, approval.requested_by_principal ?? approval.requested_by ?? '—'),
        el('td', {}, ago(approval.created_at ?? approval.expires_at)),
        el('td', {}, new Date(approval.expires_at).toLocaleString()),
        el(
          'td',
          {},
          reason,
          el('button', { type: 'button', class: 'approve', onclick: decide('approve') }, 'Approve'),
          el('button', { type: 'button', class: 'reject', onclick: decide('reject') }, 'Reject'),
          result,
        ),
      );
    },
    'Nothing waits for a decision',
  );
}

async function loadAgents() {
  const answer = await api('GET', 'v1/management/agents?limit=100');
  fillTable($('agents'), answer.body.data ?? [], (agent) => {
    const toggle = async () => {
      await api('POST', `v1/management/agents/${agent.id}/${agent.exec_paused ? 'resume-exec' : 'pause-exec'}`, {});
      void loadAgents();
    };
    return el(
      'tr',
      { dataset: { agent: agent.id } },
      el('td', {}, agent.registration_name ?? agent.id),
      el('td', {}, agent.role),
      el('td', {}, agent.status),
      el('td', {}, ago(agent.last_heartbeat)),
      el('td', {}, agent.manifest_version ?? '—'),
      el(
        'td',
        {},
        agent.role === 'xem'
          ? el('button', { type: 'button', onclick: toggle }, agent.exec_paused ? 'Resume' : 'Pause')
          : '—',
      ),
    );
  });
}

async function loadAudit() {
  const answer = await api('GET', 'v1/management/audit?limit=20');
  fillTable($('audit'), answer.body.data ?? [], (entry) =>
    el(
      'tr',
      {},
      el('td', {}, String(entry.position)),
      el('td', {}, new Date(entry.at).toLocaleTimeString()),
      el('td', {}, entry.event),
      el('td', {}, entry.actor ?? '—'),
      el('td', {}, entry.subject ?? '—'),
    ),
  );
}

$('verify-chain').addEventListener('click', async () => {
  const result = $('verify-result');
  result.textContent = 'Verifying…';
  const answer = await api('GET', 'v1/management/audit/verify');
  if (answer.status !== 200) result.textContent = `${answer.body.error?.message} (${answer.body.error?.code})`;
  else if (answer.body.ok)
    result.textContent = `Intact: ${answer.body.entries} entries, ${answer.body.signatures.verified} signatures verified`;
  else
    result.textContent = `Broken at entry ${answer.body.first_broken?.position}: ${answer.body.first_broken?.problem}`;
  result.dataset.ok = String(Boolean(answer.body.ok));
});
$('inv-filter').addEventListener('change', () => void loadInvocations());

const reloadAll = () => void Promise.all([loadInvocations(), loadApprovals(), loadAgents(), loadAudit()]);
liveEvents(
  'v1/exec/events',
  $('live-state'),
  { state: () => (soon(), void loadAudit()), approval: soon, progress: () => undefined },
  reloadAll,
);
setInterval(() => void loadAgents(), 10_000);
