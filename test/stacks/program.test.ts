import { beforeAll, describe, expect, it } from 'vitest';
import { routerConfigSchema } from '../../services/router/config.js';
import { frontendConfigSchema } from '../../services/frontend/config.js';
import { loadConfig } from '../../services/runtime/config/load.js';
import { xemAgentConfigSchema } from '../../services/xem-agent/config.js';
import { ximAgentConfigSchema } from '../../services/xim-agent/config.js';
import { requiredSettings } from '../../stacks/env.js';
import { listStacks, loadStackConfig } from '../../stacks/offline/stack-file.js';
import { Synthesized } from './synthesized.js';

/** Every stack file in config/stacks, found (not listed): a new region is tested by being added. */
describe.each(listStacks())('the program for %s', (stack) => {
  let synth: Synthesized;
  const config = loadStackConfig(stack);
  beforeAll(async () => {
    synth = await Synthesized.of(stack);
  }, 60_000);

  it('creates the namespace, the router with its migration job, a TLS ingress of a class, the internal mesh Service and a PDB', () => {
    const types = new Set(synth.resources.map((resource) => resource.type));
    for (const type of [
      'kubernetes:core/v1:Namespace',
      'kubernetes:apps/v1:Deployment',
      'kubernetes:batch/v1:Job',
      'kubernetes:networking.k8s.io/v1:Ingress',
      'kubernetes:policy/v1:PodDisruptionBudget',
    ]) {
      expect(types).toContain(type);
    }
    const ingress = synth.one('kubernetes:networking.k8s.io/v1:Ingress', 'control-plane-router').inputs as {
      spec: { ingressClassName: string; rules: { host: string }[] };
    };
    expect(ingress.spec.rules[0]!.host).toBe(config['xerotier:hostname']);
    expect(ingress.spec.ingressClassName).toMatch(/^[a-z0-9-]+$/);
    const internal = synth.one('kubernetes:core/v1:Service', 'control-plane-mesh-internal').inputs as {
      spec: { type: string; ports: { port: number }[] };
    };
    // Both mesh ports: a CURVE rotation serves the next key on the other one.
    expect(internal.spec).toMatchObject({ type: 'ClusterIP', ports: [{ port: 5555 }, { port: 5556 }] });
  });

  it('gives each service container every required setting, and secret settings only from Secrets', () => {
    const containers = synth.workloads().flatMap((workload) => workload.spec.template.spec.containers);
    const check = (name: string, schema: Parameters<typeof requiredSettings>[0], setByEntrypoint: string[] = []) => {
      const found = containers.filter((container) => container.name === name);
      for (const container of found) {
        const names = new Set((container.env ?? []).map((variable) => variable.name));
        for (const key of requiredSettings(schema))
          if (!setByEntrypoint.includes(key)) expect(names, `${name} lacks ${key}`).toContain(schema.keys[key]!.env);
        for (const [key, spec] of Object.entries(schema.keys)) {
          const variable = container.env?.find((entry) => entry.name === spec.env);
          if (spec.secret && variable)
            expect(variable, `${name}: ${key} inline`).toMatchObject({
              valueFrom: { secretKeyRef: expect.anything() },
            });
        }
      }
      return found.length;
    };
    expect(check('router', routerConfigSchema)).toBe(1);
    expect(check('frontend', frontendConfigSchema)).toBe(1);
    // Agents refuse plain-HTTP routers (join keys cross that link): they are given the HTTPS URL.
    const routerUrls = containers.flatMap((container) =>
      (container.env ?? []).filter((variable) =>
        ['XEM_ROUTER_URL', 'XEROTIER_AGENT_ROUTER_URL'].includes(variable.name),
      ),
    );
    expect(routerUrls.length).toBeGreaterThan(0);
    for (const variable of routerUrls) expect(variable.value).toBe(`https://${config['xerotier:hostname']}`);
    // Agents read their join key from the mounted Secret at start (one key per replica).
    expect(check('xem-agent', xemAgentConfigSchema, ['join_key'])).toBeGreaterThan(0);
    if (config['xerotier:ximFleet']) expect(check('xim-agent', ximAgentConfigSchema, ['join_key'])).toBeGreaterThan(0);
  });

  it('starts the web UI with what its pod is given: sessions in Redis under a secret, Secure cookies, the in-cluster router', () => {
    const ui = synth.component('frontend')[0]!;
    const stored = synth.one('kubernetes:core/v1:Secret', 'ui-frontend').revealed['stringData'] as Record<
      string,
      string
    >;
    const env: Record<string, string> = Object.fromEntries(
      (ui.spec.template.spec.containers[0]!.env ?? []).map((variable) => [
        variable.name,
        variable.value === undefined ? stored[variable.valueFrom!.secretKeyRef!.key]! : (variable.value as string),
      ]),
    );
    const settings = loadConfig(frontendConfigSchema, { env, readFile: () => null });
    expect(settings.redis_url).toMatch(/^rediss?:\/\//);
    expect(settings.session_secret).toMatch(/^[0-9a-f]{64}$/);
    expect(settings.secure_cookies).toBe(true);
    expect(new URL(settings.router_url).hostname).not.toContain('.');
    expect(settings.public_router_url).toBe(`https://${config['xerotier:hostname']}`);
    const ingress = synth.one('kubernetes:networking.k8s.io/v1:Ingress', 'ui-frontend').inputs as {
      spec: { rules: { host: string }[] };
    };
    expect(ingress.spec.rules.map((rule) => rule.host)).toEqual([`ui.${config['xerotier:hostname']}`]);
  });

  it("keeps every Secret's data secret, and no secret value inline in any other resource", () => {
    for (const secret of synth.ofType('kubernetes:core/v1:Secret')) {
      // The SDK marks the whole of stringData secret; the mocks show it as "[secret]".
      expect(secret.inputs['stringData'], secret.name).toBe('[secret]');
    }
    // Where a secret is meant to go: the cloud resources that take one, and the cluster provider's kubeconfig.
    const allowed: Record<string, string[]> = {
      'aws:rds/instance:Instance': ['password'],
      'aws:elasticache/replicationGroup:ReplicationGroup': ['authToken'],
      'aws:secretsmanager/secretVersion:SecretVersion': ['secretString'],
      'pulumi:providers:kubernetes': ['kubeconfig'],
    };
    const elsewhere = synth.resources
      .filter((resource) => resource.type !== 'kubernetes:core/v1:Secret' && !resource.type.startsWith('random:'))
      .flatMap((resource) =>
        resource.secretPaths
          .filter((path) => !(allowed[resource.type] ?? []).includes(path))
          .map((path) => `${resource.name}: ${path}`),
      );
    expect(elsewhere).toEqual([]);
  });

  it('lets in-cluster agents reach the mesh on the internal Service, under the name the router tells them', () => {
    const agents = [...synth.component('xim'), ...synth.component('xem')];
    expect(agents.length).toBeGreaterThan(0);
    for (const agent of agents) {
      const alias = agent.spec.template.spec.hostAliases?.[0];
      expect(alias?.hostnames, agent.name).toEqual([`mesh.${config['xerotier:hostname']}`]);
      // The Service's cluster IP, an output the mocks compute as the API server would.
      expect(alias?.ip).toMatch(/^10\.100\.\d+\.\d+$/);
    }
    const router = synth.component('router')[0]!.spec.template.spec.containers[0]!;
    expect(router.env).toContainEqual({
      name: 'XEROTIER_MESH_PUBLIC_ENDPOINT',
      value: `tcp://mesh.${config['xerotier:hostname']}:5555`,
    });
  });

  it("exports every service's spans to the stack's collector when monitoring.tracing is set, and only then", () => {
    const monitoring = config['xerotier:monitoring'];
    const tracing = monitoring ? (JSON.parse(monitoring) as { tracing?: { endpoint: string } }).tracing : undefined;
    const services = synth
      .workloads()
      .flatMap((workload) => workload.spec.template.spec.containers)
      .filter((container) => ['router', 'xim-agent', 'xem-agent'].includes(container.name));
    for (const container of services) {
      const endpoint = container.env?.find((variable) => variable.name === 'XEROTIER_OTEL_ENDPOINT');
      if (!tracing) expect(endpoint, container.name).toBeUndefined();
      else
        expect(
          [endpoint?.value, container.env?.find((variable) => variable.name === 'XEROTIER_OTEL_ENABLED')?.value],
          container.name,
        ).toEqual([tracing.endpoint, 'true']);
    }
    if (!tracing) return;
    // XIM agents' egress is fenced to HTTPS: the collector's port is let through as well.
    const egress = synth.one('kubernetes:networking.k8s.io/v1:NetworkPolicy', 'network-xim-egress').inputs as {
      spec: { egress: { ports?: { port: number }[] }[] };
    };
    expect(egress.spec.egress.flatMap((rule) => rule.ports ?? []).map((port) => port.port)).toContain(
      Number(new URL(tracing.endpoint).port),
    );
  });
});
