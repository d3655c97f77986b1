import * as zmq from 'zeromq';
import { describe, expect, it } from 'vitest';
import { curvePublicFromSecret, generateCurveKeyPair } from '../../services/protocol/curve-keys.js';
import { createFrameCodec } from '../../services/protocol/codec.js';
import { makeFrame } from '../../services/protocol/frame.js';
import { freePort } from '../helpers/embedded-server.js';

describe('CURVE keys in a real ZeroMQ handshake', () => {
  it('zeromq is built with CURVE', () => {
    expect(zmq.capability.curve).toBe(true);
  });

  it('a server holding only its secret (public derived by us) talks to a client over CURVE', async () => {
    const server = generateCurveKeyPair();
    const client = generateCurveKeyPair();
    const endpoint = `tcp://127.0.0.1:${await freePort()}`;
    const router = new zmq.Router({ curveServer: true, curveSecretKey: server.secretKey, linger: 0 });
    const dealer = new zmq.Dealer({
      curveServerKey: curvePublicFromSecret(server.secretKey),
      curvePublicKey: client.publicKey,
      curveSecretKey: client.secretKey,
      linger: 0,
    });
    const codec = createFrameCodec();
    try {
      await router.bind(endpoint);
      dealer.connect(endpoint);
      await dealer.send(codec.encode(makeFrame('ack', { ack_id: 'f1', status: 'ok' })));
      const [, payload] = await router.receive();
      expect(codec.decode(payload!).body).toEqual({ ack_id: 'f1', status: 'ok' });
    } finally {
      dealer.close();
      router.close();
    }
  });
});
