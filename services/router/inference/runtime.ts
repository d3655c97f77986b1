import type { Frame } from '../../protocol/frame.js';
import type { Lease } from '../mesh/leases.js';
import type { Registry } from 'prom-client';
import type { Queryable } from '../store/db.js';
import { registerInferenceMetrics, type InferenceMetrics } from './metrics.js';
import { InferenceDispatch, type PlacementGossip } from './dispatch.js';
import { StreamBroker, type StreamBrokerOptions } from './streams.js';
import { WorkerDirectory, type FleetView } from './workers.js';
import type { FrameRefusals } from '../exec/frame-refusals.js';

export interface InferenceMesh {
  boundAgents(): string[];
  leaseOf(agentId: string): Lease | undefined;
  send(agentId: string, frame: Frame): Promise<boolean>;
}

export interface InferenceRuntime {
  readonly broker: StreamBroker;
  readonly dispatch: InferenceDispatch;
  /** Present when the runtime was given a metrics registry. */
  readonly metrics?: InferenceMetrics;
  /** The mesh lost an agent: fail its streams, forget what it cached. */
  agentLost(agentId: string): void;
}

export interface InferenceRuntimeOptions {
  readonly registry?: Registry;
  /** Reports about streams an agent does not hold are refused through this (counted, audited). */
  readonly refusals?: FrameRefusals;
  /** One of several replicas: agents the others hold are candidates, reached through them. */
  readonly fleet?: FleetView & {
    readonly forward: NonNullable<StreamBrokerOptions['forward']>;
    readonly gossip: PlacementGossip;
  };
}

/**
 * This router's inference serving: streams over the mesh (or forwarded to the replica holding
 * the agent), the directory of the fleet's XIM agents, placement.
 */
export function createInferenceRuntime(
  db: Queryable,
  mesh: InferenceMesh,
  options: InferenceRuntimeOptions = {},
): InferenceRuntime {
  const { registry, refusals, fleet } = options;
  const broker = new StreamBroker({
    send: (agentId, frame) => mesh.send(agentId, frame),
    ...(refusals ? { refuse: (agent, refusal) => refusals.refuse(agent, refusal) } : {}),
    ...(fleet ? { forward: fleet.forward } : {}),
  });
  const live = {
    boundAgents: () => mesh.boundAgents(),
    leaseOf: (id: string) => mesh.leaseOf(id),
    openOn: (id: string) => broker.openOn(id),
    placedSince: (id: string, at: number): number => dispatch.placements.since(id, at),
  };
  const directory = new WorkerDirectory(db, live, fleet);
  const dispatch: InferenceDispatch = new InferenceDispatch(directory, broker, fleet?.gossip);
  return {
    broker,
    dispatch,
    ...(registry ? { metrics: registerInferenceMetrics(registry, broker) } : {}),
    agentLost(agentId) {
      broker.agentLost(agentId);
      dispatch.forget(agentId);
    },
  };
}

/** For an app built without a mesh (tests of other surfaces): no agent, so every request is refused. */
export const NO_MESH: InferenceMesh = { boundAgents: () => [], leaseOf: () => undefined, send: async () => false };
