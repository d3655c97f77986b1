import { monitorEventLoopDelay } from 'node:perf_hooks';
import { createFrameCodec } from '../../services/protocol/codec.js';
import { ProtocolError } from '../../services/protocol/errors.js';
import { makeFrame } from '../../services/protocol/frame.js';
import { generateSigningKeyPair, signFrame, signingPublicKey, verifyFrame } from '../../services/protocol/signing.js';
import { percentile, round, writeResult, type Figures } from './report.js';

/**
 * Mesh codec cost: typical frames per second through encode+decode, signing, and how fast a
 * hostile 250 KB frame (research/security-anchors.md S13) is rejected compared with a plain
 * msgpack decoder that would take ~150 ms on it.
 */
export async function runCodecBench(): Promise<Figures> {
  const codec = createFrameCodec();
  const keys = generateSigningKeyPair();
  const result = makeFrame('exec.result', {
    invocation_id: 'inv_01HZX',
    attempt: 1,
    status: 'succeeded',
    exit_code: 0,
    output: 'NAME   STATUS   AGE\n'.repeat(40),
    output_truncated: false,
    duration_ms: 153,
  });
  const signed = signFrame(result, keys);
  const bytes = codec.encode(signed);

  const roundTrips = timeLoop(20_000, () => codec.decode(codec.encode(result)));
  // The router keeps one KeyObject per agent; building it from raw bytes costs as much as a verify.
  const publicKey = signingPublicKey(keys.publicKey);
  const signVerify = timeLoop(5_000, () => verifyFrame(codec.decode(codec.encode(signFrame(result, keys))), publicKey));
  const verifyOnly = timeLoop(5_000, () => verifyFrame(signed, publicKey));

  const hostile = Buffer.concat([Buffer.from([0x81, 0xa1, 0x78]), Buffer.alloc(250 * 1024, 0x91), Buffer.from([0xc0])]);
  const rejections: number[] = [];
  const lag = monitorEventLoopDelay({ resolution: 1 });
  lag.enable();
  // The delay monitor needs a few samples before the measured part begins.
  await new Promise((resolve) => setTimeout(resolve, 20));
  lag.reset();
  for (let i = 0; i < 200; i++) {
    const start = process.hrtime.bigint();
    try {
      codec.decode(hostile);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
    }
    rejections.push(Number(process.hrtime.bigint() - start) / 1_000);
    await new Promise((resolve) => setImmediate(resolve));
  }
  lag.disable();
  rejections.sort((a, b) => a - b);

  return {
    frame_bytes: bytes.length,
    roundtrips_per_s: round(roundTrips),
    signed_roundtrips_per_s: round(signVerify),
    verifies_per_s: round(verifyOnly),
    hostile_250kb_reject_us_p50: round(percentile(rejections, 50)),
    hostile_250kb_reject_us_p99: round(percentile(rejections, 99)),
    event_loop_lag_max_ms: round(lag.max / 1e6),
  };
}

function timeLoop(iterations: number, fn: () => unknown): number {
  for (let i = 0; i < 500; i++) fn();
  const start = process.hrtime.bigint();
  for (let i = 0; i < iterations; i++) fn();
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  return iterations / seconds;
}

if (import.meta.url === `file://${process.argv[1]}`) writeResult('codec', await runCodecBench());
