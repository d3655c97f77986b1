import Type from 'typebox';

// Shapes shared by route modules. Requests are strict: unknown members are refused.

export const strict = { additionalProperties: false } as const;

export const ProjectParams = Type.Object(
  { project_id: Type.String({ minLength: 1, maxLength: 128, pattern: '^[A-Za-z0-9_-]+$' }) },
  strict,
);

export function idParams(prefix: string) {
  return Type.Object(
    { project_id: ProjectParams.properties.project_id, id: Type.String({ pattern: `^${prefix}_[0-9a-f]{12,64}$` }) },
    strict,
  );
}

// Query strings are text: the body validator does not coerce types, so numbers are patterns here.
export const PageQuery = Type.Object(
  {
    limit: Type.Optional(Type.String({ pattern: '^(100|[1-9][0-9]?)$' })),
    after: Type.Optional(Type.String({ minLength: 1, maxLength: 80, pattern: '^[a-z]+_[0-9a-f]{12,64}$' })),
  },
  strict,
);

export interface Page {
  limit?: string;
  after?: string;
}

function pageLimit(page: Page): number {
  return page.limit === undefined ? 20 : Number(page.limit);
}

/**
 * A cursor page for a list endpoint: one more row is fetched than shown to learn whether another
 * page exists.
 */
export async function pagedList<R, V extends { id: string }>(
  query: Page,
  fetch: (page: { limit: number; after?: string }) => Promise<R[]>,
  view: (row: R) => V,
) {
  const limit = pageLimit(query);
  const rows = await fetch({ limit: limit + 1, ...(query.after ? { after: query.after } : {}) });
  return listResponse(rows.map(view), limit);
}

function listResponse<T extends { id: string }>(rows: readonly T[], limit: number) {
  const data = rows.slice(0, limit);
  return {
    object: 'list' as const,
    data,
    has_more: rows.length > limit,
    next_cursor: rows.length > limit ? (data[data.length - 1]?.id ?? null) : null,
  };
}
