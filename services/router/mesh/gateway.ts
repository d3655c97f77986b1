import { fork, type ChildProcess } from 'node:child_process';
import { extname, join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Logger } from '../../runtime/logger.js';
import { batched, type GatewayToRouter, type RouterToGateway, type ZapDecision } from './gateway-protocol.js';

export interface MeshGatewayOptions {
  readonly bind: string;
  readonly curveSecretKey: string;
  readonly maxMessageBytes: number;
  readonly logger: Logger;
  /** Off only in tests that prove the router outlives an aborted gateway. @default true */
  readonly scrambleAutoIds?: boolean;
  /** A message from a peer: its routing key, how many payload parts it had, the first part. */
  readonly onMessage: (routing: string, parts: number, payload: Buffer) => void;
  /** A CURVE handshake to decide; undefined leaves it unanswered (the gateway then refuses it). */
  readonly decide: (keyHex: string, address: string) => ZapDecision | undefined;
  /** A send to this peer failed because it is gone. */
  readonly onUnreachable: (routing: string) => void;
  /** The gateway died and is being restarted: every connection is gone. */
  readonly onRestart: (reason: string) => void;
}

export interface MeshGateway {
  readonly endpoint: string;
  /** Hands a message for a peer to the gateway; false when the gateway is down. A peer that turns out gone is reported through onUnreachable. */
  send(routing: string, bytes: Buffer): boolean;
  readonly restarts: number;
  close(): Promise<void>;
}

const here = fileURLToPath(import.meta.url);
const GATEWAY_MAIN = join(dirname(here), `gateway-main${extname(here)}`);

/**
 * Runs the mesh socket in a child process (gateway-main.ts) and restarts it when it dies,
 * rebinding the same endpoint with backoff from 100 ms to 5 s; agents reconnect on their own.
 */
export async function startMeshGateway(options: MeshGatewayOptions): Promise<MeshGateway> {
  const state = {
    child: undefined as ChildProcess | undefined,
    endpoint: options.bind,
    closing: false,
    restarts: 0,
    backoffMs: 100,
  };
  const outbound = batched<readonly [string, Uint8Array]>((msgs) => {
    if (state.child?.connected) state.child.send({ t: 'send', msgs } satisfies RouterToGateway);
  });
  const launch = (bind: string) =>
    spawnGateway(options, bind, (message) => {
      if (message.t === 'in')
        for (const [routing, parts, bytes] of message.msgs)
          options.onMessage(routing, parts, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
      else if (message.t === 'unsent') for (const routing of message.r) options.onUnreachable(routing);
      else if (message.t === 'zap') answerZap(state.child, message.s, options.decide(message.key, message.address));
      else if (message.t === 'log') options.logger[message.level](message.detail ?? {}, `mesh gateway: ${message.msg}`);
    });
  const supervise = (child: ChildProcess, startedAt: number) => {
    child.once('exit', (code, signal) => {
      if (state.closing) return;
      const reason = signal ? `signal ${signal}` : `exit code ${code}`;
      options.logger.error(
        { code, signal, restart_in_ms: state.backoffMs },
        `mesh gateway died (${reason}); restarting it`,
      );
      state.restarts += 1;
      state.child = undefined;
      options.onRestart(reason);
      state.backoffMs = Date.now() - startedAt > 60_000 ? 100 : state.backoffMs;
      setTimeout(() => void relaunch(), state.backoffMs).unref();
      state.backoffMs = Math.min(5_000, state.backoffMs * 2);
    });
  };
  const relaunch = async () => {
    if (state.closing) return;
    try {
      const started = await launch(state.endpoint);
      state.child = started.child;
      supervise(started.child, Date.now());
    } catch (error) {
      options.logger.error({ err: error }, 'mesh gateway did not start; retrying');
      setTimeout(() => void relaunch(), state.backoffMs).unref();
    }
  };

  const first = await launch(options.bind);
  state.child = first.child;
  state.endpoint = first.endpoint;
  supervise(first.child, Date.now());
  return {
    get endpoint() {
      return state.endpoint;
    },
    get restarts() {
      return state.restarts;
    },
    send(routing, bytes) {
      if (!state.child?.connected) return false;
      outbound([routing, bytes]);
      return true;
    },
    async close() {
      state.closing = true;
      const child = state.child;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((resolve) => child.once('exit', resolve));
      if (child.connected) child.send({ t: 'close' } satisfies RouterToGateway);
      const force = setTimeout(() => child.kill('SIGKILL'), 2_000);
      await exited;
      clearTimeout(force);
    },
  };
}

function answerZap(child: ChildProcess | undefined, s: number, decision: ZapDecision | undefined): void {
  if (decision !== undefined && child?.connected) child.send({ t: 'zap', s, decision } satisfies RouterToGateway);
}

function spawnGateway(
  options: MeshGatewayOptions,
  bind: string,
  onMessage: (message: GatewayToRouter) => void,
): Promise<{ child: ChildProcess; endpoint: string }> {
  const child = fork(GATEWAY_MAIN, [], {
    serialization: 'advanced',
    // Under tsx (development, tests) the child needs the same loader; a build runs plain .js.
    execArgv: GATEWAY_MAIN.endsWith('.ts') ? ['--import', 'tsx'] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  child.on('message', onMessage);
  child.send({
    t: 'start',
    bind,
    curveSecretKey: options.curveSecretKey,
    maxMessageBytes: options.maxMessageBytes,
    scrambleAutoIds: options.scrambleAutoIds ?? true,
  } satisfies RouterToGateway);
  return new Promise((resolve, reject) => {
    const onExit = (code: number | null, signal: string | null) =>
      reject(new Error(`mesh gateway exited before listening (${signal ?? `code ${code}`})`));
    child.once('exit', onExit);
    child.on('message', (message: GatewayToRouter) => {
      if (message.t !== 'listening') return;
      child.off('exit', onExit);
      resolve({ child, endpoint: message.endpoint });
    });
  });
}
