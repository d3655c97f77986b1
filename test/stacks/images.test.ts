import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../stacks/offline/stack-file.js';

const dockerfile = (service: string) => readFileSync(join(REPO_ROOT, 'images', service, 'Dockerfile'), 'utf8');
type Pod = { securityContext?: { runAsUser?: number }; containers: { image: string; command?: string[]; args?: string[] }[] };
const pods = parseAllDocuments(readFileSync(join(REPO_ROOT, 'test/stacks/__snapshots__/dev-us-east-1.manifests.yaml'), 'utf8'))
  .map((document) => document.toJS() as { kind: string; spec?: { template?: { spec: Pod } } })
  .flatMap((object) => (object.spec?.template ? [object.spec.template.spec] : []));

/** The images and the stacks must agree: users, entrypoints, health checks. */
describe('images', () => {
  it.each([['router', 5150], ['xem-agent', 5153], ['xim-agent', 5152]] as const)('%s: multi-stage, non-root uid %i, health-checked, the uid the stacks run it as', (service, uid) => {
    const text = dockerfile(service);
    expect(text.match(/^FROM /gm)!.length).toBeGreaterThan(1);
    expect(text).toMatch(new RegExp(`^USER ${uid}:${uid}$`, 'm'));
    expect(text).toMatch(/^HEALTHCHECK /m);
    const running = pods.filter((pod) => pod.containers.some((container) => container.image.endsWith(`/${service}:main`)));
    expect(running.length).toBeGreaterThan(0);
    for (const pod of running) expect(pod.securityContext?.runAsUser).toBe(uid);
  });

  it('provides the commands the stacks start the agents with, and builds XIM on the vLLM image', () => {
    for (const service of ['xem-agent', 'xim-agent']) {
      const commands = pods.flatMap((pod) => pod.containers.filter((container) => container.image.endsWith(`/${service}:main`)).map((container) => (container.command ?? []).join(' ')));
      expect(commands.length).toBeGreaterThan(0);
      for (const command of commands) expect(dockerfile(service)).toContain(`/usr/local/bin/${/exec (\S+) run/.exec(command)![1]}`);
    }
    expect(dockerfile('xim-agent')).toMatch(/^ARG VLLM_IMAGE=vllm\/vllm-openai:/m);
    expect(dockerfile('xim-agent')).toMatch(/^FROM \$\{VLLM_IMAGE\}$/m);
  });
});
