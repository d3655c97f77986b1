import type * as pulumi from '@pulumi/pulumi';

/**
 * The resource options mocks never receive (dependsOn, parent, provider, protect, ignoreChanges,
 * customTimeouts), recorded by a stack transformation as the SDK constructs each resource, and
 * the ordering they imply. The SDK registers a resource only after awaiting its parent's and
 * provider's registration and every explicit dependency; a dependency on a component waits for
 * all of its descendants. So "A waits for B" is decidable here, and a removed dependsOn shows.
 * Implicit dependencies through input Outputs are not followed: ordering the platform relies on
 * is declared explicitly.
 */
export interface RecordedOptions {
  readonly key: string;
  readonly type: string;
  readonly name: string;
  readonly parent?: string;
  readonly provider?: string;
  readonly dependsOn: readonly string[];
  readonly protect?: boolean;
  readonly ignoreChanges?: readonly string[];
  readonly customTimeouts?: { readonly create?: string; readonly update?: string; readonly delete?: string };
  readonly deleteBeforeReplace?: boolean;
}

export const keyOf = (type: string, name: string) => `${type}::${name}`;

export class ResourceGraph {
  private readonly nodes = new Map<string, RecordedOptions>();
  private readonly children = new Map<string, string[]>();
  private readonly keys = new WeakMap<object, string>();

  /** The transformation to register (pulumi.runtime.registerStackTransformation). */
  readonly transformation: pulumi.ResourceTransformation = (args) => {
    const key = keyOf(args.type, args.name);
    this.keys.set(args.resource, key);
    const opts = args.opts as pulumi.CustomResourceOptions & pulumi.ComponentResourceOptions;
    const parent = opts.parent ? this.keys.get(opts.parent) : undefined;
    const provider = opts.provider ? this.keys.get(opts.provider) : undefined;
    const dependsOn = ([] as unknown[])
      .concat(opts.dependsOn ?? [])
      .flatMap((dependency) => this.keys.get(dependency as object) ?? []);
    this.nodes.set(key, {
      key,
      type: args.type,
      name: args.name,
      dependsOn,
      ...(parent ? { parent } : {}),
      ...(provider ? { provider } : {}),
      ...(opts.protect !== undefined ? { protect: opts.protect } : {}),
      ...(opts.ignoreChanges ? { ignoreChanges: opts.ignoreChanges } : {}),
      ...(opts.customTimeouts ? { customTimeouts: opts.customTimeouts } : {}),
      ...(opts.deleteBeforeReplace !== undefined ? { deleteBeforeReplace: opts.deleteBeforeReplace } : {}),
    });
    if (parent) this.children.set(parent, [...(this.children.get(parent) ?? []), key]);
    return undefined;
  };

  get(type: string, name: string): RecordedOptions | undefined {
    return this.nodes.get(keyOf(type, name));
  }

  all(): RecordedOptions[] {
    return [...this.nodes.values()];
  }

  /** Whether `a` is registered only after `b` (and, when `b` is a component, all of b's descendants) is done. */
  waitsFor(a: RecordedOptions, b: RecordedOptions): boolean {
    const reached = new Set<string>();
    this.registration(a.key, reached);
    reached.delete(a.key);
    return reached.has(b.key);
  }

  /** What must be done before `key` registers: its dependencies (whole), its parent's and provider's registration. */
  private registration(key: string, reached: Set<string>): void {
    if (reached.has(`r:${key}`)) return;
    reached.add(`r:${key}`);
    const node = this.nodes.get(key);
    if (!node) return;
    for (const dependency of node.dependsOn) this.completion(dependency, reached);
    if (node.parent) this.registration(node.parent, reached);
    if (node.provider) this.completion(node.provider, reached);
  }

  private completion(key: string, reached: Set<string>): void {
    reached.add(key);
    this.registration(key, reached);
    for (const child of this.children.get(key) ?? []) if (!reached.has(child)) this.completion(child, reached);
  }
}
