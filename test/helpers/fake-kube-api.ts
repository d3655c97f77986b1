import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for a Kubernetes API server (no cluster runs here): just enough discovery, one pod
 * and one node for kubectl get / cordon / label to work for real against it. It records what
 * kubectl asked for.
 */
export async function startFakeKubeApi(): Promise<{ url: string; requests: string[]; close(): void }> {
  const requests: string[] = [];
  const node = {
    kind: 'Node',
    apiVersion: 'v1',
    metadata: { name: 'node-a', creationTimestamp: '2026-01-01T00:00:00Z', labels: {} },
    spec: {},
    status: {},
  };
  const pod = {
    metadata: { name: 'web-1', namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z' },
    spec: { nodeName: 'node-a', containers: [{ name: 'c', image: 'x' }] },
    status: { phase: 'Running' },
  };
  const routes: Record<string, unknown> = {
    'GET /api': { kind: 'APIVersions', versions: ['v1'], serverAddressByClientCIDRs: [] },
    'GET /apis': { kind: 'APIGroupList', apiVersion: 'v1', groups: [] },
    'GET /api/v1': {
      kind: 'APIResourceList',
      groupVersion: 'v1',
      resources: [
        { name: 'pods', singularName: 'pod', namespaced: true, kind: 'Pod', verbs: ['get', 'list', 'patch', 'delete'] },
        { name: 'nodes', singularName: 'node', namespaced: false, kind: 'Node', verbs: ['get', 'list', 'patch'] },
      ],
    },
    'GET /api/v1/namespaces/default/pods': { kind: 'PodList', apiVersion: 'v1', metadata: {}, items: [pod] },
    'GET /api/v1/namespaces/default/pods/web-1': { kind: 'Pod', apiVersion: 'v1', ...pod },
    'PATCH /api/v1/namespaces/default/pods/web-1': {
      kind: 'Pod',
      apiVersion: 'v1',
      ...pod,
      metadata: { ...pod.metadata, labels: { tier: 'web' } },
    },
    'GET /api/v1/nodes/node-a': node,
    'PATCH /api/v1/nodes/node-a': { ...node, spec: { unschedulable: true } },
  };
  const server = createServer((request: IncomingMessage, response: ServerResponse) => {
    let body = '';
    request.on('data', (chunk: Buffer) => (body += chunk.toString()));
    request.on('end', () => {
      const key = `${request.method} ${request.url!.split('?')[0]}`;
      requests.push(`${key} ${body}`.trim());
      const found = routes[key];
      response.writeHead(found ? 200 : 404, { 'content-type': 'application/json' });
      response.end(
        JSON.stringify(found ?? { kind: 'Status', apiVersion: 'v1', status: 'Failure', reason: 'NotFound', code: 404 }),
      );
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests, close: () => server.close() };
}

/** A kubeconfig for one cluster at `server`, authenticating with a bearer token. */
export function kubeconfigFor(server: string, token: string): string {
  return `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: "${server}" } }]
users: [{ name: u, user: { token: ${token} } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`;
}
