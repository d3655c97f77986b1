import { Reply, Router } from 'zeromq';
import { scrambleAutoRoutingIds } from './auto-ids.js';
import {
  batched,
  MESH_ZAP_DOMAIN,
  type GatewayToRouter,
  type RouterToGateway,
  type ZapDecision,
} from './gateway-protocol.js';

/**
 * The mesh gateway: a child process of the router that owns the CURVE ROUTER socket and the ZAP
 * endpoint, and only moves bytes. It exists so that libzmq aborting (the routing-id squat of
 * security-anchors §0.4, reachable by any holder of an enrolled key) takes down this process,
 * which the router restarts at once, and never the router itself.
 */
const ZAP_ENDPOINT = 'inproc://zeromq.zap.01';
const ZAP_ANSWER_TIMEOUT_MS = 2_000;
const MAX_IN_FLIGHT = 1_000;
const REPLY: Record<ZapDecision, [string, string]> = {
  admitted: ['200', 'OK'],
  refused: ['400', 'not admitted'],
  throttled: ['300', 'too many handshakes'],
};

type Start = Extract<RouterToGateway, { t: 'start' }>;

const tell = (message: GatewayToRouter, sent?: () => void): void => {
  if (process.connected) process.send!(message, undefined, {}, sent);
};

function fail(msg: string, error: unknown): never {
  tell({ t: 'log', level: 'error', msg, detail: { error: error instanceof Error ? error.message : String(error) } });
  process.exit(1);
}

async function main(start: Start): Promise<void> {
  const zapAnswers = new Map<number, (decision: ZapDecision) => void>();
  const zap = new Reply({ linger: 0 });
  await zap.bind(ZAP_ENDPOINT);
  if (start.scrambleAutoIds) await scrambleAutoRoutingIds();
  const socket = new Router({
    curveServer: true,
    curveSecretKey: start.curveSecretKey,
    zapDomain: MESH_ZAP_DOMAIN,
    zapEnforceDomain: true,
    maxMessageSize: start.maxMessageBytes,
    // A second peer with a taken id is ignored rather than handed the first one's traffic; an
    // unknown peer or a full queue fails the send at once instead of dropping it silently.
    handover: false,
    mandatory: true,
    sendTimeout: 0,
    linger: 0,
    // Transport heartbeats only find dead TCP connections (leases are the application's
    // heartbeat), and each is a CURVE box: every 5 s cost half a core at 10,000 agents.
    heartbeatInterval: 30_000,
    heartbeatTimeout: 90_000,
    handshakeInterval: 10_000,
  });
  await socket.bind(start.bind);
  const unreachable = batched<string>((r) => tell({ t: 'unsent', r }));
  // zeromq.js allows one pending send per socket, so sends are chained. A peer that is gone
  // (EHOSTUNREACH, thanks to mandatory) is reported; a full queue (EAGAIN) only drops the frame,
  // which the agent's outbox resends.
  let tail: Promise<void> = Promise.resolve();
  const send = (routing: string, bytes: Uint8Array) => {
    tail = tail
      .then(() => socket.send([Buffer.from(routing, 'latin1'), bytes]))
      .catch((error: { code?: string }) => {
        if (error.code === 'EHOSTUNREACH') unreachable(routing);
      });
  };
  process.on('message', (message: RouterToGateway) => {
    if (message.t === 'send') for (const [routing, bytes] of message.msgs) send(routing, bytes);
    else if (message.t === 'zap') zapAnswers.get(message.s)?.(message.decision);
    else if (message.t === 'close') process.exit(0);
  });
  tell({ t: 'listening', endpoint: socket.lastEndpoint ?? start.bind });
  void answerZap(zap, zapAnswers).then(
    () => fail('ZAP handler stopped', 'closed'),
    (error: unknown) => fail('ZAP handler failed', error),
  );
  await forward(socket);
}

async function answerZap(zap: Reply, answers: Map<number, (decision: ZapDecision) => void>): Promise<void> {
  let sequence = 0;
  for await (const [version, requestId, domain, address, , mechanism, credentials] of zap) {
    let decision: ZapDecision = 'refused';
    if (mechanism?.toString() === 'CURVE' && domain?.toString() === MESH_ZAP_DOMAIN && credentials?.length === 32) {
      const s = (sequence += 1);
      // The router decides; no answer in time is a temporary refusal (fail closed, retry later).
      decision = await new Promise<ZapDecision>((resolve) => {
        const timer = setTimeout(() => resolve('throttled'), ZAP_ANSWER_TIMEOUT_MS);
        answers.set(s, (answer) => (clearTimeout(timer), resolve(answer)));
        tell({ t: 'zap', s, key: credentials.toString('hex'), address: address?.toString() ?? '' });
      });
      answers.delete(s);
    }
    await zap.send([version ?? '1.0', requestId ?? '', ...REPLY[decision], '', '']);
  }
}

// Keeps at most MAX_IN_FLIGHT messages in the IPC channel: past that, the ROUTER's own queue
// (and its high-water mark) holds the rest, so a slow router slows peers instead of growing memory.
async function forward(socket: Router): Promise<void> {
  let inFlight = 0;
  let resume: (() => void) | undefined;
  const deliver = batched<[string, number, Uint8Array]>((msgs) =>
    tell({ t: 'in', msgs }, () => {
      inFlight -= msgs.length;
      if (inFlight < MAX_IN_FLIGHT / 2) resume?.();
    }),
  );
  for await (const parts of socket) {
    inFlight += 1;
    deliver([parts[0]!.toString('latin1'), parts.length - 1, parts[1] ?? new Uint8Array()]);
    if (inFlight >= MAX_IN_FLIGHT) await new Promise<void>((resolve) => (resume = resolve));
    resume = undefined;
  }
}

// Only the router stops the gateway (a terminal's Ctrl-C reaches the whole process group; the
// router drains first and then says close). A router that went away takes the gateway with it.
process.on('SIGINT', () => undefined);
process.on('SIGTERM', () => undefined);
process.on('disconnect', () => process.exit(0));
process.once('message', (message: RouterToGateway) => {
  if (message.t !== 'start') fail('mesh gateway: expected start', message.t);
  main(message).catch((error: unknown) => fail('mesh gateway failed', error));
});
