/// <reference lib="dom" />
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { labBundle } from '../helpers/bundles.js';
import { CHROMIUM, SCREENSHOTS, startUiStack, type UiStack } from '../helpers/ui-stack.js';

const MODEL = 'scripted/web-ui';
const labkit = labBundle('uptime', 'big_report', 'restart_service', 'wipe_volume');

/**
 * The web UI in Chromium against a real router, XEM and XIM agents and the scripted engine:
 * what an operator does in it, end to end. Screenshots go to .xerotier/ui-screenshots.
 */
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium) console.warn(`web UI tests skipped: no Chromium at ${CHROMIUM} (apt-get install -y chromium)`);

describe.skipIf(!haveChromium)('the web UI in a real browser', () => {
  let ui: UiStack;
  let ada: BrowserContext;
  let page: Page;
  const shot = (name: string, on: Page = page) =>
    on.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const send = async (text: string) => {
    await page.fill('#prompt', text);
    await page.keyboard.press('Enter');
  };
  /** Sends a message and returns the first card of this kind it adds (earlier ones stay on the page). */
  const sendFor = async (text: string, selector: string) => {
    const before = await page.locator(selector).count();
    await send(text);
    await page.waitForFunction(([css, count]) => document.querySelectorAll(css as string).length > (count as number), [
      selector,
      before,
    ] as const);
    return page.locator(selector).nth(before);
  };
  const turnDone = () => page.locator('#composer[data-turn="idle"]').waitFor();

  beforeAll(async () => {
    ui = await startUiStack({ model: MODEL, bundle: labkit });
    ada = await ui.context();
  }, 180_000);
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail' && page)
      // What the page showed when it failed: the end of the conversation, its state, its errors.
      console.error(
        (
          await page
            .locator('#messages')
            .innerText()
            .catch(() => '')
        ).slice(-600),
        page.url(),
        await page
          .locator('#stream-state')
          .textContent()
          .catch(() => ''),
        ui.problems,
      );
  });
  afterAll(async () => ui?.close());

  it('signs in with a password; the browser holds only an httpOnly, SameSite=Lax session cookie', async () => {
    const probe = await ada.newPage();
    await probe.goto('/sign-in');
    await probe.fill('#email', ui.ada.email);
    await probe.fill('#password', 'wrong password');
    await probe.click('button[type="submit"]');
    await probe.waitForSelector('#sign-in-error');
    // What was typed stays, but never the password.
    expect(await probe.inputValue('#email')).toBe(ui.ada.email);
    expect(await probe.inputValue('#password')).toBe('');
    await probe.close();
    page = await ui.signIn(ada, ui.ada);
    const cookies = await ada.cookies();
    expect(cookies).toHaveLength(1);
    expect(cookies[0]).toMatchObject({ name: 'xerotier_session', httpOnly: true, sameSite: 'Lax' });
    expect(await page.evaluate(() => document.cookie)).toBe('');
    expect(await page.content()).not.toMatch(/xero_|xs_[A-Za-z0-9]/);
    await shot('chat-empty');
  });

  it('starts a chat and streams the answer, with a read tool card and its output', async () => {
    await page.fill('#new-chat-title', 'Morning checks');
    await page.click('#new-chat button[type="submit"]');
    await page.waitForFunction(() => document.querySelector('#chat-title')?.textContent === 'Morning checks');
    const card = await sendFor('uptime please', '.card.call');
    await card.locator('.call-state', { hasText: 'done' }).waitFor();
    expect(await card.locator('.output').textContent()).toContain('up 3 days');
    expect(await card.locator('.badge').textContent()).toBe('read');
    await page.locator('.message.assistant .text', { hasText: 'up 3 days' }).last().waitFor();
    await turnDone();
    await shot('chat-tool-card');
  });

  it('a destructive call waits inline; approved there, it runs and its result is shown', async () => {
    const approval = await sendFor('restart_service now', '.card.approval');
    expect(await approval.locator('.badge').textContent()).toBe('destructive');
    await turnDone();
    await shot('chat-approval');
    await approval.locator('button.approve').click();
    const card = page.locator('.card.call', { hasText: 'restart_service' }).last();
    await card.locator('.output', { hasText: 'restarted' }).waitFor({ state: 'attached' });
    expect(await card.locator('.badge').textContent()).toBe('destructive');
    await turnDone();
  });

  it('rejects a call with a reason, and the model is told', async () => {
    const approval = await sendFor('restart_service again', '.card.approval');
    await turnDone();
    await approval.locator('input[name="reason"]').fill('not during business hours');
    await approval.locator('button.reject').click();
    await approval.locator('.answered', { hasText: 'not during business hours' }).waitFor();
    // The model is told why, in the call it did not get to run.
    await page
      .locator('.card.call.failed .output', { hasText: 'rejected by the user: not during business hours' })
      .waitFor({ state: 'attached' });
    await turnDone();
  });

  it('an irreversible call approved by a second person in /ops: the first watches the chat go on by itself', async () => {
    const approval = await sendFor('wipe_volume now', '.card.approval');
    await turnDone();
    expect(await approval.locator('.who').textContent()).toContain('two approvers');
    await approval.locator('button.approve').click();
    const waiting = page.locator('.note.waiting').last();
    await waiting.waitFor();
    const approvalId = await waiting.getAttribute('data-approval-id');
    const grace = await ui.context();
    const ops = await ui.signIn(grace, ui.grace);
    await ops.goto('/ops');
    await ops.locator('#live-state[data-state="live"]').waitFor();
    const row = ops.locator(`tr[data-approval="${approvalId}"]`);
    await row.waitFor();
    await shot('ops-approvals', ops);
    await row.locator('button.approve').click();
    // Ada's page, untouched, shows the call run and the answer that follows it.
    const card = page.locator('.card.call', { hasText: 'wipe_volume' }).last();
    await card.locator('.call-state', { hasText: 'done' }).waitFor({ timeout: 30_000 });
    expect(await card.locator('.output').textContent()).toContain('wiped');
    await grace.close();
  });

  it('forks a branch at a message and switches back', async () => {
    await page.reload();
    await page.locator('.message.user').first().waitFor();
    const before = await page.locator('.message').count();
    await page.locator('.message.user .fork').first().click();
    await page.waitForFunction(() => document.querySelectorAll('#branch option').length >= 2);
    // The fork holds the conversation up to that message only.
    await page.waitForFunction((count) => document.querySelectorAll('.message').length < count, before);
    const main = await page.locator('#branch option', { hasText: 'main' }).getAttribute('value');
    await page.selectOption('#branch', main!);
    await page.waitForFunction((count) => document.querySelectorAll('.message').length === count, before);
  });

  it('a large result becomes an artifact the panel opens', async () => {
    const card = await sendFor('big_report please', '.card.call');
    await card.locator('.call-state', { hasText: 'done' }).waitFor();
    // The card links the artifact its output was stored as.
    await card.locator('.artifact-links a').waitFor();
    await turnDone();
    const link = page.locator('#artifacts button').first();
    await link.waitFor();
    await link.click();
    await page.locator('#artifact-view', { hasText: 'line 1 of the big report' }).waitFor();
    expect(await page.locator('#artifact-view').textContent()).toContain('line 2000 of the big report');
  });

  it('a mockup the model builds is previewed in a sandboxed frame', async () => {
    await send(
      'x_add_mockup_file {"identifier":"status-page","path":"index.html","content":"<h1>All systems go</h1>"}',
    );
    await turnDone();
    const link = page.locator('#mockups button').first();
    await link.waitFor();
    await link.click();
    const frame = page.locator('#mockup-frame');
    expect(await frame.getAttribute('sandbox')).toBe('allow-scripts');
    await page.frameLocator('#mockup-frame').locator('h1', { hasText: 'All systems go' }).waitFor();
    await shot('chat-mockup');
  });

  it('a reload mid-answer resumes the stream where it was, with nothing lost or repeated', async () => {
    await send('count to 400');
    const answer = page.locator('.message.assistant .text').last();
    await page.waitForFunction(() => {
      const texts = document.querySelectorAll('.message.assistant .text');
      return (texts[texts.length - 1]?.textContent ?? '').startsWith('1 2 3 4 5 6 7 8 9 10 ');
    });
    await page.reload();
    await page.locator('.message.assistant .text', { hasText: ' 400' }).last().waitFor({ timeout: 30_000 });
    // The page redraws the conversation from the store when the resumed turn ends: judge after that.
    await turnDone();
    const expected = Array.from({ length: 400 }, (_, index) => String(index + 1)).join(' ');
    await expect.poll(async () => (await answer.textContent())?.trim()).toBe(expected);
    expect(await page.locator('.message.assistant .text', { hasText: ' 400' }).count()).toBe(1);
  });

  it('/ops updates live when a call is made through the API, and the record opens with its history', async () => {
    const ops = await ada.newPage();
    await ops.goto('/ops');
    await ops.locator('#live-state[data-state="live"]').waitFor();
    const made = await ui.stack.api.call('POST', '/exec/invocations', ui.stack.operator.key, {
      tool: 'uptime',
      args: {},
    });
    expect(made.status).toBe(201);
    const row = ops.locator(`tr[data-invocation="${String(made.body['id'])}"]`);
    await row.waitFor();
    await ops.locator(`tr[data-invocation="${String(made.body['id'])}"][data-state="succeeded"]`).waitFor();
    await row.locator('button').click();
    await ops.locator('#invocation-detail', { hasText: 'up 3 days' }).waitFor();
    await ops.click('#verify-chain');
    await ops.locator('#verify-result[data-ok="true"]').waitFor();
    await shot('ops', ops);
    await ops.close();
  });

  it('admin mints a join key shown once, and a form error is shown next to its field with the input kept', async () => {
    const admin = await ada.newPage();
    await admin.goto('/admin');
    await admin.fill('#jk-name', 'rack-7');
    await admin.click('#mint-join-key button[type="submit"]');
    const shown = admin.locator('#join-key-shown .secret-value');
    await shown.waitFor();
    const key = (await shown.textContent())!;
    expect(key.length).toBeGreaterThan(20);
    expect(await admin.locator('#join-key-shown .command').textContent()).toContain(key);
    await shot('admin', admin);
    await admin.reload();
    await admin.locator('#join-keys td', { hasText: 'rack-7' }).waitFor();
    expect(await admin.content()).not.toContain(key);
    await admin.fill('#user-email', 'not-an-email');
    await admin.fill('#user-name', 'Someone');
    await admin.click('#add-user button[type="submit"]');
    const error = admin.locator('#user-email + .field-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/email.*\(invalid_\w+\)/);
    expect(await admin.inputValue('#user-email')).toBe('not-an-email');
    expect(await admin.getAttribute('#user-email', 'aria-invalid')).toBe('true');
    await admin.close();
  });

  it("admin edits a workspace's approval policy: the router's refusal sits by its field, the saved policy is the router's", async () => {
    const admin = await ada.newPage();
    await admin.goto('/admin');
    const workspace = ui.stack.router.project.workspace.id;
    const path = `/management/approval-policies/${workspace}`;
    const before = (await ui.stack.api.call('GET', path, ui.stack.router.project.adminKey)).body;
    await admin.locator(`#policy-ws option[value="${workspace}"]`).waitFor({ state: 'attached' });
    await admin.locator('#policy-state', { hasText: /default policy|Changed/ }).waitFor();
    await admin.fill('#policy-timeout-destructive', '99999999');
    await admin.click('#approval-policy button[type="submit"]');
    const error = admin.locator('#policy-timeout-destructive + .field-error');
    await error.waitFor();
    expect(await error.textContent()).toMatch(/\(invalid_body\)/);
    expect(await admin.inputValue('#policy-timeout-destructive')).toBe('99999999');
    await admin.fill('#policy-timeout-destructive', '7200');
    await admin.selectOption('#policy-min-destructive', '2');
    await admin.check('input[name="approval_required_write"]');
    await admin.click('#approval-policy button[type="submit"]');
    await admin.locator('#policy-state', { hasText: 'Saved: 2 for destructive' }).waitFor();
    const stored = await ui.stack.api.call('GET', path, ui.stack.router.project.adminKey);
    expect(stored.body).toMatchObject({
      timeout_seconds_destructive: 7200,
      min_approvers_destructive: 2,
      approval_required_write: true,
      is_default: false,
    });
    await admin.reload();
    await admin.locator('#policy-state', { hasText: 'Changed' }).waitFor();
    expect(await admin.inputValue('#policy-min-destructive')).toBe('2');
    expect(await admin.isChecked('input[name="approval_required_write"]')).toBe(true);
    // Put the policy back, so the tests after this one run under the default.
    await ui.stack.api.call('PATCH', path, ui.stack.router.project.adminKey, {
      timeout_seconds_destructive: before['timeout_seconds_destructive'],
      min_approvers_destructive: before['min_approvers_destructive'],
      approval_required_write: before['approval_required_write'],
    });
    await admin.close();
  });

  it('admin manages endpoints, templates, webhooks, roles and bindings through the router', async () => {
    const admin = await ada.newPage();
    await admin.goto('/admin');
    const key = ui.stack.router.project.adminKey;
    // An endpoint created, then its models changed.
    await admin.fill('#ep-slug', 'triage');
    await admin.fill('#ep-models', 'scripted/web-ui');
    await admin.click('#create-endpoint button[type="submit"]');
    await admin.locator('#endpoints td', { hasText: 'triage' }).waitFor();
    await admin.locator('#edit-endpoint-slug option', { hasText: 'triage' }).waitFor({ state: 'attached' });
    await admin.selectOption('#edit-endpoint-slug', { label: 'triage' });
    await admin.fill('#edit-ep-models', 'scripted/web-ui, scripted/other');
    await admin.click('#edit-endpoint button[type="submit"]');
    await admin.locator('#endpoints td', { hasText: 'scripted/other' }).waitFor();
    // A template and a second version of it.
    await admin.fill('#tpl-name', 'incident-triage');
    await admin.fill('#tpl-prompt', 'You triage incidents.');
    await admin.click('#create-template button[type="submit"]');
    await admin.locator('#templates td', { hasText: 'incident-triage' }).waitFor();
    await admin.locator('#edit-template-id option', { hasText: 'incident-triage' }).waitFor({ state: 'attached' });
    await admin.selectOption('#edit-template-id', { label: 'incident-triage' });
    await admin.fill('#edit-tpl-prompt', 'You triage incidents, briefly.');
    await admin.click('#edit-template button[type="submit"]');
    await admin.locator('#templates tr', { hasText: 'incident-triage' }).locator('td', { hasText: /^2$/ }).waitFor();
    // A webhook: the router refuses a loopback target by its field; a public one is added, its secret shown once.
    await admin.fill('#wh-url', 'http://127.0.0.2/hook');
    await admin.fill('#wh-events', 'exec.failed');
    await admin.click('#create-webhook button[type="submit"]');
    await admin.locator('#wh-url + .field-error', { hasText: 'webhook_target_refused' }).waitFor();
    expect(await admin.inputValue('#wh-events')).toBe('exec.failed');
    await admin.fill('#wh-url', 'https://hooks.example.com/xerotier');
    await admin.click('#create-webhook button[type="submit"]');
    const secret = (await admin.locator('#webhook-secret-shown .secret-value').textContent())!;
    expect(secret).toMatch(/^whsec_/);
    await admin.locator('#webhooks td', { hasText: 'hooks.example.com' }).waitFor();
    // Grace's roles changed in place.
    const grace = admin.locator('#users tr', { hasText: ui.grace.email });
    await grace.locator('input').fill('operator, approver, viewer');
    await grace.locator('button', { hasText: 'Save roles' }).click();
    await admin
      .locator('#admin-status', { hasText: `Roles of ${ui.grace.email}: operator, approver, viewer` })
      .waitFor();
    // The XEM agent unbound from the default workspace, then bound again.
    const workspace = ui.stack.router.project.workspace.id;
    const row = admin.locator('#workspaces tr', { hasText: workspace });
    await row.locator('button', { hasText: 'Unbind' }).click();
    await row.locator('td', { hasText: 'none' }).waitFor();
    expect((await ui.stack.api.call('GET', `/management/workspaces/${workspace}/bindings`, key)).body['data']).toEqual(
      [],
    );
    await admin.selectOption('#bind-ws', workspace);
    await admin.click('#bind-agent-form button[type="submit"]');
    await row.locator('button', { hasText: 'Unbind' }).waitFor();
    const bound = (await ui.stack.api.call('GET', `/management/workspaces/${workspace}/bindings`, key)).body[
      'data'
    ] as unknown[];
    expect(bound).toHaveLength(1);
    await shot('admin-catalog', admin);
    await admin.close();
  });

  it('records how long each page takes to load (figures to a file, not asserted)', async () => {
    const timings: Record<string, number> = {};
    const probe = await ada.newPage();
    for (const path of ['/chat', '/ops', '/admin']) {
      await probe.goto(path, { waitUntil: 'load' });
      timings[path] = await probe.evaluate(() => {
        const [navigation] = performance.getEntriesByType('navigation') as PerformanceNavigationTiming[];
        return Math.round(navigation!.loadEventEnd - navigation!.startTime);
      });
    }
    await probe.close();
    writeFileSync(join(SCREENSHOTS, 'page-loads.json'), `${JSON.stringify({ load_ms: timings }, null, 2)}\n`);
    expect(Object.keys(timings)).toHaveLength(3);
  });

  it('is readable at 390 px, and no page broke its Content Security Policy', async () => {
    const phone = await ui.context({ width: 390, height: 844 });
    const small = await ui.signIn(phone, ui.ada);
    await small.locator('#prompt').isHidden();
    const width = await small.evaluate(() => document.documentElement.scrollWidth);
    expect(width).toBeLessThanOrEqual(390);
    await shot('chat-390', small);
    await phone.close();
    expect(ui.problems).toEqual([]);
  });

  it('plays the attacker: a mutation without the CSRF token or from another site is refused, and nothing outside the project is reached', async () => {
    const cookie = `xerotier_session=${(await ada.cookies())[0]!.value}`;
    const csrf = await page.locator('meta[name="csrf-token"]').getAttribute('content');
    const post = (headers: Record<string, string>) =>
      fetch(`${ui.url}/api/v1/chats`, {
        method: 'POST',
        headers: { cookie, 'content-type': 'application/json', ...headers },
        body: JSON.stringify({ title: 'planted' }),
      });
    expect((await post({})).status).toBe(403);
    expect((await post({ 'x-csrf-token': 'guessed' })).status).toBe(403);
    expect((await post({ 'x-csrf-token': csrf!, origin: 'https://evil.example' })).status).toBe(403);
    expect((await post({ 'x-csrf-token': csrf!, 'sec-fetch-site': 'cross-site' })).status).toBe(403);
    expect((await post({ 'x-csrf-token': csrf! })).status).toBe(201);
    // The project is the session's: paths that climb out of it, or into enrollment, are not proxied.
    for (const path of ['..%2F..%2Fv1%2Fauth%2Fsessions', 'v1/../../proj_0000/v1/chats', 'enroll', '%2e%2e/v1/chats'])
      expect([path, (await fetch(`${ui.url}/api/${path}`, { headers: { cookie } })).status]).toEqual([path, 404]);
    // No cookie, no call; the browser never holds the router key, so there is nothing else to steal.
    expect((await fetch(`${ui.url}/api/v1/chats`)).status).toBe(401);
  });

  it('signs out: the router session is revoked and the cookie no longer opens a page', async () => {
    const cookie = (await ada.cookies())[0]!.value;
    await page.click('.top form button');
    await page.waitForURL('**/sign-in');
    const after = await fetch(`${ui.url}/chat`, {
      headers: { cookie: `xerotier_session=${cookie}` },
      redirect: 'manual',
    });
    expect(after.status).toBe(302);
    const api = await fetch(`${ui.url}/api/v1/chats`, { headers: { cookie: `xerotier_session=${cookie}` } });
    expect(api.status).toBe(401);
  });
});
