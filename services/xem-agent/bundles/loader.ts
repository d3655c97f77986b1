import { existsSync, lstatSync, readdirSync, readFileSync, realpathSync } from 'node:fs';
import { join, sep } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { Compile } from 'typebox/compile';
import { parse } from 'yaml';
import { BUNDLE_NAME, BundleSpec, type McpServerSpec, type ToolSpec } from './bundle-schema.js';
import { checkArgvTemplate } from '../executors/argv.js';
import { checkHttpTemplate } from '../executors/http.js';

/** A tool's description as the agent offers it; `command` for command tools only. */
export type LoadedToolSpec = Omit<ToolSpec, 'command'> & { readonly command?: ToolSpec['command'] };

/** A tool ready to run: its spec, the bundle it came from and its compiled parameter validator. */
export interface LoadedTool {
  readonly bundle: string;
  /** The bundle's `version`: bound agents disagreeing about it is a conflict the router shows. */
  readonly bundleVersion?: string;
  readonly domain: string;
  readonly spec: LoadedToolSpec;
  readonly bundleDir: string;
  readonly validateArgs: ValidateFunction;
  /** Set for tools an MCP server provides: the server, and the tool's name there. */
  readonly mcp?: { readonly server: McpServerSpec; readonly tool: string };
  /** Set for the agent's built-in tools that call the router back. */
  readonly callback?: 'deep_think';
  /** Why the tool cannot run here (an error code); it is still listed, marked unavailable. */
  readonly unavailable?: string;
}

/** A bundle's MCP server, whose tools are listed (asynchronously) after the bundles load. */
export interface McpBundle {
  readonly bundle: string;
  readonly bundleVersion?: string;
  readonly domain: string;
  readonly bundleDir: string;
  readonly file: string;
  readonly server: McpServerSpec;
}

export interface BundleProblem {
  /** The file (or directory) concerned, relative to the tools root. */
  readonly file: string;
  readonly tool?: string;
  readonly field?: string;
  readonly message: string;
}

const validateBundle = Compile(BundleSpec);

/**
 * Loads every bundle under the tools root. A bad bundle is reported and skipped; the others
 * load. Names are allowlisted before any file system call on them, and every real path must stay
 * under the root (no symlinks out, no `..`).
 */
export function loadBundles(toolsRoot: string): {
  tools: Map<string, LoadedTool>;
  mcp: McpBundle[];
  problems: BundleProblem[];
} {
  const tools = new Map<string, LoadedTool>();
  const mcp: McpBundle[] = [];
  const problems: BundleProblem[] = [];
  if (!existsSync(toolsRoot))
    return {
      tools,
      mcp,
      problems: [{ file: toolsRoot, message: 'the tools directory does not exist: no tools are offered' }],
    };
  const root = realpathSync(toolsRoot);
  const ajv = new Ajv({ strict: true, allErrors: false });
  for (const entry of readdirSync(root)) {
    if (entry.startsWith('.')) continue;
    if (!BUNDLE_NAME.test(entry)) {
      problems.push({
        file: JSON.stringify(entry).slice(0, 80),
        message: 'bundle directory names must match ^[a-z0-9][a-z0-9_-]{0,63}$',
      });
      continue;
    }
    try {
      const loaded = loadBundle(root, entry, ajv);
      if (loaded.mcp) mcp.push(loaded.mcp);
      for (const tool of loaded.tools) offerTool(tools, tool, problems);
    } catch (error) {
      if (error instanceof BundleError) problems.push(error.problem);
      else throw error;
    }
  }
  return { tools, mcp, problems };
}

/** Adds a tool unless its name is taken: tool names are unique across bundles. */
export function offerTool(tools: Map<string, LoadedTool>, tool: LoadedTool, problems: BundleProblem[]): void {
  const clash = tools.get(tool.spec.name);
  if (clash)
    problems.push({
      file: `${tool.bundle}/bundle.yaml`,
      tool: tool.spec.name,
      message: `tool name already defined by bundle ${clash.bundle}`,
    });
  else tools.set(tool.spec.name, tool);
}

class BundleError extends Error {
  constructor(readonly problem: BundleProblem) {
    super(problem.message);
  }
}

