import { ApiError } from '../http/errors.js';
import type { CatalogTool } from '../exec/tool-catalog.js';
import type { WorkspaceCatalogs } from '../exec/workspace-catalog.js';
import type { Queryable } from '../store/db.js';
import { findWorkspace } from '../store/workspaces.js';
import { BUILTIN_LABEL, builtinRegistry, type Builtin } from './builtins.js';
import { SUBPLAN_DESCRIPTION, SUBPLAN_PARAMETERS, SUBPLAN_TOOL } from './subplan.js';

/** A workspace offered to the model as a Responses `mcp` tool: its XEM tools, run by the router. */
export interface WorkspaceServer {
  readonly kind: 'workspace';
  readonly label: string;
  readonly workspaceId: string;
  readonly tools: readonly CatalogTool[];
  /** Tools the client wants a person to approve even where the workspace would not (stricter only). */
  readonly alwaysApprove: ReadonlySet<string>;
}

/** The router's own tools (`x_*`), offered under the reserved label `xerotier`. */
export interface BuiltinServer {
  readonly kind: 'builtin';
  readonly label: typeof BUILTIN_LABEL;
  readonly tools: readonly OfferedTool[];
  readonly builtins: ReadonlyMap<string, Builtin>;
}

export type OfferedServer = WorkspaceServer | BuiltinServer;

/** What the model and the client see of a tool. */
type OfferedTool = Pick<CatalogTool, 'name' | 'description' | 'risk' | 'parameters' | 'parameter_schemas'>;

type McpTool = Record<string, unknown> & { type: 'mcp' };

export const isMcpTool = (tool: Record<string, unknown>): tool is McpTool => tool['type'] === 'mcp';

/**
 * The `mcp` tools of a request, each naming a workspace of the project by id or name in
 * `server_label` (a remote `server_url` is not this router's to call). `allowed_tools` narrows
 * the list; `require_approval` can only add approvals — "never" cannot lift the workspace's gate.
 */
export async function offeredServers(
  db: Queryable,
  catalogs: WorkspaceCatalogs,
  projectId: string,
  tools: readonly Record<string, unknown>[],
): Promise<OfferedServer[]> {
  const servers: OfferedServer[] = [];
  for (const [index, tool] of tools.entries()) {
    if (!isMcpTool(tool)) continue;
    const label = tool['server_label'];
    const param = `tools[${index}].server_label`;
    if (tool['server_url'] !== undefined || tool['connector_id'] !== undefined)
      throw new ApiError(
        'invalid_parameter',
        'mcp tools name a workspace of this project in server_label; server_url and connectors are not supported',
        `tools[${index}]`,
      );
    if (typeof label !== 'string') throw new ApiError('invalid_parameter', 'an mcp tool needs a server_label', param);
    if (label === BUILTIN_LABEL) {
      servers.push(builtinServer(names(tool['allowed_tools'])));
      continue;
    }
    // A parked turn's tools are pinned to the workspace they named then (x_workspace_id).
    const pinned = typeof tool['x_workspace_id'] === 'string' ? tool['x_workspace_id'] : undefined;
    const workspace = await workspaceNamed(db, projectId, pinned ?? label);
    if (!workspace)
      throw new ApiError('invalid_parameter', `No workspace "${label.slice(0, 64)}" in this project`, param);
    const allowed = names(tool['allowed_tools']);
    const catalog = [...(await catalogs.get(projectId, workspace)).values()]
      .filter((entry) => !allowed || allowed.has(entry.name))
      .sort((a, b) => a.name.localeCompare(b.name));
    servers.push({
      kind: 'workspace',
      label,
      workspaceId: workspace,
      tools: catalog,
      alwaysApprove: new Set([
        ...alwaysApproved(tool['require_approval'], catalog),
        ...stricterBy(tool['x_approval_policy'], catalog),
      ]),
    });
  }
  const seen = new Set<string>();
  for (const tool of servers.flatMap((server) => server.tools)) {
    if (seen.has(tool.name))
      throw new ApiError('invalid_parameter', `Tool ${tool.name} is offered by two mcp tools`, 'tools');
    seen.add(tool.name);
  }
  return servers;
}

