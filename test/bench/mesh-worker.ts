import { context, Dealer } from 'zeromq';
import { MESH_SOCKET_OPTIONS } from '../../services/agent/mesh-client.js';
import { createFrameCodec } from '../../services/protocol/codec.js';
import { makeFrame, type AnyFrame, type Frame } from '../../services/protocol/frame.js';
import { meshRoutingId } from '../../services/protocol/routing-id.js';
import { signFrame, signingKeyPairFromSeed } from '../../services/protocol/signing.js';

/**
 * One process holding many simulated agents (a CURVE DEALER socket each): bind with the signed
 * HELLO handshake, then renew the lease every intervalMs. Its agents arrive over IPC; it reports
 * bound agents and acks the same way.
 */
interface SimulatedAgent {
  agent_id: string;
  curve: { publicKey: string; secretKey: string };
  signing_seed: string;
}
interface WorkerInput {
  endpoint: string;
  routerKey: string;
  intervalMs: number;
  agents: SimulatedAgent[];
}

const codec = createFrameCodec();
let bound = 0;
let acks = 0;
const hash = 'ab'.repeat(32);

function run(input: WorkerInput, agent: SimulatedAgent): void {
  const signing = signingKeyPairFromSeed(Buffer.from(agent.signing_seed, 'hex'));
  const socket = new Dealer({
    ...MESH_SOCKET_OPTIONS,
    routingId: meshRoutingId(agent.agent_id),
    curveServerKey: input.routerKey,
    curvePublicKey: agent.curve.publicKey,
    curveSecretKey: agent.curve.secretKey,
  });
  let tail: Promise<unknown> = Promise.resolve();
  const send = (frame: Frame) => {
    const bytes = codec.encode(signFrame(frame, signing));
    tail = tail.then(() => socket.send(bytes)).catch(() => undefined);
  };
  const hello = (nonce?: string) =>
    send(
      makeFrame('hello', {
        agent_id: agent.agent_id,
        role: 'xem',
        agent_version: 'bench',
        ...(nonce ? { nonce } : {}),
      }),
    );
  socket.connect(input.endpoint);
  hello();
  void (async () => {
    for await (const [message] of socket) {
      const frame = codec.decode(message!) as AnyFrame;
      if (frame.type === 'challenge') hello(frame.body.nonce);
      else if (frame.type === 'welcome') {
        bound += 1;
        const renew = () =>
          send(
            makeFrame('lease_renewal', {
              manifest_hash: hash,
              manifest_version: 1,
              capacity: { max_concurrent: 1, in_use: 0 },
              in_flight: [],
            }),
          );
        setTimeout(() => setInterval(renew, input.intervalMs), Math.random() * input.intervalMs);
      } else if (frame.type === 'ack') acks += 1;
    }
  })();
}

process.once('message', (input: WorkerInput) => {
  // libzmq's default context holds at most 1,023 sockets; a worker may simulate more agents.
  context.maxSockets = input.agents.length + 64;
  for (const agent of input.agents) run(input, agent);
});
setInterval(() => process.send?.({ bound, acks }), 500);
process.on('disconnect', () => process.exit(0));
