import Type, { type Static, type TSchema } from 'typebox';

// Body schemas for every frame type. Bodies are strict (unknown members are refused): a peer
// that needs new fields bumps the envelope version. Free-form payloads (tool args, manifests,
// OpenAI requests) are plain objects whose size and depth the codec has already capped.

const Id = Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_.:-]+$' });
const Attempt = Type.Integer({ minimum: 1, maximum: 1_000 });
const Millis = Type.Integer({ minimum: 0 });
const FreeObject = Type.Record(Type.String(), Type.Unknown());
const ShortText = Type.String({ maxLength: 1024 });
const Risk = Type.Union([
  Type.Literal('read'),
  Type.Literal('write'),
  Type.Literal('destructive'),
  Type.Literal('irreversible'),
]);
const Role = Type.Union([Type.Literal('xem'), Type.Literal('xim')]);
const strict = { additionalProperties: false } as const;

const InFlight = Type.Object({ invocation_id: Id, attempt: Attempt }, strict);
const Capacity = Type.Object(
  { max_concurrent: Type.Integer({ minimum: 0 }), in_use: Type.Integer({ minimum: 0 }) },
  strict,
);

export const frameBodySchemas = {
  // router -> agent
  challenge: Type.Object({ nonce: Type.String({ pattern: '^[0-9a-f]{64}$' }) }, strict),
  welcome: Type.Object(
    {
      agent_id: Id,
      lease_renewal_interval_ms: Type.Integer({ minimum: 100 }),
      lease_duration_ms: Type.Integer({ minimum: 100 }),
      send_manifest: Type.Boolean(),
    },
    strict,
  ),
  'exec.dispatch': Type.Object(
    {
      invocation_id: Id,
      attempt: Attempt,
      tool: Type.String({ pattern: '^[a-z][a-z0-9_]{0,63}$' }),
      workspace_id: Id,
      risk: Risk,
      args: FreeObject,
      /** sha256 of the canonical tool + args + workspace (protocol/request-hash.ts); the agent recomputes it. */
      request_hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      timeout_ms: Type.Integer({ minimum: 1 }),
      not_after: Millis,
    },
    strict,
  ),
  'exec.cancel': Type.Object({ invocation_id: Id, attempt: Attempt, reason: Type.Optional(ShortText) }, strict),
  'infer.request': Type.Object({ request_id: Id, project_id: Id, model: ShortText, request: FreeObject }, strict),
  'infer.cancel': Type.Object({ request_id: Id, reason: Type.Optional(ShortText) }, strict),
  'lease.revoked': Type.Object({ reason: ShortText }, strict),
  'curve.rotate': Type.Object({ rotation_id: Id, reason: ShortText }, strict),

  // agent -> router
  // Without a nonce, hello asks for a challenge; with the router's nonce, and signed by the
  // agent's enrolled key, it binds the connection to the agent.
  hello: Type.Object(
    {
      agent_id: Id,
      role: Role,
      nonce: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
      agent_version: ShortText,
    },
    strict,
  ),
  lease_renewal: Type.Object(
    {
      manifest_hash: Type.String({ pattern: '^[0-9a-f]{64}$' }),
      manifest_version: Type.Integer({ minimum: 0 }),
      manifest: Type.Optional(FreeObject),
      capacity: Capacity,
      in_flight: Type.Array(InFlight, { maxItems: 10_000 }),
      health: Type.Optional(FreeObject),
    },
    strict,
  ),
  'exec.accepted': Type.Object({ invocation_id: Id, attempt: Attempt }, strict),
  'exec.progress': Type.Object(
    {
      invocation_id: Id,
      attempt: Attempt,
      seq: Type.Integer({ minimum: 0 }),
      stream: Type.Union([Type.Literal('stdout'), Type.Literal('stderr'), Type.Literal('status')]),
      data: Type.String({ maxLength: 256 * 1024 }),
    },
    strict,
  ),
  'exec.output': Type.Object(
    {
      invocation_id: Id,
      attempt: Attempt,
      index: Type.Integer({ minimum: 1, maximum: 64 }),
      data: Type.String({ maxLength: 256 * 1024 }),
    },
    strict,
  ),
  'exec.result': Type.Object(
    {
      invocation_id: Id,
      attempt: Attempt,
      status: Type.Union([
        Type.Literal('succeeded'),
        Type.Literal('failed'),
        Type.Literal('timed_out'),
        Type.Literal('cancelled'),
        Type.Literal('interrupted'),
        Type.Literal('rejected'),
      ]),
      exit_code: Type.Union([Type.Integer(), Type.Null()]),
      output: Type.String({ maxLength: 512 * 1024 }),
      // Output past the first chunk travels in `exec.output` frames sent before the result.
      // Present only when there are chunks, so a stored result re-encodes to the bytes that were signed.
      output_chunks: Type.Optional(Type.Integer({ minimum: 1, maximum: 64 })),
      output_truncated: Type.Boolean(),
      duration_ms: Millis,
      error: Type.Optional(Type.Object({ code: Id, message: ShortText }, strict)),
    },
    strict,
  ),
  // Chunks that arrived together from the engine travel together; seq numbers the first.
  'infer.chunk': Type.Object(
    {
      request_id: Id,
      seq: Type.Integer({ minimum: 0 }),
      chunks: Type.Array(FreeObject, { minItems: 1, maxItems: 4_096 }),
    },
    strict,
  ),
  'infer.done': Type.Object({ request_id: Id, usage: Type.Optional(FreeObject) }, strict),
  'infer.error': Type.Object({ request_id: Id, code: Id, message: ShortText, retryable: Type.Boolean() }, strict),

  // both directions
  ack: Type.Object(
    {
      ack_id: Id,
      status: Type.Union([Type.Literal('ok'), Type.Literal('duplicate'), Type.Literal('rejected')]),
      reason: Type.Optional(ShortText),
      /** Router to agent: the manifest hash drifted; send the full manifest with the next renewal. */
      send_manifest: Type.Optional(Type.Boolean()),
    },
    strict,
  ),
} satisfies Record<string, TSchema>;

export type FrameBodySchemas = typeof frameBodySchemas;
export type FrameType = keyof FrameBodySchemas;
export type FrameBody<T extends FrameType> = Static<FrameBodySchemas[T]>;

export const frameTypes = Object.freeze(Object.keys(frameBodySchemas) as FrameType[]);

export function isFrameType(value: string): value is FrameType {
  return Object.hasOwn(frameBodySchemas, value);
}
