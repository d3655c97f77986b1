import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectConfigProblems, stackConfigProblems, type ProjectFile } from '../../stacks/offline/pulumi-config.js';
import { listStacks, readStackFile, REPO_ROOT } from '../../stacks/offline/stack-file.js';
import { SECRET_KEYS, SETTINGS_SCHEMA } from '../../stacks/settings/schema.js';

const project = parse(readFileSync(join(REPO_ROOT, 'Pulumi.yaml'), 'utf8')) as ProjectFile;
const stacks = listStacks();

/**
 * What the Pulumi CLI checks before the program runs, which no mock sees: Pulumi.yaml's config
 * schema, and each stack file against it (a declared key with neither default nor value that the
 * stack does not set is "missing"; typed keys must have their type).
 */
describe("the Pulumi CLI's config rules", () => {
  it('finds every stack file in config/stacks (none listed by hand)', () => {
    expect(stacks).toEqual(
      expect.arrayContaining(['dev-us-east-1', 'pr-template', 'prod-eu-west-1', 'prod-us-east-1', 'staging-us-east-1']),
    );
  });

  it('accepts Pulumi.yaml', () => {
    expect(projectConfigProblems(project)).toEqual([]);
  });

  it.each(stacks)('accepts the stack file %s', (stack) => {
    expect(stackConfigProblems(project, stack, readStackFile(stack).config)).toEqual([]);
  });

  it('declares exactly the keys the program reads, and no secret', () => {
    const declared = Object.keys(project.config ?? {}).map((key) => key.replace(/^xerotier:/, ''));
    expect(new Set(declared)).toEqual(new Set(Object.keys(SETTINGS_SCHEMA)));
    for (const secret of SECRET_KEYS) expect(declared).not.toContain(secret);
  });

  // The rule, shown to refuse what the CLI refuses (so a green run above means something).
  it('refuses a stack that leaves out a key declared without a default, naming it', () => {
    const { ['xerotier:hostname']: _hostname, ...config } = readStackFile('dev-us-east-1').config;
    expect(stackConfigProblems(project, 'dev-copy', config)).toEqual([
      "Stack 'dev-copy' is missing configuration value 'xerotier:hostname'",
    ]);
    const descriptionOnly: ProjectFile = { name: 'xerotier', config: { 'xerotier:cache': { description: 'Redis' } } };
    expect(stackConfigProblems(descriptionOnly, 'dev', {})).toEqual([
      "Stack 'dev' is missing configuration value 'xerotier:cache'",
    ]);
  });

  it('refuses a typed value of the wrong type, an unencrypted secret and a secret default', () => {
    const typed: ProjectFile = {
      name: 'xerotier',
      config: { 'xerotier:count': { type: 'integer', default: 1 }, 'xerotier:token': { type: 'string', secret: true } },
    };
    expect(
      stackConfigProblems(typed, 's', { 'xerotier:count': 'three', 'xerotier:token': { secure: 'v1:…' } }),
    ).toEqual(["Stack 's' with configuration key 'xerotier:count' must be of type 'integer'"]);
    expect(stackConfigProblems(typed, 's', { 'xerotier:token': 'plain' })).toEqual([
      "Stack 's' with configuration key 'xerotier:token' must be encrypted as it's secret",
    ]);
    expect(
      projectConfigProblems({
        name: 'xerotier',
        config: { 'xerotier:token': { type: 'string', secret: true, default: 'x' } },
      }),
    ).toHaveLength(1);
    expect(
      projectConfigProblems({
        name: 'xerotier',
        config: { 'xerotier:list': { type: 'array' }, 'xerotier:odd': { type: 'object', default: {} } },
      }),
    ).toHaveLength(2);
  });
});
