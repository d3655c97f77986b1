import { resolve } from 'node:path';
import { Client } from '@modelcontextprotocol/sdk/client/index.js';
import { StdioClientTransport } from '@modelcontextprotocol/sdk/client/stdio.js';
import { Ajv } from 'ajv';
import type { McpServerSpec, Risk } from '../bundles/bundle-schema.js';
import { TOOL_NAME } from '../bundles/bundle-schema.js';
import type { BundleProblem, LoadedTool, McpBundle } from '../bundles/loader.js';

export interface McpAnnotations {
  readonly readOnlyHint?: boolean;
  readonly destructiveHint?: boolean;
}

/**
 * A tool's risk from its MCP annotations: read-only is `read`; explicitly not destructive is
 * `write`; anything else, including no annotations at all, is `destructive` (the MCP default
 * for destructiveHint is true). The bundle's override wins over the server's hints.
 */
export function riskFromAnnotations(annotations: McpAnnotations | undefined, override?: Risk): Risk {
  if (override) return override;
  if (annotations?.readOnlyHint === true) return 'read';
  if (annotations?.destructiveHint === false) return 'write';
  return 'destructive';
}

const VALID_NAME = new RegExp(TOOL_NAME);

/** Starts each bundle's MCP server once, lists its tools and turns them into runnable tools. */
export async function discoverMcpTools(
  bundles: readonly McpBundle[],
  env: NodeJS.ProcessEnv,
): Promise<{ tools: LoadedTool[]; problems: BundleProblem[] }> {
  const tools: LoadedTool[] = [];
  const problems: BundleProblem[] = [];
  // MCP servers publish plain JSON Schema with keywords of their own: validate, do not lint.
  const ajv = new Ajv({ strict: false, allErrors: false });
  for (const bundle of bundles) {
    try {
      const listed = await withClient(
        bundle.server,
        bundle.bundleDir,
        env,
        AbortSignal.timeout(bundle.server.timeout_ms),
        (client) => client.listTools(),
      );
      for (const tool of listed.tools) {
        if (!VALID_NAME.test(tool.name)) {
          problems.push({
            file: bundle.file,
            tool: tool.name.slice(0, 64),
            message: `MCP tool names must match ${TOOL_NAME} to be offered`,
          });
          continue;
        }
        const risk = riskFromAnnotations(tool.annotations, bundle.server.overrides?.[tool.name]?.risk);
        const parameters = tool.inputSchema as Record<string, unknown>;
        tools.push({
          bundle: bundle.bundle,
          ...(bundle.bundleVersion ? { bundleVersion: bundle.bundleVersion } : {}),
          domain: bundle.domain,
          bundleDir: bundle.bundleDir,
          validateArgs: ajv.compile(parameters),
          spec: {
            name: tool.name,
            description: tool.description ?? tool.name,
            risk,
            parameters,
            timeout_ms: bundle.server.timeout_ms,
            ...(bundle.server.credentials_ref ? { credentials_ref: bundle.server.credentials_ref } : {}),
          },
          mcp: { server: bundle.server, tool: tool.name },
        });
      }
    } catch (error) {
      problems.push({
        file: bundle.file,
        field: 'mcp',
        message: `could not list the MCP server's tools: ${(error as Error).message}`,
      });
    }
  }
  return { tools, problems };
}

export interface McpCallOutcome {
  readonly isError: boolean;
  readonly output: string;
  readonly timedOut: boolean;
  readonly cancelled: boolean;
}

/** Calls one tool on a fresh server process (no state shared between calls or workspaces). */
export async function callMcpTool(
  tool: LoadedTool,
  args: Record<string, unknown>,
  env: NodeJS.ProcessEnv,
  timeoutMs: number,
  signal: AbortSignal,
): Promise<McpCallOutcome> {
  const deadline = AbortSignal.timeout(timeoutMs);
  const both = AbortSignal.any([signal, deadline]);
  try {
    const result = await withClient(tool.mcp!.server, tool.bundleDir, env, both, (client) =>
      client.callTool({ name: tool.mcp!.tool, arguments: args }, undefined, { signal: both, timeout: timeoutMs }),
    );
    const content = (result.content ?? []) as { type: string; text?: string }[];
    const output = content.map((part) => (part.type === 'text' ? (part.text ?? '') : `[${part.type}]`)).join('\n');
    return { isError: result.isError === true, output, timedOut: false, cancelled: false };
  } catch (error) {
    if (deadline.aborted || signal.aborted)
      return { isError: true, output: '', timedOut: deadline.aborted, cancelled: signal.aborted };
    throw error;
  }
}

async function withClient<T>(
  server: McpServerSpec,
  bundleDir: string,
  env: NodeJS.ProcessEnv,
  signal: AbortSignal,
  fn: (client: Client) => Promise<T>,
): Promise<T> {
  const transport = new StdioClientTransport({
    command: server.argv[0]!,
    args: server.argv.slice(1),
    cwd: resolve(bundleDir),
    stderr: 'ignore',
    env: Object.fromEntries(
      Object.entries({ ...env, ...server.env }).filter((entry): entry is [string, string] => entry[1] !== undefined),
    ),
  });
  const client = new Client({ name: 'xerotier-xem-agent', version: '0.1.0' });
  const abort = () => void client.close();
  signal.addEventListener('abort', abort, { once: true });
  try {
    await client.connect(transport, { signal });
    return await fn(client);
  } finally {
    signal.removeEventListener('abort', abort);
    await client.close();
  }
}