function builtinServer(allowed: Set<string> | undefined): BuiltinServer {
  const builtins = new Map([...builtinRegistry()].filter(([name]) => !allowed || allowed.has(name)));
  const tools = [...builtins.values()].map((builtin) => ({
    name: builtin.name,
    description: builtin.description,
    risk: builtin.risk,
    parameters: builtin.parameters,
    parameter_schemas: [builtin.parameters],
  }));
  // The subplan is the partitioner's own (it runs a loop, not a query), offered beside the built-ins.
  if (!allowed || allowed.has(SUBPLAN_TOOL))
    tools.push({
      name: SUBPLAN_TOOL,
      description: SUBPLAN_DESCRIPTION,
      risk: 'read',
      parameters: SUBPLAN_PARAMETERS,
      parameter_schemas: [SUBPLAN_PARAMETERS],
    });
  return { kind: 'builtin', label: BUILTIN_LABEL, tools, builtins };
}

export async function workspaceNamed(db: Queryable, projectId: string, label: string): Promise<string | undefined> {
  if (/^ws_[0-9a-f]{12,48}$/.test(label)) return (await findWorkspace(db, projectId, label))?.id;
  const found = await db.query<{ id: string }>('SELECT id FROM workspaces WHERE project_id = $1 AND name = $2', [
    projectId,
    label,
  ]);
  return found.rows[0]?.id;
}

function names(value: unknown): Set<string> | undefined {
  if (Array.isArray(value)) return new Set(value.filter((entry): entry is string => typeof entry === 'string'));
  if (value && typeof value === 'object' && Array.isArray((value as { tool_names?: unknown }).tool_names))
    return names((value as { tool_names: unknown[] }).tool_names);
  return undefined;
}

/**
 * A chat template's approval policy (docs/templates.md), on top of the workspace's: `elevated`
 * has a person approve write calls too, `restricted` every call, reads included. Only stricter:
 * destructive and irreversible calls already wait for people.
 */
export function stricterBy(policy: unknown, tools: readonly OfferedTool[]): string[] {
  const risks = policy === 'restricted' ? ['read', 'write'] : policy === 'elevated' ? ['write'] : [];
  return tools.filter((tool) => risks.includes(tool.risk)).map((tool) => tool.name);
}

function alwaysApproved(value: unknown, tools: readonly OfferedTool[]): Set<string> {
  if (value === 'always') return new Set(tools.map((tool) => tool.name));
  if (value && typeof value === 'object') return names((value as { always?: unknown }).always) ?? new Set();
  return new Set();
}

/**
 * The request's tools, with the endpoint's workspace (`defaults.workspace`) offered as an `mcp`
 * tool when the request names none itself: plain requests to such an endpoint get its tools.
 */
export function withEndpointTools<T extends { tools?: Record<string, unknown>[] }>(body: T, workspace?: string): T {
  if (!workspace || (body.tools ?? []).some(isMcpTool)) return body;
  return { ...body, tools: [...(body.tools ?? []), { type: 'mcp', server_label: workspace }] };
}

/** The engine's view of the offered tools: plain function tools. */
export function engineTools(servers: readonly OfferedServer[]): Record<string, unknown>[] {
  return servers.flatMap((server) =>
    server.tools.map((tool) => ({
      type: 'function',
      name: tool.name,
      description: tool.description,
      parameters: tool.parameter_schemas[0] ?? tool.parameters,
    })),
  );
}

/** The `mcp_list_tools` item OpenAI emits first for a remote MCP server. */
export function listToolsItem(server: OfferedServer, id: string) {
  return {
    id,
    type: 'mcp_list_tools' as const,
    server_label: server.label,
    tools: server.tools.map((tool) => ({
      name: tool.name,
      description: tool.description,
      input_schema: tool.parameter_schemas[0] ?? tool.parameters,
      annotations: { risk: tool.risk, read_only: tool.risk === 'read' },
    })),
    error: null,
  };
}
