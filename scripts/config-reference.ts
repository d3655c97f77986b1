import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { REPO_ROOT } from '../services/devstack/dev-state.js';
import { renderConfigTable, replaceMarkedSection } from '../services/runtime/config/reference.js';
import type { SchemaShape } from '../services/runtime/config/spec.js';
import { telemetryConfigSchema } from '../services/runtime/telemetry-config.js';
import { routerConfigSchema } from '../services/router/config.js';
import { frontendConfigSchema } from '../services/frontend/config.js';
import { xemAgentConfigSchema, xemMetricsPortSchema } from '../services/xem-agent/config.js';
import { ximAgentConfigSchema } from '../services/xim-agent/config.js';

/** The reference tables of docs/configuration.md, by marker name. */
export const CONFIG_SECTIONS: Record<string, SchemaShape> = {
  'xem-agent': xemAgentConfigSchema,
  'xem-metrics': xemMetricsPortSchema,
  telemetry: telemetryConfigSchema,
  'xim-agent': ximAgentConfigSchema,
  router: routerConfigSchema,
  frontend: frontendConfigSchema,
};

export const CONFIG_DOC = join(REPO_ROOT, 'docs/configuration.md');

export function renderConfigDoc(document: string): string {
  return Object.entries(CONFIG_SECTIONS).reduce(
    (doc, [name, schema]) => replaceMarkedSection(doc, name, renderConfigTable(schema)),
    document,
  );
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(CONFIG_DOC, renderConfigDoc(readFileSync(CONFIG_DOC, 'utf8')));
  process.stdout.write(`updated ${CONFIG_DOC}\n`);
}
