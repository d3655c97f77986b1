import { randomUUID } from 'node:crypto';
import Type from 'typebox';
import type { FrameBody, FrameType } from './frame-bodies.js';

export const PROTOCOL_VERSION = 1;

/** W3C trace context carried by a frame (https://www.w3.org/TR/trace-context/). */
export interface TraceCarrier {
  traceparent: string;
  tracestate?: string;
}

/** The mesh envelope: one MessagePack map per ZeroMQ message. */
export interface Frame<T extends FrameType = FrameType> {
  v: typeof PROTOCOL_VERSION;
  type: T;
  /** Idempotency key: a resent frame keeps its id and gets the same ack. */
  id: string;
  /** Sender's clock, milliseconds since the epoch. */
  ts: number;
  trace?: TraceCarrier;
  body: FrameBody<T>;
  /** Ed25519 signature over the canonical encoding of (v, type, id, ts, body). */
  sig?: Uint8Array;
}

export type AnyFrame = { [T in FrameType]: Frame<T> }[FrameType];

const Binary = Type.Refine(Type.Unknown(), (value) => value instanceof Uint8Array);

export const TraceCarrierSchema = Type.Object(
  {
    traceparent: Type.String({ pattern: '^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$' }),
    tracestate: Type.Optional(Type.String({ maxLength: 512 })),
  },
  { additionalProperties: false },
);

export const EnvelopeSchema = Type.Object(
  {
    v: Type.Integer(),
    type: Type.String({ minLength: 1, maxLength: 64 }),
    id: Type.String({ minLength: 1, maxLength: 64, pattern: '^[A-Za-z0-9_-]+$' }),
    ts: Type.Integer({ minimum: 0 }),
    trace: Type.Optional(TraceCarrierSchema),
    body: Type.Record(Type.String(), Type.Unknown()),
    sig: Type.Optional(Binary),
  },
  { additionalProperties: false },
);

export function newFrameId(): string {
  return randomUUID();
}

/** Builds an unsigned frame with a fresh id and the current time. */
export function makeFrame<T extends FrameType>(
  type: T,
  body: FrameBody<T>,
  options: { id?: string; ts?: number; trace?: TraceCarrier } = {},
): Frame<T> {
  const frame: Frame<T> = {
    v: PROTOCOL_VERSION,
    type,
    id: options.id ?? newFrameId(),
    ts: options.ts ?? Date.now(),
    body,
  };
  if (options.trace) frame.trace = options.trace;
  return frame;
}
