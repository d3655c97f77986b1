import { isSecure } from './stack-file.js';

/**
 * The Pulumi CLI's config rules, applied offline to `Pulumi.yaml` and a stack file: what the CLI
 * checks before it runs the program, which the Node SDK never sees (it gets config already
 * merged). Emulated from pulumi/pulumi `sdk/go/common/workspace/`: `project.json` (the shape of
 * a `config:` entry), `Project.Validate` (defaults against their type), and `mergeConfig` /
 * `validateStackConfigValue` in `config.go` (a project key with neither value nor default that
 * the stack does not set is "missing"; a typed key's stack value must have its type; a
 * `secret: true` key must be encrypted in the stack, so it cannot usefully have a default).
 */
export interface ProjectFile {
  readonly name: string;
  readonly config?: Readonly<Record<string, unknown>>;
}

const SIMPLE_TYPES = ['string', 'integer', 'boolean', 'array'];
const DECLARATION_FIELDS = ['type', 'items', 'description', 'secret', 'default', 'value'];

interface Declaration {
  readonly type?: string;
  readonly items?: { readonly type: string };
  readonly secret?: boolean;
  readonly default?: unknown;
  readonly value?: unknown;
}

/** Problems the CLI reports for the project file itself (any stack). */
export function projectConfigProblems(project: ProjectFile): string[] {
  return Object.entries(project.config ?? {}).flatMap(([key, entry]) => entryProblems(project.name, key, entry));
}

/** Problems the CLI reports for one stack: `Stack '<name>' is missing configuration …` and type errors. */
export function stackConfigProblems(
  project: ProjectFile,
  stack: string,
  stackConfig: Readonly<Record<string, unknown>>,
): string[] {
  const stackKeys = new Set(Object.keys(stackConfig).map((key) => qualified(project.name, key)));
  const missing: string[] = [];
  const problems: string[] = [];
  for (const [key, entry] of Object.entries(project.config ?? {})) {
    const declaration = asDeclaration(project.name, key, entry);
    const name = qualified(project.name, key);
    const onStack = stackKeys.has(name);
    const projectKey = name.startsWith(`${project.name}:`);
    if (!onStack && declaration.value === undefined && declaration.default === undefined && projectKey)
      missing.push(key);
    if (!projectKey || declaration.type === undefined) continue;
    const raw = onStack
      ? stackConfig[Object.keys(stackConfig).find((candidate) => qualified(project.name, candidate) === name)!]
      : declaration.default;
    if (raw === undefined) continue;
    if (declaration.secret && !isSecure(raw))
      problems.push(`Stack '${stack}' with configuration key '${key}' must be encrypted as it's secret`);
    else if (!isSecure(raw) && !matchesType(declaration, asConfigValue(raw)))
      problems.push(`Stack '${stack}' with configuration key '${key}' must be of type '${declaration.type}'`);
  }
  if (missing.length > 0)
    problems.unshift(
      `Stack '${stack}' is missing configuration ${missing.length === 1 ? 'value' : 'values'} ${missing
        .sort()
        .map((key) => `'${key}'`)
        .join(', ')}`,
    );
  return problems;
}

function entryProblems(project: string, key: string, entry: unknown): string[] {
  if (['string', 'number', 'boolean'].includes(typeof entry)) return [];
  if (typeof entry !== 'object' || entry === null || Array.isArray(entry))
    return [`#/config/${key}: expected a value or a type declaration`];
  const unknown = Object.keys(entry).filter((field) => !DECLARATION_FIELDS.includes(field));
  const declaration = entry as Declaration;
  const problems = unknown.map((field) => `#/config/${key}: '${field}' not allowed`);
  if (declaration.type !== undefined && !SIMPLE_TYPES.includes(declaration.type))
    problems.push(`#/config/${key}/type: must be one of ${SIMPLE_TYPES.join(', ')}`);
  if (declaration.type === 'array' && declaration.items === undefined)
    problems.push(
      `The configuration key '${key}' declares an array but does not specify the underlying type via the 'items' attribute`,
    );
  if (declaration.default !== undefined && declaration.value !== undefined)
    problems.push(`project config '${key}' cannot have both a 'default' and 'value' attribute`);
  if (!qualified(project, key).startsWith(`${project}:`)) {
    if (declaration.type !== undefined)
      problems.push(`Configuration key '${key}' is not namespaced by the project and should not define a type`);
    if (declaration.value === undefined)
      problems.push(`Configuration key '${key}' is namespaced and must provide an attribute 'value'`);
  } else if (
    declaration.type !== undefined &&
    declaration.default !== undefined &&
    !matchesType(declaration, declaration.default)
  ) {
    problems.push(
      `The default value specified for configuration key '${key}' is not of the expected type '${declaration.type}'`,
    );
  }
  if (declaration.secret && declaration.default !== undefined)
    problems.push(`configuration key '${key}' is secret: its default would be stored unencrypted and refused`);
  return problems;
}

/** Shorthand entries: a plain value is a project key's default, or another namespace's value. */
function asDeclaration(project: string, key: string, entry: unknown): Declaration {
  if (typeof entry === 'object' && entry !== null && !Array.isArray(entry)) return entry as Declaration;
  return qualified(project, key).startsWith(`${project}:`) ? { default: entry } : { value: entry };
}

function qualified(project: string, key: string): string {
  return key.includes(':') ? key : `${project}:${key}`;
}

/** The CLI stores primitives as their text and objects and lists as JSON it parses back. */
function asConfigValue(raw: unknown): unknown {
  return typeof raw === 'object' && raw !== null ? raw : String(raw);
}

function matchesType(declaration: Declaration, value: unknown): boolean {
  switch (declaration.type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
      return (
        (typeof value === 'number' && Number.isInteger(value)) || (typeof value === 'string' && /^-?\d+$/.test(value))
      );
    case 'boolean':
      return typeof value === 'boolean' || value === 'true' || value === 'false';
    case 'array':
      return (
        Array.isArray(value) &&
        value.every((item) => matchesType({ type: declaration.items?.type ?? 'string' }, asConfigValue(item)))
      );
    default:
      return true;
  }
}
