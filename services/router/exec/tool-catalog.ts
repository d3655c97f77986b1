import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import type { ExecManifestRow } from '../store/agents.js';
import type { Risk } from './invocation-state.js';

export interface ToolDescriptor {
  readonly name: string;
  readonly description: string;
  readonly risk: Risk;
  readonly domain?: string;
  readonly bundle?: string;
  readonly parameters: Record<string, unknown>;
  readonly timeout_ms: number;
  readonly requires_credentials?: boolean;
  readonly available?: boolean;
}

export interface CatalogTool extends ToolDescriptor {
  /** Agents offering it now: active, not paused, tool available. */
  readonly online_agents: number;
  readonly agents: readonly { agent_id: string; status: string; exec_paused: boolean; workspaces: readonly string[]; available: boolean }[];
}

interface ManifestShape {
  tools?: ToolDescriptor[];
  workspaces?: string[];
}

/**
 * The project's tools as its XEM agents describe them. Rows arrive most recently heard first,
 * so a tool's descriptor is the freshest agent's; `online_agents` says whether anything can run
 * it now. Pure: the store supplies rows, the HTTP layer shapes the answer.
 */
export function buildCatalog(rows: readonly ExecManifestRow[]): Map<string, CatalogTool> {
  const catalog = new Map<string, CatalogTool>();
  for (const row of rows) {
    const manifest = (row.manifest ?? {}) as ManifestShape;
    for (const tool of manifest.tools ?? []) {
      const available = tool.available !== false;
      const entry = { agent_id: row.id, status: row.status, exec_paused: row.exec_paused, workspaces: manifest.workspaces ?? [], available };
      const online = row.status === 'active' && !row.exec_paused && available ? 1 : 0;
      const known = catalog.get(tool.name);
      if (!known) catalog.set(tool.name, { ...tool, online_agents: online, agents: [entry] });
      else catalog.set(tool.name, { ...known, online_agents: known.online_agents + online, agents: [...known.agents, entry] });
    }
  }
  return catalog;
}

/**
 * Catalogs by project, rebuilt only when the agents' fingerprint changes: a cheap query per
 * request instead of reading and parsing every manifest. Never stale: the fingerprint is read
 * each time, so a tool whose risk changed is seen with its new risk at once.
 */
export class CatalogCache {
  private readonly cached = new Map<string, { fingerprint: string; catalog: Map<string, CatalogTool> }>();

  constructor(
    private readonly fingerprint: (projectId: string) => Promise<string>,
    private readonly rows: (projectId: string) => Promise<ExecManifestRow[]>,
  ) {}

  async get(projectId: string): Promise<Map<string, CatalogTool>> {
    const fingerprint = await this.fingerprint(projectId);
    const hit = this.cached.get(projectId);
    if (hit?.fingerprint === fingerprint) return hit.catalog;
    const catalog = buildCatalog(await this.rows(projectId));
    if (this.cached.size > 10_000) this.cached.clear();
    this.cached.set(projectId, { fingerprint, catalog });
    return catalog;
  }
}

/** Validates call arguments against a tool's JSON Schema; compiled schemas are kept by content. */
export class ArgumentValidator {
  private readonly ajv = new Ajv({ strict: false, allErrors: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  /** undefined when valid; otherwise where and what is wrong. */
  check(parameters: Record<string, unknown>, args: Record<string, unknown>): { path: string; message: string } | undefined {
    const validate = this.compile(parameters);
    if (validate(args)) return undefined;
    const first = validate.errors?.[0];
    const missing = first?.keyword === 'required' ? `/${String((first.params as { missingProperty?: string }).missingProperty)}` : '';
    const unknown = first?.keyword === 'additionalProperties' ? `/${String((first.params as { additionalProperty?: string }).additionalProperty)}` : '';
    const path = `args${(first?.instancePath ?? '') + missing + unknown}`.replaceAll('/', '.');
    return { path, message: `${path} ${first?.message ?? 'does not match the tool parameters'}` };
  }

  private compile(parameters: Record<string, unknown>): ValidateFunction {
    const key = createHash('sha256').update(JSON.stringify(parameters)).digest('hex');
    let validate = this.compiled.get(key);
    if (!validate) {
      validate = this.ajv.compile(parameters);
      if (this.compiled.size > 1_000) this.compiled.clear();
      this.compiled.set(key, validate);
    }
    return validate;
  }
}
