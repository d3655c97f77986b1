import type { Ajv } from 'ajv';
import { wireProblem } from '../../protocol/wire-safety.js';

/**
 * The `wireSafe` schema keyword: a body marked with it must be something the mesh can carry
 * (protocol/wire-safety.ts). Bodies that become frames (tool arguments, manifests, inference
 * requests) are refused at the HTTP boundary with a 400 naming the value, instead of failing
 * later as a 500 or a call stuck in the queue.
 */
export function wireSafeKeyword(ajv: Ajv): Ajv {
  ajv.addKeyword({
    keyword: 'wireSafe',
    schemaType: 'boolean',
    errors: true,
    validate: function check(this: unknown, enabled: boolean, data: unknown) {
      if (!enabled) return true;
      const problem = wireProblem(data);
      if (!problem) return true;
      (check as unknown as { errors: object[] }).errors = [
        { keyword: 'wireSafe', instancePath: problem.path, message: problem.message, params: {} },
      ];
      return false;
    },
  });
  return ajv;
}
