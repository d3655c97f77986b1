import type * as k8s from '@pulumi/kubernetes';
import type * as pulumi from '@pulumi/pulumi';
import type { ConfigSchema, KeySpecs, SchemaShape } from '../services/runtime/config/spec.js';

/** A value from a Kubernetes Secret (never inline): the Secret's name and key. */
export interface FromSecret {
  readonly secretName: pulumi.Input<string>;
  readonly key: string;
}

export type EnvSetting = pulumi.Input<string> | FromSecret;

/**
 * A container's environment for a service, written with the service's own setting names: the
 * variable names come from its config schema, so a renamed setting is a type error here and a
 * renamed variable follows by itself. Secret settings must come from a Secret.
 */
export function serviceEnv<K extends KeySpecs>(
  schema: ConfigSchema<K>,
  settings: { readonly [P in keyof K]?: EnvSetting },
): k8s.types.input.core.v1.EnvVar[] {
  return Object.entries(settings).flatMap(([key, value]): k8s.types.input.core.v1.EnvVar[] => {
    if (value === undefined) return [];
    const spec = schema.keys[key as keyof K]!;
    if (isFromSecret(value))
      return [{ name: spec.env, valueFrom: { secretKeyRef: { name: value.secretName, key: value.key } } }];
    if (spec.secret)
      throw new Error(
        `${schema.service}: ${key} (${spec.env}) is a secret setting: pass it from a Kubernetes Secret, not inline`,
      );
    return [{ name: spec.env, value: value as pulumi.Input<string> }];
  });
}

/** The settings a service refuses to start without (for checks and tests). */
export function requiredSettings(schema: SchemaShape): string[] {
  return Object.entries(schema.keys)
    .filter(([, spec]) => spec.required)
    .map(([key]) => key);
}

function isFromSecret(value: EnvSetting): value is FromSecret {
  return typeof value === 'object' && value !== null && 'secretName' in value && 'key' in value;
}
