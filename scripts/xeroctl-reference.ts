import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../services/devstack/dev-state.js';
import { replaceMarkedSection } from '../services/runtime/config/reference.js';
import { SILENT_TERMINAL } from '../services/xeroctl/output/terminal.js';
import { buildProgram } from '../services/xeroctl/program.js';
import { renderReference } from '../services/xeroctl/reference.js';
import type { CliDeps } from '../services/xeroctl/runtime.js';

export const XEROCTL_DOC = join(REPO_ROOT, 'docs/xeroctl.md');

/** The command tree needs no I/O to be read: these are never called. */
const INERT: CliDeps = {
  env: {},
  terminal: SILENT_TERMINAL,
  fetch: (() => Promise.reject(new Error('no network in the reference'))) as typeof fetch,
  now: () => new Date(0),
  readFile: () => '',
  version: 'reference',
  interrupted: new AbortController().signal,
};

export function renderXeroctlDoc(document: string): string {
  const { program, kit } = buildProgram(INERT);
  return replaceMarkedSection(document, 'xeroctl-reference', renderReference(program, kit));
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(XEROCTL_DOC, renderXeroctlDoc(readFileSync(XEROCTL_DOC, 'utf8')));
  process.stdout.write(`updated ${XEROCTL_DOC}\n`);
}
