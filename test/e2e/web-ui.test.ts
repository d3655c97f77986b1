import { join } from 'node:path';
import type { BrowserContext, Page } from 'playwright-core';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { commandTool } from '../helpers/bundles.js';
import { waitFor } from '../helpers/processes.js';
import { SCREENSHOTS, startUiStack, type UiStack } from '../helpers/ui-stack.js';

const MODEL = 'scripted/web-ui';
const tool = (name: string, risk: string, argv: string[], description: string) =>
  commandTool(name, risk, argv, { description, timeoutMs: 10_000 });

const labkit = () => ({
  name: 'labkit',
  version: '1',
  domain: 'ops',
  tools: [
    tool('uptime', 'read', ['echo', 'up 3 days'], 'How long the host has run'),
    tool(
      'big_report',
      'read',
      ['sh', '-c', 'i=1; while [ $i -le 2000 ]; do echo "line $i of the big report"; i=$((i+1)); done'],
      'A long report',
    ),
    tool('restart_service', 'destructive', ['echo', 'restarted'], 'Restart a service'),
    tool('wipe_volume', 'irreversible', ['echo', 'wiped'], 'Wipe a volume for good'),
  ],
});

/**
 * The web UI in Chromium against a real router, XEM and XIM agents and the scripted engine:
 * what an operator does in it, end to end. Screenshots go to .xerotier/ui-screenshots.
 */
describe('the web UI in a real browser', () => {
  let ui: UiStack;
  let ada: BrowserContext;
  let page: Page;
  const shot = (name: string, on: Page = page) => on.screenshot({ path: join(SCREENSHOTS, `${name}.png`), fullPage: true });
  const send = async (text: string) => {
    await page.fill('#prompt', text);
    await page.keyboard.press('Enter');
  };
  const lastCard = (selector: string) => page.locator(selector).last();
  const turnDone = () => page.waitForFunction(() => document.querySelector('#send')?.hasAttribute('disabled') === false);

  beforeAll(async () => {
    ui = await startUiStack({ model: MODEL, bundle: labkit });
    ada = await ui.context();
  }, 180_000);
  afterEach(async (context) => {
    if (context.task.result?.state === 'fail' && page)
      console.error('DEBUG', await page.locator('#main').innerHTML().catch(() => ''), ui.problems);
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
    await send('uptime please');
    const card = lastCard('.card.call');
    await card.locator('.call-state', { hasText: 'done' }).waitFor();
    expect(await card.locator('.output').textContent()).toContain('up 3 days');
    expect(await card.locator('.badge').textContent()).toBe('read');
    await page.locator('.message.assistant .text', { hasText: 'up 3 days' }).last().waitFor();
    await turnDone();
    await shot('chat-tool-card');
  });
});
