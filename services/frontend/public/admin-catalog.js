// What the project offers: inference endpoints (models, tier), chat templates (versions) and
// webhook endpoints with their delivery log.
import { el, jsonForm } from './common.js';
import { $, action, list, options, row, shownOnce, table } from './admin-kit.js';

async function loadEndpoints() {
  const endpoints = await table('v1/management/endpoints?limit=100', 'endpoints', (ep) =>
    row(
      ep.slug,
      (ep.models ?? []).join(', '),
      ep.service_tier,
      action('Delete', 'DELETE', `v1/management/endpoints/${ep.id}`, loadEndpoints),
    ),
  );
  options(
    $('edit-endpoint-slug'),
    endpoints.map((ep) => [ep.id, ep.slug]),
  );
}

async function loadTemplates() {
  const templates = await table('v1/templates?limit=100', 'templates', (tpl) =>
    row(tpl.id, tpl.name, tpl.scope, String(tpl.latest_version ?? tpl.version ?? '')),
  );
  options(
    $('edit-template-id'),
    templates.filter((tpl) => tpl.scope !== 'platform').map((tpl) => [tpl.id, tpl.name]),
  );
}

/** A webhook's delivery log, newest first, as the router keeps it. */
async function showDeliveries(hook) {
  $('deliveries-h').hidden = false;
  $('deliveries-h').textContent = `Deliveries to ${hook.url}`;
  $('webhook-deliveries').hidden = false;
  await table(`v1/management/webhooks/${hook.id}/deliveries`, 'webhook-deliveries', (delivery) =>
    row(
      delivery.event_type,
      delivery.status,
      String(delivery.attempts),
      delivery.last_status_code ? String(delivery.last_status_code) : (delivery.last_error ?? '—'),
      new Date(delivery.delivered_at ?? delivery.created_at).toLocaleString(),
    ),
  );
}

const loadWebhooks = () =>
  table('v1/management/webhooks?limit=100', 'webhooks', (hook) =>
    row(
      hook.id,
      hook.url,
      (hook.events ?? []).join(', '),
      hook.active === false ? 'no' : 'yes',
      el(
        'span',
        {},
        el('button', { type: 'button', onclick: () => showDeliveries(hook) }, 'Deliveries'),
        ' ',
        action('Delete', 'DELETE', `v1/management/webhooks/${hook.id}`, loadWebhooks),
      ),
    ),
  );

export function catalogSections() {
  jsonForm(
    $('create-endpoint'),
    (values) => ({
      method: 'POST',
      path: 'v1/management/endpoints',
      body: { slug: values.slug, models: list(values.models), service_tier: values.service_tier },
    }),
    (_created, form) => {
      form.reset();
      void loadEndpoints();
    },
  );
  jsonForm(
    $('edit-endpoint'),
    (values) => ({
      method: 'PATCH',
      path: `v1/management/endpoints/${values.endpoint_id}`,
      body: { ...(values.models ? { models: list(values.models) } : {}), service_tier: values.service_tier },
    }),
    () => void loadEndpoints(),
  );
  jsonForm(
    $('create-template'),
    (values) => ({
      method: 'POST',
      path: 'v1/templates',
      body: {
        name: values.name,
        system_prompt: values.system_prompt,
        ...(values.description ? { description: values.description } : {}),
      },
    }),
    (_created, form) => {
      form.reset();
      void loadTemplates();
    },
  );
  jsonForm(
    $('edit-template'),
    (values) => ({
      method: 'PATCH',
      path: `v1/templates/${values.template_id}`,
      body: { system_prompt: values.system_prompt },
    }),
    (_saved, form) => {
      form.elements.namedItem('system_prompt').value = '';
      void loadTemplates();
    },
  );
  jsonForm(
    $('create-webhook'),
    (values) => ({
      method: 'POST',
      path: 'v1/management/webhooks',
      body: {
        url: values.url,
        events: list(values.events),
        ...(values.description ? { description: values.description } : {}),
      },
    }),
    (created, form) => {
      shownOnce($('webhook-secret-shown'), `Signing secret of ${created.url}`, created.secret);
      form.reset();
      void loadWebhooks();
    },
  );
  void loadEndpoints();
  void loadTemplates();
  void loadWebhooks();
}
