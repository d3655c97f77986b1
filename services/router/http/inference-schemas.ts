import Type from 'typebox';
import { ProjectParams } from './schemas.js';

export const EndpointPath = Type.Object(
  {
    project_id: ProjectParams.properties.project_id,
    endpoint_slug: Type.String({ pattern: '^[a-z0-9][a-z0-9-]{0,62}$' }),
  },
  { additionalProperties: false },
);

export const FreeObject = Type.Record(Type.String(), Type.Unknown());

const Nullable = <T extends Parameters<typeof Type.Optional>[0]>(schema: T) =>
  Type.Optional(Type.Union([schema, Type.Null()]));

/** Fields both inference APIs take, with OpenAI's ranges. */
export const InferenceParameters = {
  model: Type.Optional(Type.String({ minLength: 1, maxLength: 256 })),
  stream: Nullable(Type.Boolean()),
  tools: Type.Optional(Type.Array(FreeObject, { maxItems: 128 })),
  temperature: Nullable(Type.Number({ minimum: 0, maximum: 2 })),
  top_p: Nullable(Type.Number({ minimum: 0, maximum: 1 })),
  parallel_tool_calls: Nullable(Type.Boolean()),
  prompt_cache_key: Type.Optional(Type.String({ maxLength: 256 })),
  service_tier: Nullable(Type.String({ maxLength: 64 })),
  metadata: Nullable(Type.Record(Type.String(), Type.String({ maxLength: 512 }), { maxProperties: 16 })),
  store: Nullable(Type.Boolean()),
  user: Type.Optional(Type.String({ maxLength: 256 })),
};
