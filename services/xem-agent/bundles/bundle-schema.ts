import Type, { type Static } from 'typebox';

// The bundle.yaml format (ARCHITECTURE §7). Strict: an unknown field is a mistake worth naming.

export const TOOL_NAME = '^[a-z][a-z0-9_]{0,63}$';
/** Bundle directory names are allowlisted before any file system call touches them (S22). */
export const BUNDLE_NAME = /^[a-z0-9][a-z0-9_-]{0,63}$/;

const strict = { additionalProperties: false } as const;

const CommandExecutor = Type.Object(
  {
    argv: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: 256 }),
    cwd: Type.Optional(Type.String({ minLength: 1, maxLength: 1024 })),
    env: Type.Optional(Type.Record(Type.String({ pattern: '^[A-Z_][A-Z0-9_]{0,127}$' }), Type.String({ maxLength: 4096 }))),
  },
  strict,
);

export const ToolSpec = Type.Object(
  {
    name: Type.String({ pattern: TOOL_NAME }),
    description: Type.String({ minLength: 1, maxLength: 2000 }),
    risk: Type.Union([Type.Literal('read'), Type.Literal('write'), Type.Literal('destructive'), Type.Literal('irreversible')]),
    parameters: Type.Record(Type.String(), Type.Unknown()),
    timeout_ms: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
    credentials_ref: Type.Optional(Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' })),
    command: CommandExecutor,
  },
  strict,
);

export const BundleSpec = Type.Object(
  {
    name: Type.String({ pattern: BUNDLE_NAME.source }),
    version: Type.String({ minLength: 1, maxLength: 64 }),
    domain: Type.String({ minLength: 1, maxLength: 64 }),
    tools: Type.Array(ToolSpec, { minItems: 1, maxItems: 500 }),
  },
  strict,
);

export type ToolSpec = Static<typeof ToolSpec>;
export type BundleSpec = Static<typeof BundleSpec>;
