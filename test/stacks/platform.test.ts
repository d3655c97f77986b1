import { beforeAll, describe, expect, it } from 'vitest';
import { APP_ROLE } from '../../stacks/components/router-env.js';
import { listStacks, loadStackConfig } from '../../stacks/offline/stack-file.js';
import { immutableTag, pinnedThirdParty, ROUTER_REPLICA_LIMIT } from '../../stacks/rules/platform.js';
import { Synthesized, type Container } from './synthesized.js';

const OURS = /\/(router|frontend|xem-agent|xim-agent)[:@]/;

/**
 * The rules that would otherwise first bite in a cluster, applied to the synthesized resources
 * of every stack file: one router, the app role, probes and drains, pod identity and
 * hardening, vLLM's user, home and caches, NetworkPolicies, RBAC scope, pinned images, and the
 * order things are created in (from the recorded resource options, not from presence).
 */
describe.each(listStacks())('platform rules for %s', (stack) => {
  let synth: Synthesized;
  const config = loadStackConfig(stack);
  const namespace = config['xerotier:namespace'] ?? 'xerotier';
  beforeAll(async () => {
    synth = await Synthesized.of(stack);
  }, 60_000);
  const containers = () =>
    synth
      .workloads()
      .flatMap((workload) => workload.spec.template.spec.containers.map((container) => ({ workload, container })));

  it('runs one router by default (no HPA unless router.maxReplicas asks), whose disruption budget lets a drain proceed', () => {
    const [router, ...others] = synth.component('router');
    expect(others).toEqual([]);
    expect(router!.spec.replicas).toBe(1);
    expect(ROUTER_REPLICA_LIMIT).toBe(10);
    expect(synth.ofType('kubernetes:autoscaling/v2:HorizontalPodAutoscaler')).toEqual([]);
    const budget = synth
      .ofType('kubernetes:policy/v1:PodDisruptionBudget')
      .find(
        (pdb) =>
          (pdb.inputs['spec'] as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels[
            'app.kubernetes.io/component'
          ] === 'router',
      );
    expect(budget?.inputs['spec']).toMatchObject({ maxUnavailable: 1 });
  });

  it('runs the web UI as stateless replicas (two in prod) with probes, a drain and a disruption budget', () => {
    const [ui, ...others] = synth.component('frontend');
    expect(others).toEqual([]);
    expect(ui!.spec.replicas).toBe(config['xerotier:environment'] === 'prod' ? 2 : 1);
    const container = ui!.spec.template.spec.containers[0]!;
    expect(container.readinessProbe?.httpGet?.path).toBe('/healthz');
    expect(container.livenessProbe?.httpGet?.path).toBe('/healthz');
    expect(container.lifecycle?.preStop).toBeDefined();
    const grace = Number(
      container.env?.find((variable) => variable.name === 'XEROTIER_FRONTEND_SHUTDOWN_GRACE_SECONDS')?.value,
    );
    expect(ui!.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(grace + 5);
    const budgets = synth
      .ofType('kubernetes:policy/v1:PodDisruptionBudget')
      .map(
        (pdb) => pdb.inputs['spec'] as { selector: { matchLabels: Record<string, string> }; maxUnavailable: number },
      );
    expect(
      budgets.find((spec) => spec.selector.matchLabels['app.kubernetes.io/component'] === 'frontend'),
    ).toMatchObject({
      maxUnavailable: 1,
    });
  });

  it('connects the router as the app role and migrates as the schema owner, who grants it', () => {
    const routerSecret = synth.one('kubernetes:core/v1:Secret', 'control-plane-router').revealed[
      'stringData'
    ] as Record<string, string>;
    expect(new URL(routerSecret['database_url']!).username).toBe(APP_ROLE);
    const migrateSecret = synth.one('kubernetes:core/v1:Secret', 'control-plane-migrate').revealed[
      'stringData'
    ] as Record<string, string>;
    expect(new URL(migrateSecret['owner_database_url']!).username).not.toBe(APP_ROLE);
    expect(new URL(migrateSecret['owner_database_url']!).host).toBe(new URL(routerSecret['database_url']!).host);
    expect(new URL(routerSecret['database_url']!).password).toBe(encodeURIComponent(migrateSecret['app_password']!));
    const migrate = synth.component('migrate')[0]!.spec.template.spec.containers[0]!;
    expect(migrate.args).toEqual(['migrate']);
    expect(migrate.env).toContainEqual({ name: 'XEROTIER_DATABASE_APP_ROLE', value: APP_ROLE });
    expect(
      migrate.env?.find((variable) => variable.name === 'XEROTIER_DATABASE_APP_PASSWORD')?.valueFrom?.secretKeyRef?.key,
    ).toBe('app_password');
  });

  it('gives every pod its own service account, a token only where it calls the API, and hardened containers', () => {
    for (const workload of synth.workloads().filter((candidate) => candidate.name !== 'addons-nvidia-device-plugin')) {
      const pod = workload.spec.template.spec;
      const component = workload.spec.template.metadata.labels['app.kubernetes.io/component'];
      expect(pod.serviceAccountName, workload.name).toBeDefined();
      const apiAccess =
        component === 'xem' &&
        (JSON.parse(config['xerotier:xemHosts'] ?? '[]') as { name: string; kubernetesAccess?: string }[]).some(
          (host) => workload.name === `xem-${host.name}` && (host.kubernetesAccess ?? 'none') !== 'none',
        );
      expect(pod.automountServiceAccountToken, workload.name).toBe(apiAccess);
      expect(pod.securityContext?.runAsNonRoot, workload.name).toBe(true);
      for (const container of pod.containers) {
        expect(container.securityContext, `${workload.name}/${container.name}`).toMatchObject({
          allowPrivilegeEscalation: false,
          capabilities: { drop: ['ALL'] },
        });
        if (container.name !== 'vllm')
          expect(container.securityContext?.readOnlyRootFilesystem, `${workload.name}/${container.name}`).toBe(true);
      }
    }
  });

  it('probes every long-running container, and drains the router and vLLM before they stop', () => {
    for (const { workload, container } of containers().filter(({ workload }) =>
      /Deployment|StatefulSet/.test(workload.type),
    )) {
      expect(container.livenessProbe, `${workload.name}/${container.name}`).toBeDefined();
    }
    const router = synth.component('router')[0]!;
    const routerContainer = router.spec.template.spec.containers[0]!;
    expect(routerContainer.readinessProbe?.httpGet?.path).toBe('/readyz');
    expect(routerContainer.lifecycle?.preStop?.sleep?.seconds).toBeGreaterThan(0);
    expect(router.spec.template.spec.terminationGracePeriodSeconds).toBeGreaterThan(
      30 + routerContainer.lifecycle!.preStop!.sleep!.seconds,
    );
  });

  it("runs vLLM as the xim-agent image's user with a writable home and caches, probed over its socket, one model length", () => {
    for (const workload of synth.component('xim')) {
      const pod = workload.spec.template.spec;
      const vllm = pod.containers.find((container) => container.name === 'vllm')!;
      const agent = pod.containers.find((container) => container.name === 'xim-agent')!;
      expect(vllm.image).toBe(agent.image);
      expect(vllm.image).toMatch(/\/xim-agent[:@]/);
      expect(pod.securityContext?.runAsUser).toBe(5152);
      const env = Object.fromEntries(
        (vllm.env ?? [])
          .filter((variable) => typeof variable.value === 'string')
          .map((variable) => [variable.name, variable.value as string]),
      );
      for (const variable of [
        'HOME',
        'XDG_CACHE_HOME',
        'VLLM_CACHE_ROOT',
        'TORCHINDUCTOR_CACHE_DIR',
        'TRITON_CACHE_DIR',
        'HF_HOME',
      ]) {
        expect(env[variable], variable).toBeDefined();
        expect(onMountedVolume(vllm, env[variable]!), `${variable}=${env[variable]} is on a volume`).toBe(true);
      }
      for (const probe of [vllm.startupProbe, vllm.readinessProbe, vllm.livenessProbe])
        expect(probe?.exec?.command.slice(0, 2)).toEqual(['python3', '-c']);
      const startup = vllm.startupProbe!.periodSeconds! * vllm.startupProbe!.failureThreshold!;
      expect(startup).toBeGreaterThanOrEqual(600);
      // The provider waits for ready replicas: longer than a replica may take to start.
      const timeout = synth.options(workload.type, workload.name).customTimeouts?.create;
      expect(
        Number(/^(\d+)m$/.exec(timeout ?? '')?.[1]) * 60,
        `${workload.name} create timeout ${timeout}`,
      ).toBeGreaterThan(startup);
      expect(vllm.args).toContain('--max-model-len');
      expect(vllm.lifecycle?.preStop?.sleep?.seconds).toBeGreaterThan(30);
      expect(pod.terminationGracePeriodSeconds).toBeGreaterThan(vllm.lifecycle!.preStop!.sleep!.seconds + 30);
      expect(pod.topologySpreadConstraints?.map((constraint) => constraint.topologyKey)).toEqual([
        'kubernetes.io/hostname',
        'topology.kubernetes.io/zone',
      ]);
      expect(pod.tolerations).toContainEqual(expect.objectContaining({ key: 'nvidia.com/gpu' }));
      const budget = synth
        .ofType('kubernetes:policy/v1:PodDisruptionBudget')
        .find(
          (pdb) =>
            JSON.stringify((pdb.inputs['spec'] as { selector: unknown }).selector) ===
            JSON.stringify({ matchLabels: workload.spec.template.metadata.labels }),
        );
      expect(budget?.inputs['spec'], `${workload.name} has a PDB`).toMatchObject({ maxUnavailable: 1 });
    }
  });

  it("fences the namespace: ingress denied by default, Postgres and Redis only from the router, agents' egress limited", () => {
    const policies = synth.ofType('kubernetes:networking.k8s.io/v1:NetworkPolicy').map(
      (policy) =>
        policy.inputs['spec'] as {
          podSelector: { matchLabels?: Record<string, string> };
          policyTypes: string[];
          ingress?: { from?: { podSelector?: { matchLabels: Record<string, string> } }[] }[];
          egress?: { to?: { ipBlock?: { except?: string[] } }[] }[];
        },
    );
    expect(policies).toContainEqual({ podSelector: {}, policyTypes: ['Ingress'] });
    for (const [data, allowed] of [
      ['data-postgres', ['router', 'migrate']],
      ['data-redis', ['router', 'frontend']],
    ] as const) {
      const policy = policies.find(
        (candidate) => candidate.podSelector.matchLabels?.['app.kubernetes.io/instance'] === data,
      )!;
      const sources = policy
        .ingress!.flatMap((rule) => rule.from ?? [])
        .map((peer) => peer.podSelector?.matchLabels['app.kubernetes.io/component']);
      expect(sources.length).toBeGreaterThan(0);
      for (const source of sources) expect(allowed).toContain(source);
    }
    for (const agent of ['xim', 'xem', 'xim-weights']) {
      const egress = policies.find(
        (candidate) =>
          candidate.podSelector.matchLabels?.['app.kubernetes.io/component'] === agent &&
          candidate.policyTypes.includes('Egress'),
      );
      expect(egress, agent).toBeDefined();
    }
  });

  it("scopes XEM RBAC to target namespaces, never the platform's, and grants nothing on Secrets", () => {
    const rules = (type: string) =>
      synth
        .ofType(type)
        .flatMap((role) =>
          ((role.inputs['rules'] ?? []) as { resources: string[]; verbs: string[] }[]).map((rule) => ({ role, rule })),
        );
    for (const { role, rule } of [
      ...rules('kubernetes:rbac.authorization.k8s.io/v1:ClusterRole'),
      ...rules('kubernetes:rbac.authorization.k8s.io/v1:Role'),
    ]) {
      expect(rule.resources, role.name).not.toContain('secrets');
      expect(rule.resources, role.name).not.toContain('configmaps');
      expect([...rule.resources, ...rule.verbs], role.name).not.toContain('*');
    }
    for (const { role, rule } of rules('kubernetes:rbac.authorization.k8s.io/v1:ClusterRole')) {
      const writes = rule.verbs.filter((verb) => !['get', 'list', 'watch'].includes(verb));
      if (writes.length > 0)
        expect({ role: role.name, resources: rule.resources, writes }).toEqual({
          role: role.name,
          resources: ['nodes'],
          writes: ['patch'],
        });
    }
    for (const role of [
      ...synth.ofType('kubernetes:rbac.authorization.k8s.io/v1:Role'),
      ...synth.ofType('kubernetes:rbac.authorization.k8s.io/v1:RoleBinding'),
    ]) {
      expect((role.inputs['metadata'] as { namespace: string }).namespace, role.name).not.toBe(namespace);
    }
  });

  it('deploys no image by a tag that can move', () => {
    for (const { workload, container } of containers()) {
      if (OURS.test(container.image))
        expect(
          immutableTag(
            container.image
              .split(/[:@]/)
              .pop()!
              .replace(/^(?=[0-9a-f]{64}$)/, 'sha256:'),
          ),
          `${workload.name}: ${container.image}`,
        ).toBe(true);
      else expect(pinnedThirdParty(container.image), `${workload.name}: ${container.image}`).toBe(true);
    }
  });

  it('creates things in order: the migration before the router, the router before its agents, caches before the fleet', () => {
    const router = synth.component('router')[0]!;
    const migration = synth.component('migrate')[0]!;
    expect(synth.waitsFor(router, migration)).toBe(true);
    for (const agent of [...synth.component('xim'), ...synth.component('xem')].filter((workload) =>
      workload.type.endsWith('StatefulSet'),
    )) {
      expect(synth.waitsFor(agent, router), agent.name).toBe(true);
    }
    for (const fill of synth.component('xim-weights')) {
      const fleet = synth
        .component('xim')
        .find((workload) => workload.name === fill.name.replace(/-weights-[0-9a-f]{8}$/, ''))!;
      expect(synth.waitsFor(fleet, fill), fleet.name).toBe(true);
    }
  });

  it("checks a bring-your-own cluster's ingress class and issuer before the Ingress waits on them", () => {
    if (config['xerotier:target'] !== 'kubernetes') return;
    for (const ingress of synth.ofType('kubernetes:networking.k8s.io/v1:Ingress'))
      for (const check of ['prerequisites-ingress-class', 'prerequisites-cluster-issuer']) {
        const read = synth.synthesis.resources.find((resource) => resource.read && resource.name === check)!;
        expect(read, check).toBeDefined();
        expect(synth.waitsFor(ingress, read), `${ingress.name} ${check}`).toBe(true);
      }
  });
});

function onMountedVolume(container: Container, path: string): boolean {
  return (container.volumeMounts ?? []).some(
    (mount) => path === mount.mountPath || path.startsWith(`${mount.mountPath}/`),
  );
}
