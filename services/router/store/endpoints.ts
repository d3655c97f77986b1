import type { Queryable } from './db.js';
import { newId } from './ids.js';

export const SERVICE_TIERS = [
  'free',
  'cpu_amd_optimized',
  'cpu_intel_optimized',
  'gpu_nvidia_shared',
  'gpu_amd_shared',
  'gpu_intel_shared',
  'self_hosted',
] as const;
export type ServiceTier = (typeof SERVICE_TIERS)[number];

export interface EndpointDefaults {
  readonly temperature?: number;
  readonly max_output_tokens?: number;
  readonly instructions?: string;
  /** A workspace (id or name) whose tools requests get when they offer no mcp tool themselves. */
  readonly workspace?: string;
}

export interface EndpointRecord {
  readonly id: string;
  readonly project_id: string;
  readonly slug: string;
  readonly models: string[];
  readonly service_tier: ServiceTier;
  readonly defaults: EndpointDefaults;
  readonly created_at: Date;
  readonly updated_at: Date;
}

export type EndpointFields = Pick<EndpointRecord, 'slug' | 'models' | 'service_tier' | 'defaults'>;

/** Undefined when the project has an endpoint of that slug already. */
export async function insertEndpoint(
  db: Queryable,
  projectId: string,
  fields: EndpointFields,
): Promise<EndpointRecord | undefined> {
  const inserted = await db.query<EndpointRecord>(
    `INSERT INTO endpoints (id, project_id, slug, models, service_tier, defaults) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (project_id, slug) DO NOTHING RETURNING *`,
    [newId('ep'), projectId, fields.slug, fields.models, fields.service_tier, JSON.stringify(fields.defaults)],
  );
  return inserted.rows[0];
}

/** By id (ep_…) or slug: paths accept either. */
export async function findEndpoint(
  db: Queryable,
  projectId: string,
  idOrSlug: string,
): Promise<EndpointRecord | undefined> {
  const found = await db.query<EndpointRecord>(
    'SELECT * FROM endpoints WHERE project_id = $1 AND (id = $2 OR slug = $2)',
    [projectId, idOrSlug],
  );
  return found.rows[0];
}

export async function listEndpoints(
  db: Queryable,
  projectId: string,
  page: { limit: number; after?: string },
): Promise<EndpointRecord[]> {
  const found = await db.query<EndpointRecord>(
    `SELECT * FROM endpoints WHERE project_id = $1 AND ($2::text IS NULL OR (slug, id) > (SELECT slug, id FROM endpoints WHERE id = $2 AND project_id = $1))
      ORDER BY slug, id LIMIT $3`,
    [projectId, page.after ?? null, page.limit],
  );
  return found.rows;
}

export async function updateEndpoint(
  db: Queryable,
  projectId: string,
  id: string,
  change: Partial<Omit<EndpointFields, 'slug'>>,
): Promise<EndpointRecord | undefined> {
  const updated = await db.query<EndpointRecord>(
    `UPDATE endpoints SET models = coalesce($3, models), service_tier = coalesce($4, service_tier), defaults = coalesce($5, defaults), updated_at = now()
      WHERE project_id = $1 AND id = $2 RETURNING *`,
    [
      projectId,
      id,
      change.models ?? null,
      change.service_tier ?? null,
      change.defaults ? JSON.stringify(change.defaults) : null,
    ],
  );
  return updated.rows[0];
}

export async function deleteEndpoint(db: Queryable, projectId: string, id: string): Promise<boolean> {
  return (
    ((await db.query('DELETE FROM endpoints WHERE project_id = $1 AND id = $2', [projectId, id])).rowCount ?? 0) === 1
  );
}
