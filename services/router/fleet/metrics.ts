import { Counter, type Registry } from 'prom-client';

export interface FleetMetrics {
  /** Placements told to the other replicas, and heard from them. */
  placements(direction: 'told' | 'heard', count: number): void;
  /** A stream handed to the replica holding its agent (out), or taken from another (in). */
  forwarded(direction: 'out' | 'in'): void;
}

/** How much of the fleet's work crosses replicas: shared placements and forwarded streams. */
export function registerFleetMetrics(registry: Registry): FleetMetrics {
  const placements = new Counter({
    name: 'xerotier_fleet_placements_total',
    help: 'Inference placements told to the other router replicas, or heard from them (shared prefix affinity)',
    labelNames: ['direction'],
    registers: [registry],
  });
  const forwarded = new Counter({
    name: 'xerotier_fleet_streams_forwarded_total',
    help: 'Inference streams handed to the replica holding their agent (out), or taken from another replica (in)',
    labelNames: ['direction'],
    registers: [registry],
  });
  return {
    placements: (direction, count) => placements.inc({ direction }, count),
    forwarded: (direction) => forwarded.inc({ direction }),
  };
}
