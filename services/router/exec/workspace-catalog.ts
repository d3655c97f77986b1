import type { Logger } from '../../runtime/logger.js';
import { appendAudit } from '../store/audit-log.js';
import type { Queryable } from '../store/db.js';
import {
  listBoundManifests,
  listRiskOverrides,
  recordToolConflict,
  workspaceCatalogFingerprint,
} from '../store/tool-offers.js';
import { buildCatalog, type CatalogTool } from './tool-catalog.js';

export interface WorkspaceCatalogOptions {
  readonly logger?: Logger;
  /** A conflict between bound agents was seen for the first time (by any router): count it. */
  readonly onConflict?: (tool: string) => void;
}

const MAX_CACHED = 10_000;

/**
 * Workspace catalogs, rebuilt only when the workspace's fingerprint changes: one cheap query per
 * request instead of reading every manifest, and never stale, since the fingerprint is read each
 * time. Each conflict is recorded once in the database, so it is audited and counted once, by
 * whichever router first builds a catalog that shows it.
 */
export class WorkspaceCatalogs {
  private readonly cached = new Map<string, { fingerprint: string; catalog: Map<string, CatalogTool> }>();

  constructor(
    private readonly db: Queryable,
    private readonly options: WorkspaceCatalogOptions = {},
  ) {}

  async get(projectId: string, workspaceId: string): Promise<Map<string, CatalogTool>> {
    const fingerprint = await workspaceCatalogFingerprint(this.db, workspaceId);
    const hit = this.cached.get(workspaceId);
    if (hit?.fingerprint === fingerprint) return hit.catalog;
    const catalog = buildCatalog(
      await listBoundManifests(this.db, workspaceId),
      await listRiskOverrides(this.db, workspaceId),
    );
    await this.recordConflicts(projectId, workspaceId, catalog);
    if (this.cached.size > MAX_CACHED) this.cached.clear();
    this.cached.set(workspaceId, { fingerprint, catalog });
    return catalog;
  }

  private async recordConflicts(
    projectId: string,
    workspaceId: string,
    catalog: Map<string, CatalogTool>,
  ): Promise<void> {
    for (const tool of catalog.values()) {
      if (!tool.conflict) continue;
      const detail = {
        tool: tool.name,
        fields: tool.conflict.fields,
        effective_risk: tool.risk,
        offers: tool.conflict.offers.map((offer) => ({
          agent_id: offer.agent_id,
          risk: offer.risk,
          bundle_version: offer.bundle_version,
          parameters_sha256: offer.parameters_sha256,
        })),
      };
      const first = await recordToolConflict(this.db, {
        workspaceId,
        projectId,
        tool: tool.name,
        signature: tool.conflict.signature,
        detail,
      });
      if (!first) continue;
      await appendAudit(this.db, {
        projectId,
        actor: 'router',
        event: 'tool.descriptor_conflict',
        subject: workspaceId,
        detail,
      });
      this.options.onConflict?.(tool.name);
      this.options.logger?.warning(
        { workspace_id: workspaceId, ...detail },
        'bound agents disagree about a tool: the strictest risk applies',
      );
    }
  }
}
