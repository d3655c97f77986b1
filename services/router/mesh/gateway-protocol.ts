/**
 * Messages between the router and its mesh gateway process (over the Node IPC channel, with
 * 'advanced' serialization so payloads travel as bytes). The gateway only moves bytes and asks
 * the router who may connect; every decision about frames is the router's.
 */
/** The ZAP domain the mesh socket enforces; a handshake in any other domain is refused. */
export const MESH_ZAP_DOMAIN = 'xerotier-mesh';

export type RouterToGateway =
  | {
      readonly t: 'start';
      readonly bind: string;
      readonly curveSecretKey: string;
      readonly maxMessageBytes: number;
      readonly scrambleAutoIds: boolean;
    }
  /** Messages to peers: [routing id (latin1), payload]. */
  | { readonly t: 'send'; readonly msgs: readonly (readonly [string, Uint8Array])[] }
  | { readonly t: 'zap'; readonly s: number; readonly decision: ZapDecision }
  | { readonly t: 'close' };

export type GatewayToRouter =
  | { readonly t: 'listening'; readonly endpoint: string }
  /** Messages from peers: [routing id (latin1), payload part count, first payload part]. */
  | { readonly t: 'in'; readonly msgs: readonly (readonly [string, number, Uint8Array])[] }
  /** Peers a send could not reach because they are gone. */
  | { readonly t: 'unsent'; readonly r: readonly string[] }
  | { readonly t: 'zap'; readonly s: number; readonly key: string; readonly address: string }
  | {
      readonly t: 'log';
      readonly level: 'info' | 'warning' | 'error';
      readonly msg: string;
      readonly detail?: Record<string, unknown>;
    };

export type ZapDecision = 'admitted' | 'refused' | 'throttled';

/**
 * Collects items and hands them over once per event-loop turn: one IPC message carries every
 * frame that arrived in that turn, so the process hop costs per batch, not per frame.
 */
export function batched<T>(flush: (items: T[]) => void): (item: T) => void {
  let items: T[] = [];
  return (item) => {
    items.push(item);
    if (items.length > 1) return;
    setImmediate(() => {
      const batch = items;
      items = [];
      flush(batch);
    });
  };
}
