import { makeFrame, type Frame } from '../../../services/protocol/frame.js';
import type { FrameType } from '../../../services/protocol/frame-bodies.js';

const nonce = 'ab'.repeat(32);
const hash = 'cd'.repeat(32);

/** One valid frame of every type, for round-trip and fuzz seeds. */
export const sampleFrames: { [T in FrameType]: Frame<T> } = {
  challenge: makeFrame('challenge', { nonce }),
  welcome: makeFrame('welcome', {
    agent_id: 'agt_1',
    lease_renewal_interval_ms: 10_000,
    lease_duration_ms: 30_000,
    send_manifest: true,
  }),
  'exec.dispatch': makeFrame('exec.dispatch', {
    invocation_id: 'inv_1',
    attempt: 2,
    tool: 'kubectl_get',
    workspace_id: 'ws_0123456789ab',
    risk: 'read',
    args: { resource: 'pods', namespace: 'default', labels: ['a', 'b'], limit: 10 },
    request_hash: hash,
    timeout_ms: 5_000,
    not_after: 1_800_000_000_000,
  }),
  'exec.cancel': makeFrame('exec.cancel', { invocation_id: 'inv_1', attempt: 2, reason: 'operator' }),
  'infer.request': makeFrame('infer.request', {
    request_id: 'req_1',
    project_id: 'proj_1',
    model: 'scripted',
    request: { messages: [{ role: 'user', content: 'hi' }], stream: true },
  }),
  'infer.cancel': makeFrame('infer.cancel', { request_id: 'req_1' }),
  'lease.revoked': makeFrame('lease.revoked', { reason: 'credentials revoked' }),
  'curve.rotate': makeFrame('curve.rotate', { rotation_id: 'rot_1', reason: 'scheduled' }),
  hello: makeFrame('hello', { agent_id: 'agt_1', role: 'xem', nonce, agent_version: '0.1.0' }),
  lease_renewal: makeFrame(
    'lease_renewal',
    {
      manifest_hash: hash,
      manifest_version: 3,
      capacity: { max_concurrent: 20, in_use: 1 },
      in_flight: [{ invocation_id: 'inv_1', attempt: 2 }],
    },
    { trace: { traceparent: '00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01', tracestate: 'vendor=1' } },
  ),
  'exec.accepted': makeFrame('exec.accepted', { invocation_id: 'inv_1', attempt: 2 }),
  'exec.progress': makeFrame('exec.progress', {
    invocation_id: 'inv_1',
    attempt: 2,
    seq: 0,
    stream: 'stdout',
    data: 'line\n',
  }),
  'exec.output': makeFrame('exec.output', { invocation_id: 'inv_1', attempt: 2, index: 1, data: 'more output\n' }),
  'exec.result': makeFrame('exec.result', {
    invocation_id: 'inv_1',
    attempt: 2,
    status: 'failed',
    exit_code: 1,
    output: 'boom',
    output_truncated: false,
    duration_ms: 40,
    error: { code: 'exit_nonzero', message: 'exit 1' },
  }),
  'infer.chunk': makeFrame('infer.chunk', {
    request_id: 'req_1',
    seq: 4,
    chunks: [{ choices: [{ delta: { content: 'he' } }] }],
  }),
  'infer.done': makeFrame('infer.done', { request_id: 'req_1', usage: { prompt_tokens: 3, completion_tokens: 7 } }),
  'infer.error': makeFrame('infer.error', {
    request_id: 'req_1',
    code: 'engine_unavailable',
    message: 'engine down',
    retryable: true,
  }),
  ack: makeFrame('ack', { ack_id: 'f1', status: 'duplicate' }),
};
