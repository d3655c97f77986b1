import { createHash } from 'node:crypto';
import { Ajv, type ValidateFunction } from 'ajv';
import { isRisk, riskRank, stricterRisk, type Risk } from '../../protocol/request-hash.js';

/** A tool as one XEM agent's manifest describes it. */
export interface ToolDescriptor {
  readonly name: string;
  readonly description: string;
  readonly risk: Risk;
  readonly domain?: string;
  readonly bundle?: string;
  readonly bundle_version?: string;
  readonly parameters: Record<string, unknown>;
  readonly timeout_ms: number;
  readonly requires_credentials?: boolean;
  readonly available?: boolean;
}

/** One bound agent's offer of a tool, as the catalog compares them. */
export interface ToolOffer {
  readonly agent_id: string;
  readonly status: string;
  readonly exec_paused: boolean;
  readonly available: boolean;
  readonly risk: Risk;
  readonly bundle: string | null;
  readonly bundle_version: string | null;
  readonly parameters_sha256: string;
}

export type ConflictField = 'risk' | 'parameters' | 'bundle_version';

/** Bound agents disagree about a tool; `signature` names this exact disagreement. */
export interface ToolConflict {
  readonly fields: readonly ConflictField[];
  readonly offers: readonly ToolOffer[];
  readonly signature: string;
}

export interface RiskOverride {
  readonly risk: Risk;
  readonly reason: string | null;
}

/** A workspace's tool as the router decides it, from every bound agent serving the workspace. */
export interface CatalogTool extends ToolDescriptor {
  /** The strictest risk any bound agent declares. */
  readonly declared_risk: Risk;
  readonly override: RiskOverride | null;
  /** Every distinct parameter schema the offers carry: arguments must satisfy each. */
  readonly parameter_schemas: readonly Record<string, unknown>[];
  /** Agents offering it now: active, not paused, tool available. */
  readonly online_agents: number;
  readonly agents: readonly ToolOffer[];
  readonly conflict: ToolConflict | null;
}

/** A bound, live XEM agent serving the workspace, with its manifest (as the store reads it). */
export interface BoundManifestRow {
  readonly id: string;
  readonly status: string;
  readonly exec_paused: boolean;
  readonly manifest: Record<string, unknown> | null;
}

interface Offered {
  readonly offer: ToolOffer;
  readonly descriptor: ToolDescriptor;
}

/**
 * The tools of one workspace, decided by the router alone: only agents the operator bound to
 * the workspace (and that serve it) contribute; where they disagree the strictest risk wins and
 * the disagreement is kept; an operator's override can raise a risk, never lower it. Anything
 * malformed fails closed (an unknown risk counts as irreversible, a missing schema accepts
 * nothing). Pure: the store supplies rows, the HTTP layer shapes the answer.
 */
export function buildCatalog(
  rows: readonly BoundManifestRow[],
  overrides: ReadonlyMap<string, RiskOverride> = new Map(),
): Map<string, CatalogTool> {
  const offered = new Map<string, Offered[]>();
  for (const row of rows) {
    for (const descriptor of descriptorsOf(row.manifest)) {
      const list = offered.get(descriptor.name) ?? [];
      list.push({ descriptor, offer: offerOf(row, descriptor) });
      offered.set(descriptor.name, list);
    }
  }
  const catalog = new Map<string, CatalogTool>();
  for (const [name, offers] of offered) catalog.set(name, decide(offers, overrides.get(name) ?? null));
  return catalog;
}

function decide(offers: readonly Offered[], override: RiskOverride | null): CatalogTool {
  const declared = offers.map((item) => item.offer.risk).reduce(stricterRisk);
  const leading = offers.find((item) => item.offer.risk === declared)!.descriptor;
  const schemas = new Map(offers.map((item) => [item.offer.parameters_sha256, item.descriptor.parameters]));
  const online = offers.filter(
    ({ offer }) => offer.status === 'active' && !offer.exec_paused && offer.available,
  ).length;
  return {
    ...leading,
    risk: override ? stricterRisk(declared, override.risk) : declared,
    declared_risk: declared,
    override,
    timeout_ms: Math.min(...offers.map((item) => item.descriptor.timeout_ms)),
    parameter_schemas: [...schemas.values()],
    online_agents: online,
    agents: offers.map((item) => item.offer),
    conflict: conflictOf(offers.map((item) => item.offer)),
  };
}

