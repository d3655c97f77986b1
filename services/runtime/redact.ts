/**
 * Secret scrubbing shared by the logger and anything else that prints untrusted or secret-bearing
 * values. Two nets: members whose *name* says secret are replaced whole, and strings are
 * searched for known secret values and for our own credential formats.
 */
export const REDACTED = '[REDACTED]';

// Matches names like authorization, join_key, api_key, x-api-key, curve_secret_key,
// router_auth_token, vllm_salt_secret, completion_encryption_key, password, cookie.
const SECRET_NAME =
  /(?:^|[_-])(?:authorization|cookie|set-cookie|password|passwd|secret|token|join[_-]?key|api[_-]?key|secret[_-]?key|private[_-]?key|signing[_-]?key|encryption[_-]?key|credentials?)$/i;
const SECRET_NAME_EXACT =
  /^(?:authorization|cookie|token|secret|password|joinKey|apiKey|secretKey|privateKey|accessToken|refreshToken)$/;

// Our own credential formats, scrubbed wherever they appear in text.
const CREDENTIAL_PATTERNS: readonly RegExp[] = [
  /\bxero_[A-Za-z0-9-]{1,64}_[A-Za-z0-9_-]{16,}/g, // API keys
  /\bxjk_[A-Za-z0-9_-]{16,}/g, // join keys
  /\bBearer\s+[A-Za-z0-9._~+/-]{8,}=*/gi,
];

export function isSecretName(name: string): boolean {
  return SECRET_NAME.test(name) || SECRET_NAME_EXACT.test(name);
}

export interface Redactor {
  /** Replaces secret values (and their base64 and URL encodings) and credential-shaped substrings. */
  text(value: string): string;
  /** Where in `value` something would be replaced, as [start, end) ranges (for stream scrubbing). */
  spans(value: string): { start: number; end: number }[];
  /** The length of the longest literal secret form it knows. */
  longest(): number;
  /** A scrubbed copy of a log object (bounded depth; cycles cut). */
  value(value: unknown): unknown;
  /** Adds literal secrets (from config, credential files) to scrub from now on. */
  addSecrets(values: Iterable<string | undefined>): void;
}

export function createRedactor(initialSecrets: Iterable<string | undefined> = []): Redactor {
  const secrets = new Set<string>();
  const redactor: Redactor = {
    addSecrets(values) {
      // Very short values would blank out ordinary words; they are not credentials anyway.
      for (const value of values)
        if (value !== undefined && value.length >= 6) for (const form of encodedForms(value)) secrets.add(form);
    },
    text(value) {
      let out = value;
      // Longest first, so a secret's encoding is never half-replaced by a shorter match inside it.
      for (const secret of [...secrets].sort((a, b) => b.length - a.length))
        if (out.includes(secret)) out = out.split(secret).join(REDACTED);
      for (const pattern of CREDENTIAL_PATTERNS) out = out.replace(pattern, REDACTED);
      return out;
    },
    longest: () => Math.max(0, ...[...secrets].map((secret) => secret.length)),
    spans(value) {
      const found: { start: number; end: number }[] = [];
      for (const secret of secrets) {
        for (let at = value.indexOf(secret); at >= 0; at = value.indexOf(secret, at + 1))
          found.push({ start: at, end: at + secret.length });
      }
      for (const pattern of CREDENTIAL_PATTERNS)
        for (const match of value.matchAll(pattern))
          found.push({ start: match.index, end: match.index + match[0].length });
      return found;
    },
    value(value) {
      return scrub(value, redactor, 0, new WeakSet());
    },
  };
  redactor.addSecrets(initialSecrets);
  return redactor;
}

/**
 * A secret as it may appear in output: itself, URL-encoded, and base64 (standard and URL-safe,
 * at each of the three byte alignments a secret can have inside a longer encoded text, cut to
 * whole 4-character groups — the part of the encoding that depends on the secret alone).
 */
export function encodedForms(secret: string): string[] {
  const forms = new Set([secret, encodeURIComponent(secret), encodeURIComponent(secret).replaceAll('%20', '+')]);
  const bytes = Buffer.from(secret, 'utf8');
  for (const skip of [0, 1, 2]) {
    const part = bytes.subarray(skip);
    const whole = part.subarray(0, part.length - (part.length % 3)).toString('base64');
    if (whole.length < 8) continue;
    forms.add(whole);
    forms.add(whole.replaceAll('+', '-').replaceAll('/', '_'));
  }
  return [...forms];
}

function scrub(value: unknown, redactor: Redactor, depth: number, seen: WeakSet<object>): unknown {
  if (typeof value === 'string') return redactor.text(value);
  if (value === null || typeof value !== 'object') return value;
  if (depth > 8 || seen.has(value)) return '[...]';
  seen.add(value);
  if (Array.isArray(value)) return value.map((item) => scrub(item, redactor, depth + 1, seen));
  if (value instanceof Error) return scrubError(value, redactor, depth, seen);
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return `[${value.length} bytes]`;
  const out: Record<string, unknown> = {};
  for (const [key, member] of Object.entries(value)) {
    out[key] =
      isSecretName(key) && member !== undefined && member !== null
        ? REDACTED
        : scrub(member, redactor, depth + 1, seen);
  }
  return out;
}

function scrubError(error: Error, redactor: Redactor, depth: number, seen: WeakSet<object>): unknown {
  const out: Record<string, unknown> = { type: error.name, message: redactor.text(error.message) };
  if (error.stack) out['stack'] = redactor.text(error.stack);
  const code = (error as { code?: unknown }).code;
  if (code !== undefined) out['code'] = code;
  if (error.cause !== undefined) out['cause'] = scrub(error.cause, redactor, depth + 1, seen);
  return out;
}
