import type { RawValue } from './file-layer.js';
import type { KeySpec } from './spec.js';

export type Compiled = { ok: true; value: unknown } | { ok: false; expected: string };

const TRUE_WORDS = new Set(['true', '1']);
const FALSE_WORDS = new Set(['false', '0']);

/** Turns one raw layer value into the key's typed value, or says what was expected. */
export function coerceValue(spec: KeySpec, raw: RawValue): Compiled {
  switch (spec.kind) {
    case 'string':
      return coerceString(spec.pattern, spec.patternHint, spec.maxLength, raw);
    case 'path':
      return coercePath(raw);
    case 'url':
      return coerceUrl(spec.protocols, raw);
    case 'integer':
      if (spec.auto && typeof raw === 'string' && raw.trim().toLowerCase() === 'auto') return { ok: true, value: null };
      return coerceNumber(raw, true, spec.min, spec.max, spec.auto ? ' or "auto"' : '');
    case 'port':
      return coerceNumber(raw, true, 0, 65535, '');
    case 'number':
      return coerceNumber(raw, false, spec.min, spec.max, '');
    case 'boolean':
      return coerceBoolean(raw);
    case 'enum':
      return coerceEnum(spec.values, raw);
    case 'list':
      return coerceList(raw);
  }
}

function text(raw: RawValue): string | undefined {
  if (typeof raw === 'string') return raw;
  if (typeof raw === 'number') return String(raw);
  return undefined;
}

function coerceString(
  pattern: RegExp | undefined,
  hint: string | undefined,
  maxLength: number | undefined,
  raw: RawValue,
): Compiled {
  const value = text(raw);
  const expected = hint ?? (pattern ? `a string matching ${pattern.source}` : 'a non-empty string');
  if (value === undefined || value.length === 0 || value.includes('\0')) return { ok: false, expected };
  if (maxLength !== undefined && value.length > maxLength)
    return { ok: false, expected: `${expected} of at most ${maxLength} characters` };
  if (pattern && !pattern.test(value)) return { ok: false, expected };
  return { ok: true, value };
}

function coercePath(raw: RawValue): Compiled {
  const value = text(raw);
  if (value === undefined || value.trim().length === 0 || value.includes('\0'))
    return { ok: false, expected: 'a file system path' };
  return { ok: true, value };
}

function coerceUrl(protocols: readonly string[], raw: RawValue): Compiled {
  const expected = `a URL with scheme ${protocols.map((p) => `${p}://`).join(' or ')}`;
  const value = text(raw);
  if (value === undefined) return { ok: false, expected };
  try {
    const url = new URL(value);
    if (!protocols.includes(url.protocol.slice(0, -1))) return { ok: false, expected };
    return { ok: true, value };
  } catch {
    return { ok: false, expected };
  }
}

function coerceNumber(
  raw: RawValue,
  integer: boolean,
  min: number | undefined,
  max: number | undefined,
  extra: string,
): Compiled {
  const expected = `${integer ? 'an integer' : 'a number'}${rangeText(min, max)}${extra}`;
  const value = typeof raw === 'number' ? raw : typeof raw === 'string' ? parseNumber(raw.trim(), integer) : NaN;
  if (!Number.isFinite(value) || (integer && !Number.isSafeInteger(value))) return { ok: false, expected };
  if ((min !== undefined && value < min) || (max !== undefined && value > max)) return { ok: false, expected };
  return { ok: true, value };
}

function parseNumber(value: string, integer: boolean): number {
  const pattern = integer ? /^[-+]?\d+$/ : /^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/;
  return pattern.test(value) ? Number(value) : NaN;
}

function rangeText(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` of at least ${min}`;
  if (max !== undefined) return ` of at most ${max}`;
  return '';
}

function coerceBoolean(raw: RawValue): Compiled {
  const expected = 'true, false, 1 or 0';
  if (typeof raw === 'boolean') return { ok: true, value: raw };
  const word = text(raw)?.trim().toLowerCase();
  if (word !== undefined && TRUE_WORDS.has(word)) return { ok: true, value: true };
  if (word !== undefined && FALSE_WORDS.has(word)) return { ok: true, value: false };
  return { ok: false, expected };
}

function coerceEnum(values: readonly string[], raw: RawValue): Compiled {
  const word = text(raw)?.trim().toLowerCase();
  if (word !== undefined && values.includes(word)) return { ok: true, value: word };
  return { ok: false, expected: `one of ${values.join(', ')}` };
}

function coerceList(raw: RawValue): Compiled {
  if (Array.isArray(raw)) return { ok: true, value: Object.freeze([...(raw as readonly string[])]) };
  const value = text(raw as string | number | boolean);
  if (value === undefined) return { ok: false, expected: 'a space-separated list' };
  return { ok: true, value: Object.freeze(value.split(/\s+/).filter((item) => item.length > 0)) };
}

/** A value safe to print in an error: secrets redacted, long values cut. */
export function describeRaw(raw: RawValue, secret: boolean | undefined): string {
  if (secret) return '<redacted>';
  const shown = Array.isArray(raw) ? raw.join(' ') : String(raw);
  return JSON.stringify(shown.length > 64 ? `${shown.slice(0, 61)}...` : shown);
}
