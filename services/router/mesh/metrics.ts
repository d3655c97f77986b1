import { Gauge, type Registry } from 'prom-client';
import type { Mesh } from './mesh.js';

/** Mesh figures read at scrape time from the mesh's own counters (nothing on the hot path). */
export function registerMeshMetrics(registry: Registry, mesh: Mesh): void {
  const stats = mesh.server.stats;
  new Gauge({
    name: 'xerotier_mesh_agents_bound',
    help: 'Agents with a mesh connection bound by a signed HELLO',
    registers: [registry],
    collect() {
      this.set(mesh.server.connections.boundCount);
    },
  });
  new Gauge({
    name: 'xerotier_mesh_agents_on_next_key',
    help: "Agents bound on the mesh's next CURVE key during a rotation (all of them: the rotation can be completed)",
    registers: [registry],
    collect() {
      this.set(mesh.nextServer?.connections.boundCount ?? 0);
    },
  });
  new Gauge({
    name: 'xerotier_mesh_frames_received',
    help: 'Frames received on the mesh since start',
    registers: [registry],
    collect() {
      this.set(stats.received);
    },
  });
  new Gauge({
    name: 'xerotier_mesh_frames_dropped',
    help: 'Frames dropped since start, by reason',
    labelNames: ['reason'],
    registers: [registry],
    collect() {
      for (const [reason, count] of Object.entries(stats.dropped)) this.set({ reason }, count);
      this.set({ reason: 'duplicate' }, stats.duplicates);
    },
  });
  new Gauge({
    name: 'xerotier_mesh_zap_decisions',
    help: 'CURVE handshakes decided by the ZAP handler since start',
    labelNames: ['decision'],
    registers: [registry],
    collect() {
      for (const [decision, count] of Object.entries(mesh.zap.decisions)) this.set({ decision }, count);
    },
  });
}
