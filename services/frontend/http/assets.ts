import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import type { FastifyInstance } from 'fastify';

const TYPES: Record<string, string> = {
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
};

/**
 * `/assets/:name`: the UI's own scripts and styles, read once at start (a fixed set, so no path
 * from a request ever reaches the file system), cached by the browser for a short while.
 */
export function assetRoutes(dir: string) {
  const assets = new Map(
    readdirSync(dir)
      .filter((name) => TYPES[extname(name)] !== undefined)
      .map((name) => [name, { body: readFileSync(join(dir, name)), type: TYPES[extname(name)]! }]),
  );
  return async function register(app: FastifyInstance): Promise<void> {
    app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
      const asset = assets.get(request.params.name);
      if (!asset) return reply.status(404).send({ error: { code: 'not_found', message: 'No such asset' } });
      return reply.type(asset.type).header('cache-control', 'private, max-age=300').send(asset.body);
    });
  };
}
