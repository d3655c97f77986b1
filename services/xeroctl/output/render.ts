import { stringify } from 'yaml';

export const FORMATS = ['table', 'wide', 'json', 'yaml', 'name'] as const;
export type Format = (typeof FORMATS)[number];

export interface Column<T = Record<string, unknown>> {
  readonly header: string;
  readonly value: (row: T) => unknown;
  /** Shown with `-o wide` only. */
  readonly wide?: boolean;
}

/** Any answer field as text: nothing is empty, objects are JSON (templates and `String()` would say [object Object]). */
export function text(value: unknown): string {
  if (value === null || value === undefined) return '';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value as string | number | boolean);
}

/** A cell as people read it: nothing is `-`, lists are comma separated, objects are compact JSON. */
export function cell(value: unknown): string {
  if (value === null || value === undefined || value === '') return '-';
  if (Array.isArray(value)) return value.length ? value.map(cell).join(',') : '-';
  if (typeof value === 'object') return JSON.stringify(value);
  if (typeof value === 'boolean') return value ? 'yes' : 'no';
  return text(value).replace(/\s+/g, ' ');
}

/** How long ago (or, for a future instant, in how long), as `45s`, `12m`, `3h`, `2d`. */
export function age(iso: unknown, now: Date): string {
  if (typeof iso !== 'string') return '-';
  const seconds = Math.round((now.getTime() - Date.parse(iso)) / 1_000);
  const magnitude = Math.abs(seconds);
  const text =
    magnitude < 120
      ? `${magnitude}s`
      : magnitude < 7_200
        ? `${Math.floor(magnitude / 60)}m`
        : magnitude < 172_800
          ? `${Math.floor(magnitude / 3_600)}h`
          : `${Math.floor(magnitude / 86_400)}d`;
  return seconds < 0 ? `in ${text}` : text;
}

function table(
  rows: readonly Record<string, unknown>[],
  columns: readonly Column[],
  bold: (s: string) => string,
): string {
  const cells = rows.map((row) => columns.map((column) => cell(column.value(row))));
  const widths = columns.map((column, i) => Math.max(column.header.length, ...cells.map((line) => line[i]!.length)));
  const line = (values: readonly string[]) =>
    values
      .map((value, i) => (i === values.length - 1 ? value : value.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [bold(line(columns.map((column) => column.header))), ...cells.map(line)].join('\n') + '\n';
}

const idOf = (row: Record<string, unknown>) => text(row['id'] ?? row['name'] ?? row['slug']);

/**
 * What a command prints. `json` and `yaml` are the router's own answer, whole; `name` is one id
 * per line; `table` and `wide` are for people.
 */
export function render(
  answer: unknown,
  rows: readonly Record<string, unknown>[],
  columns: readonly Column[],
  format: Format,
  bold: (text: string) => string = (text) => text,
): string {
  if (format === 'json') return `${JSON.stringify(answer, null, 2)}\n`;
  if (format === 'yaml') return stringify(answer);
  if (format === 'name') return rows.map((row) => `${idOf(row)}\n`).join('');
  const shown = columns.filter((column) => format === 'wide' || !column.wide);
  return rows.length ? table(rows, shown, bold) : 'No resources found.\n';
}

/** One object as `FIELD: value` lines (the table view of a `show`). */
export function renderFields(
  object: Record<string, unknown>,
  fields: readonly Column[],
  bold: (text: string) => string = (t) => t,
): string {
  const width = Math.max(...fields.map((field) => field.header.length)) + 1;
  return (
    fields.map((field) => `${bold(`${field.header}:`.padEnd(width))} ${cell(field.value(object))}`).join('\n') + '\n'
  );
}
