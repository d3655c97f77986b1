/**
 * Every way a frame or key can be refused. Codes are stable: peers and metrics branch on them.
 */
export const ProtocolErrorCode = {
  frameTooLarge: 'frame_too_large',
  malformedFrame: 'malformed_frame',
  frameTooDeep: 'frame_too_deep',
  collectionTooLarge: 'collection_too_large',
  forbiddenKey: 'forbidden_key',
  unsafeInteger: 'unsafe_integer',
  unsupportedType: 'unsupported_type',
  invalidEnvelope: 'invalid_envelope',
  unsupportedVersion: 'unsupported_version',
  unknownFrameType: 'unknown_frame_type',
  invalidBody: 'invalid_body',
  invalidKey: 'invalid_key',
  badSignature: 'bad_signature',
} as const;

export type ProtocolErrorCode = (typeof ProtocolErrorCode)[keyof typeof ProtocolErrorCode];

export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';

  constructor(
    readonly code: ProtocolErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export function isProtocolError(error: unknown): error is ProtocolError {
  return error instanceof ProtocolError;
}
