import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CONFIG_DOC, renderConfigDoc } from '../../scripts/config-reference.js';
import { XEROCTL_DOC, renderXeroctlDoc } from '../../scripts/xeroctl-reference.js';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';
import { errorCatalog } from '../../services/router/http/errors.js';

describe('docs stay true to the code', () => {
  it('docs/configuration.md holds the current reference tables (npm run docs:config)', () => {
    const document = readFileSync(CONFIG_DOC, 'utf8');
    expect(renderConfigDoc(document)).toBe(document);
  });

  it('docs/xeroctl.md holds the reference of the current commands (npm run docs:xeroctl)', () => {
    const document = readFileSync(XEROCTL_DOC, 'utf8');
    expect(renderXeroctlDoc(document)).toBe(document);
  });

  it('docs/errors.md documents every router error code, with its status, and no stale ones', () => {
    const document = readFileSync(join(REPO_ROOT, 'docs/errors.md'), 'utf8');
    const documented = [...document.matchAll(/^\| `([a-z_]+)` \| (\d{3}) \|/gm)].map((match) => [
      match[1],
      Number(match[2]),
    ]);
    expect(Object.fromEntries(documented)).toEqual(
      Object.fromEntries(Object.entries(errorCatalog).map(([code, entry]) => [code, entry.status])),
    );
  });

  it('the README links only to docs that exist', () => {
    const readme = readFileSync(join(REPO_ROOT, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\((docs\/[^)#]+)/g)].map((match) => match[1]!);
    expect(links.length).toBeGreaterThan(0);
    for (const link of links) expect(() => readFileSync(join(REPO_ROOT, link)), link).not.toThrow();
  });
});
