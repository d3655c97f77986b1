import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { REPO_ROOT } from '../../stacks/offline/stack-file.js';

type Step = { uses?: string; run?: string; with?: Record<string, unknown>; if?: string };
type Job = {
  needs?: string | string[];
  if?: string;
  uses?: string;
  steps?: Step[];
  strategy?: { matrix?: Record<string, unknown> };
  environment?: string;
};
const workflow = (name: string) =>
  parse(readFileSync(join(REPO_ROOT, '.github/workflows', `${name}.yml`), 'utf8')) as {
    on: Record<string, unknown>;
    jobs: Record<string, Job>;
  };
const needs = (job: Job) => ([] as string[]).concat(job.needs ?? []);
const steps = (job: Job) => job.steps ?? [];
const pulumi = (job: Job) => steps(job).find((step) => step.uses?.startsWith('pulumi/actions@'))?.with;

/** Delivery that delivers: immutable tags, deploys gated on the tests, previews that deploy, forks guarded. */
describe('CI workflows', () => {
  it('deploy: builds the images of the commit (its SHA, nothing that moves) only after the tests, and ups only from committed stack files', () => {
    const { jobs } = workflow('deploy');
    expect(jobs['test']!.uses).toBe('./.github/workflows/test.yml');
    expect(needs(jobs['images']!)).toContain('test');
    const build = steps(jobs['images']!).find((step) => step.uses?.startsWith('docker/build-push-action@'))!;
    expect(build.with!['tags']).toMatch(/:\$\{\{ github\.sha \}\}$/);
    for (const stage of ['staging', 'prod']) {
      const job = jobs[stage]!;
      expect(pulumi(job)).toMatchObject({ command: 'up' });
      expect(job.environment).toBe('${{ matrix.stack }}');
      // The tag is the stack file's: nothing edits it in the runner.
      for (const step of steps(job)) expect(step.run ?? '').not.toMatch(/sed .*tag/);
    }
    expect(needs(jobs['prod']!)).toContain('staging');
  });

  it("test: runs on the team's Node and the images' Node LTS, and is callable by the others", () => {
    const test = workflow('test');
    expect(test.on).toHaveProperty('workflow_call');
    expect(test.jobs['test']!.strategy!.matrix!['node']).toEqual([20, 26]);
  });

  it("preview: builds the PR's images, ups pr-<n> into the shared cluster, destroys it on close, and never runs a fork's code with secrets", () => {
    const { jobs } = workflow('preview');
    const fork = 'github.event.pull_request.head.repo.full_name == github.repository';
    for (const name of ['images', 'stacks', 'destroy']) expect(jobs[name]!.if, name).toContain(fork);
    expect(needs(jobs['images']!)).toContain('test');
    expect(needs(jobs['review']!)).toContain('images');
    expect(pulumi(jobs['review']!)).toMatchObject({
      command: 'up',
      upsert: true,
      'stack-name': '${{ vars.PULUMI_ORG }}/${{ env.STACK }}',
    });
    expect(
      steps(jobs['images']!).find((step) => step.uses?.startsWith('docker/build-push-action@'))!.with!['tags'],
    ).toMatch(/:\$\{\{ env\.HEAD_SHA \}\}$/);
    expect(pulumi(jobs['destroy']!)).toMatchObject({ command: 'destroy', remove: true });
    expect(pulumi(jobs['previews']!)).toMatchObject({ command: 'preview' });
    expect(jobs['previews']!.strategy!.matrix!['stack']).toBe('${{ fromJSON(needs.stacks.outputs.deployed) }}');
  });
});
