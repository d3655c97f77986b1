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
    env: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Z_][A-Z0-9_]{0,127}$' }), Type.String({ maxLength: 4096 })),
    ),
  },
  strict,
);

const Risk = Type.Union([
  Type.Literal('read'),
  Type.Literal('write'),
  Type.Literal('destructive'),
  Type.Literal('irreversible'),
]);
const CredentialsRef = Type.String({ pattern: '^[a-z0-9][a-z0-9_.-]{0,63}$' });

const HttpExecutor = Type.Object(
  {
    base_url: Type.String({
      pattern: '^https?://[^\\s?#]+/$',
      maxLength: 2048,
      description: 'every request stays under this URL; ends with /',
    }),
    method: Type.Union([
      Type.Literal('GET'),
      Type.Literal('POST'),
      Type.Literal('PUT'),
      Type.Literal('PATCH'),
      Type.Literal('DELETE'),
    ]),
    path: Type.String({ maxLength: 2048, description: 'relative to base_url; {{param}} fills whole segments only' }),
    query: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9_.-]{1,64}$' }), Type.String({ maxLength: 1024 })),
    ),
    headers: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Za-z0-9-]{1,64}$' }), Type.String({ maxLength: 4096 })),
    ),
    body: Type.Optional(Type.Literal('json')),
  },
  strict,
);

export const ToolSpec = Type.Object(
  {
    name: Type.String({ pattern: TOOL_NAME }),
    description: Type.String({ minLength: 1, maxLength: 2000 }),
    risk: Risk,
    parameters: Type.Record(Type.String(), Type.Unknown()),
    timeout_ms: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
    credentials_ref: Type.Optional(CredentialsRef),
    command: Type.Optional(CommandExecutor),
    http: Type.Optional(HttpExecutor),
  },
  strict,
);

/**
 * A stdio MCP server whose tools the bundle offers. Its tools are listed at load; their risk
 * comes from the tool's annotations unless overridden here (annotations are hints from the
 * server, so an operator has the last word).
 */
export const McpServerSpec = Type.Object(
  {
    argv: Type.Array(Type.String({ minLength: 1, maxLength: 4096 }), { minItems: 1, maxItems: 256 }),
    env: Type.Optional(
      Type.Record(Type.String({ pattern: '^[A-Z_][A-Z0-9_]{0,127}$' }), Type.String({ maxLength: 4096 })),
    ),
    credentials_ref: Type.Optional(CredentialsRef),
    timeout_ms: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
    overrides: Type.Optional(Type.Record(Type.String({ pattern: TOOL_NAME }), Type.Object({ risk: Risk }, strict))),
  },
  strict,
);

export const BundleSpec = Type.Object(
  {
    name: Type.String({ pattern: BUNDLE_NAME.source }),
    version: Type.String({ minLength: 1, maxLength: 64 }),
    domain: Type.String({ minLength: 1, maxLength: 64 }),
    tools: Type.Optional(Type.Array(ToolSpec, { minItems: 1, maxItems: 500 })),
    mcp: Type.Optional(McpServerSpec),
  },
  strict,
);

export type ToolSpec = Static<typeof ToolSpec>;
export type McpServerSpec = Static<typeof McpServerSpec>;
export type HttpExecutorSpec = Static<typeof HttpExecutor>;
export type Risk = Static<typeof Risk>;
export type BundleSpec = Static<typeof BundleSpec>;
