import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';

// The lint config is the enforcement of ARCHITECTURE §2's dependency rule; these fixtures prove
// it rejects what it must and accepts what it may.
describe('lint: dependency rule between services', () => {
  let results: Map<string, string[]>;
  let cycles: Map<string, number>;

  beforeAll(async () => {
    const eslint = new ESLint({ cwd: REPO_ROOT, ignore: false });
    const linted = await eslint.lintFiles(['test/fixtures/lint/**/*.ts']);
    const name = (path: string) => path.slice(REPO_ROOT.length + '/test/fixtures/lint/'.length);
    cycles = new Map(
      linted.map((result) => [
        name(result.filePath),
        result.messages.filter((m) => m.ruleId === 'import-x/no-cycle').length,
      ]),
    );
    results = new Map(
      linted.map((result) => [
        result.filePath.slice(REPO_ROOT.length + '/test/fixtures/lint/'.length),
        result.messages
          .filter((message) => message.ruleId === 'no-restricted-imports')
          .map((message) => message.message),
      ]),
    );
  }, 60_000);

  it('rejects protocol importing runtime', () => {
    expect(results.get('services/protocol/imports-runtime.ts')).toEqual([
      expect.stringContaining('protocol is the wire contract'),
    ]);
  });

  it('rejects the router importing an agent', () => {
    expect(results.get('services/router/imports-xem-agent.ts')).toEqual([
      expect.stringContaining('never another service'),
    ]);
  });

  it('rejects the agent runtime importing the router', () => {
    expect(results.get('services/agent/imports-router.ts')).toEqual([
      expect.stringContaining('agent may import only protocol and runtime'),
    ]);
  });

  it('lets the frontend import router types but not router values', () => {
    expect(results.get('services/frontend/imports-router.ts')).toEqual([expect.stringContaining('over HTTP')]);
  });

  it('lets stacks import config schemas but not I/O code', () => {
    expect(results.get('stacks/imports.ts')).toEqual([expect.stringContaining('nothing that does I/O')]);
  });

  it('rejects dependency cycles', () => {
    expect(cycles.get('services/protocol/cycle-a.ts')).toBe(1);
    expect(cycles.get('services/protocol/cycle-b.ts')).toBe(1);
    expect(cycles.get('services/router/imports-protocol.ts')).toBe(0);
  });

  it('accepts services importing protocol and runtime', () => {
    expect(results.get('services/router/imports-protocol.ts')).toEqual([]);
  });
});