function loadBundle(root: string, entry: string, ajv: Ajv): { tools: LoadedTool[]; mcp?: McpBundle } {
  const file = `${entry}/bundle.yaml`;
  const dir = insideRoot(root, join(root, entry), entry);
  if (!lstatSync(dir).isDirectory()) throw new BundleError({ file: entry, message: 'not a directory' });
  const path = insideRoot(root, join(dir, 'bundle.yaml'), file);
  let document: unknown;
  try {
    document = parse(readFileSync(path, 'utf8'), { uniqueKeys: true });
  } catch (error) {
    throw new BundleError({ file, message: `not valid YAML: ${(error as Error).message.split('\n')[0]}` });
  }
  if (!validateBundle.Check(document)) throw new BundleError({ file, ...describeSchemaError(document) });
  const bundle = document;
  if (bundle.name !== entry)
    throw new BundleError({
      file,
      field: 'name',
      message: `bundle name "${bundle.name}" must equal its directory name`,
    });
  if (!bundle.tools && !bundle.mcp)
    throw new BundleError({ file, field: 'tools', message: 'a bundle needs tools, an mcp server, or both' });
  const tools = (bundle.tools ?? []).map((spec) => ({
    bundle: bundle.name,
    bundleVersion: String(bundle.version),
    domain: bundle.domain,
    spec,
    bundleDir: dir,
    validateArgs: compileParameters(ajv, file, spec),
  }));
  return {
    tools,
    ...(bundle.mcp
      ? {
          mcp: {
            bundle: bundle.name,
            bundleVersion: String(bundle.version),
            domain: bundle.domain,
            bundleDir: dir,
            file,
            server: bundle.mcp,
          },
        }
      : {}),
  };
}

function compileParameters(ajv: Ajv, file: string, spec: ToolSpec): ValidateFunction {
  if (spec.parameters['type'] !== 'object')
    throw new BundleError({
      file,
      tool: spec.name,
      field: 'parameters',
      message: 'parameters must be a JSON Schema of type object',
    });
  let validate: ValidateFunction;
  try {
    validate = ajv.compile(spec.parameters);
  } catch (error) {
    throw new BundleError({
      file,
      tool: spec.name,
      field: 'parameters',
      message: `invalid JSON Schema: ${(error as Error).message}`,
    });
  }
  if ((spec.command === undefined) === (spec.http === undefined))
    throw new BundleError({
      file,
      tool: spec.name,
      field: 'command',
      message: 'a tool needs exactly one executor: command or http',
    });
  const declared = Object.keys((spec.parameters['properties'] as Record<string, unknown> | undefined) ?? {});
  const problem = spec.command
    ? checkArgvTemplate(spec.command.argv, declared)
    : checkHttpTemplate(spec.http!, declared);
  if (problem)
    throw new BundleError({ file, tool: spec.name, field: spec.command ? 'command.argv' : 'http', message: problem });
  return validate;
}

function insideRoot(root: string, path: string, shown: string): string {
  let real: string;
  try {
    real = realpathSync(path);
  } catch {
    throw new BundleError({ file: shown, message: 'missing' });
  }
  if (real !== root && !real.startsWith(root + sep))
    throw new BundleError({ file: shown, message: 'resolves outside the tools directory' });
  return real;
}

// Names the tool (by index and name) and the field, never dumping the document.
function describeSchemaError(document: unknown): { tool?: string; field?: string; message: string } {
  const error = [...validateBundle.Errors(document)].find((candidate) => candidate.keyword !== 'boolean');
  const path = error?.instancePath ?? '';
  const match = /^\/tools\/(\d+)(\/.*)?$/.exec(path);
  if (match) {
    const tools = (document as { tools?: { name?: unknown }[] }).tools;
    const name = tools?.[Number(match[1])]?.name;
    return {
      tool: typeof name === 'string' ? name : `#${match[1]}`,
      field: (match[2] ?? '/').slice(1).replaceAll('/', '.') || '(tool)',
      message: error?.message ?? 'invalid',
    };
  }
  return { field: path.slice(1).replaceAll('/', '.') || '(bundle)', message: error?.message ?? 'invalid' };
}
