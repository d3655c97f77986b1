import { flagName, type KeySpec, type SchemaShape } from './spec.js';

/**
 * Markdown reference for a schema: one row per key with its file key, environment variable,
 * flag, default and meaning. docs/configuration.md embeds these tables; a test keeps the doc in
 * step with the code (`npm run docs:config` rewrites them).
 */
export function renderConfigTable(schema: SchemaShape): string {
  const rows = Object.entries(schema.keys).map(([key, spec]) => {
    const fileKey = schema.file && !spec.envOnly ? `\`${key}\`` : '–';
    // Schemas without a file (telemetry, the XEM metrics port) are read from the environment only.
    const flag = schema.file ? `\`--${flagName(key, spec)}\`` : '–';
    return `| ${fileKey} | \`${spec.env}\` | ${flag} | ${defaultText(spec)} | ${describe(spec)} |`;
  });
  return ['| file key | environment | flag | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

function defaultText(spec: KeySpec): string {
  if (spec.required) return '**required**';
  if (spec.default === undefined) return 'unset';
  if (Array.isArray(spec.default)) return spec.default.length === 0 ? 'empty' : `\`${spec.default.join(' ')}\``;
  return `\`${String(spec.default)}\``;
}

function describe(spec: KeySpec): string {
  const notes: string[] = [spec.description.endsWith('.') ? spec.description : `${spec.description}.`];
  if (spec.kind === 'enum') notes.push(`One of ${spec.values.map((value) => `\`${value}\``).join(', ')}.`);
  if ((spec.kind === 'integer' || spec.kind === 'number') && (spec.min !== undefined || spec.max !== undefined)) {
    notes.push(`Range ${spec.min ?? '−∞'}–${spec.max ?? '∞'}.`);
  }
  if (spec.kind === 'boolean') notes.push('`true`/`1` or `false`/`0`.');
  if (spec.secret) notes.push('Secret: redacted everywhere.');
  if (spec.envOnly) notes.push('Not accepted from the file.');
  return notes.join(' ').replaceAll('|', '\\|');
}

/** Replaces the text between `<!-- begin:name -->` and `<!-- end:name -->` markers. */
export function replaceMarkedSection(document: string, name: string, content: string): string {
  const begin = `<!-- begin:${name} -->`;
  const end = `<!-- end:${name} -->`;
  const start = document.indexOf(begin);
  const stop = document.indexOf(end);
  if (start < 0 || stop < start) throw new Error(`section ${name} is not marked in the document`);
  return `${document.slice(0, start + begin.length)}\n${content}\n${document.slice(stop)}`;
}
