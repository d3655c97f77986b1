import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { loadConfig } from '../../services/runtime/config/load.js';
import { frontendConfigSchema } from '../../services/frontend/config.js';
import { compileFrontendSettings, createFrontend, type Frontend } from '../../services/frontend/frontend.js';
import { silentLogger } from './logger.js';
import { startLoopStack, type LoopStack } from './loop-stack.js';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';

/** Chromium from Debian, as ARCHITECTURE §12 says; nothing is downloaded. */
export const CHROMIUM = process.env['XEROTIER_TEST_CHROMIUM'] ?? '/usr/bin/chromium';
const CHROMIUM_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-background-networking',
  '--disable-component-update',
  '--no-first-run',
];
export const SCREENSHOTS = join(REPO_ROOT, '.xerotier', 'ui-screenshots');

export interface Person {
  readonly email: string;
  readonly password: string;
  readonly name: string;
}

export interface UiStack {
  readonly stack: LoopStack;
  readonly frontend: Frontend;
  readonly url: string;
  readonly browser: Browser;
  readonly ada: Person;
  readonly grace: Person;
  /** A browser context (its own cookies) with every CSP violation and page error it sees counted. */
  context(viewport?: { width: number; height: number }): Promise<BrowserContext>;
  signIn(context: BrowserContext, person: Person): Promise<Page>;
  readonly problems: string[];
  close(): Promise<void>;
}

/**
 * The whole stack a person uses: router, XEM and XIM agents, the scripted engine (streaming at a
 * person's reading pace), the web UI built by its production wiring, and Chromium. Two people:
 * Ada (admin and approver) and Grace (a second approver).
 */
export async function startUiStack(options: {
  bundle: Parameters<typeof startLoopStack>[0]['bundle'];
  model: string;
}): Promise<UiStack> {
  const stack = await startLoopStack({
    model: options.model,
    bundle: options.bundle,
    prefix: 'ui-e2e-',
    engineArgs: ['--tokens-per-second', '80'],
  });
  const admin = stack.router.project.adminKey;
  const ada = { email: 'ada@example.com', password: 'correct horse battery staple', name: 'Ada Lovelace' };
  const grace = { email: 'grace@example.com', password: 'another long passphrase', name: 'Grace Hopper' };
  for (const [person, roles] of [
    [ada, ['admin', 'operator', 'approver']],
    [grace, ['operator', 'approver']],
  ] as const) {
    const added = await stack.api.call('POST', '/management/users', admin, {
      email: person.email,
      display_name: person.name,
      roles,
      password: person.password,
    });
    if (added.status !== 201) throw new Error(`user ${person.email}: ${JSON.stringify(added.body)}`);
  }
  const settings = compileFrontendSettings(
    loadConfig(frontendConfigSchema, {
      env: {
        XEROTIER_FRONTEND_ROUTER_URL: stack.router.url,
        XEROTIER_FRONTEND_PROJECT: stack.router.project.project.id,
        XEROTIER_FRONTEND_HTTP_HOST: '127.0.0.1',
        XEROTIER_FRONTEND_HTTP_PORT: '0',
      },
      readFile: () => null,
    }),
  );
  const frontend = createFrontend(settings, { logger: silentLogger() });
  const url = await frontend.start();
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_FLAGS });
  mkdirSync(SCREENSHOTS, { recursive: true });
  const problems: string[] = [];
  return {
    stack,
    frontend,
    url,
    browser,
    ada,
    grace,
    problems,
    async context(viewport = { width: 1280, height: 900 }) {
      const context = await browser.newContext({ viewport, baseURL: url });
      context.on('page', (page) => watch(page, problems));
      return context;
    },
    async signIn(context, person) {
      const page = await context.newPage();
      watch(page, problems);
      await page.goto('/sign-in');
      await page.fill('#email', person.email);
      await page.fill('#password', person.password);
      await Promise.all([page.waitForURL('**/chat'), page.click('button[type="submit"]')]);
      return page;
    },
    async close() {
      await browser.close().catch(() => undefined);
      await frontend.close();
      await stack.close();
    },
  };
}

const watched = new WeakSet<Page>();
/** CSP violations (Chromium reports them on the console) and uncaught page errors. */
function watch(page: Page, problems: string[]): void {
  if (watched.has(page)) return;
  watched.add(page);
  page.on('console', (message) => {
    if (/Content Security Policy|Refused to (load|execute|apply|frame|connect)/i.test(message.text()))
      problems.push(`CSP: ${message.text()}`);
  });
  page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
}