function conflictOf(offers: readonly ToolOffer[]): ToolConflict | null {
  const differs = (pick: (offer: ToolOffer) => unknown) => new Set(offers.map(pick)).size > 1;
  const fields = (
    [
      ['risk', (o: ToolOffer) => o.risk],
      ['parameters', (o: ToolOffer) => o.parameters_sha256],
      ['bundle_version', (o: ToolOffer) => o.bundle_version],
    ] as const
  )
    .filter(([, pick]) => differs(pick))
    .map(([field]) => field);
  if (fields.length === 0) return null;
  const sorted = [...offers].sort((a, b) => a.agent_id.localeCompare(b.agent_id));
  const signature = sha256(
    JSON.stringify(sorted.map((o) => [o.agent_id, o.risk, o.parameters_sha256, o.bundle_version])),
  );
  return { fields, offers: sorted, signature };
}

function descriptorsOf(manifest: Record<string, unknown> | null): ToolDescriptor[] {
  const tools = manifest?.['tools'];
  if (!Array.isArray(tools)) return [];
  return tools.flatMap((raw): ToolDescriptor[] => {
    if (typeof raw !== 'object' || raw === null || typeof (raw as { name?: unknown }).name !== 'string') return [];
    const tool = raw as Partial<ToolDescriptor> & { name: string; risk?: unknown };
    const parameters = typeof tool.parameters === 'object' && tool.parameters !== null ? tool.parameters : { not: {} };
    const timeout = typeof tool.timeout_ms === 'number' && tool.timeout_ms > 0 ? tool.timeout_ms : 60_000;
    return [
      {
        ...tool,
        description: String(tool.description ?? ''),
        risk: isRisk(tool.risk) ? tool.risk : 'irreversible',
        parameters,
        timeout_ms: timeout,
      },
    ];
  });
}

function offerOf(row: BoundManifestRow, descriptor: ToolDescriptor): ToolOffer {
  return {
    agent_id: row.id,
    status: row.status,
    exec_paused: row.exec_paused,
    available: descriptor.available !== false,
    risk: descriptor.risk,
    bundle: descriptor.bundle ?? null,
    bundle_version: descriptor.bundle_version ?? null,
    parameters_sha256: sha256(JSON.stringify(descriptor.parameters)),
  };
}

/** True when an agent declaring `declared` may run a call the router classified as `risk`. */
export function mayRunAt(declared: Risk, risk: Risk): boolean {
  return riskRank(declared) <= riskRank(risk);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Validates call arguments against a tool's JSON Schemas; compiled schemas are kept by content. */
export class ArgumentValidator {
  private readonly ajv = new Ajv({ strict: false, allErrors: false });
  private readonly compiled = new Map<string, ValidateFunction>();

  /** undefined when valid against every schema; otherwise where and what is wrong (the first). */
  check(
    schemas: Record<string, unknown> | readonly Record<string, unknown>[],
    args: Record<string, unknown>,
  ): { path: string; message: string } | undefined {
    for (const parameters of Array.isArray(schemas) ? schemas : [schemas]) {
      const problem = this.checkOne(parameters as Record<string, unknown>, args);
      if (problem) return problem;
    }
    return undefined;
  }

  private checkOne(
    parameters: Record<string, unknown>,
    args: Record<string, unknown>,
  ): { path: string; message: string } | undefined {
    const validate = this.compile(parameters);
    if (validate(args)) return undefined;
    const first = validate.errors?.[0];
    const missing =
      first?.keyword === 'required' ? `/${String((first.params as { missingProperty?: string }).missingProperty)}` : '';
    const unknown =
      first?.keyword === 'additionalProperties'
        ? `/${String((first.params as { additionalProperty?: string }).additionalProperty)}`
        : '';
    const path = `args${(first?.instancePath ?? '') + missing + unknown}`.replaceAll('/', '.');
    return { path, message: `${path} ${first?.message ?? 'does not match the tool parameters'}` };
  }

  private compile(parameters: Record<string, unknown>): ValidateFunction {
    const key = sha256(JSON.stringify(parameters));
    let validate = this.compiled.get(key);
    if (!validate) {
      try {
        validate = this.ajv.compile(parameters);
      } catch {
        // A schema ajv cannot compile accepts nothing: fail closed.
        validate = this.ajv.compile({ not: {} });
      }
      if (this.compiled.size > 1_000) this.compiled.clear();
      this.compiled.set(key, validate);
    }
    return validate;
  }
}
