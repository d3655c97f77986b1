import { signChallenge } from '../protocol/reauth.js';
import type { SigningKeyPair } from '../protocol/signing.js';
import { existsSync, readFileSync } from 'node:fs';
import { rename, rm, writeFile } from 'node:fs/promises';

/** What enrollment yields and the agent keeps (mode 0600) so restarts skip enrollment. */
export interface Enrollment {
  readonly agent_id: string;
  readonly project_id: string;
  readonly token: string;
  readonly expires_at: string;
  readonly router_curve_public_key: string;
  readonly mesh_endpoint: string;
  readonly lease_renewal_interval_ms: number;
  readonly router_url: string;
  readonly registration_name: string;
  /** Set once the router revoked or replaced this identity: the agent stays retired until re-enrolled. */
  readonly retired?: { readonly reason: string; readonly at: string };
}

export class EnrollmentError extends Error {
  override readonly name = 'EnrollmentError';
  constructor(
    message: string,
    /** False when retrying cannot help (refused key, insecure URL). */
    readonly retryable: boolean,
    /** The router's error code, when it answered with one. */
    readonly code?: string,
  ) {
    super(message);
  }
}

export interface EnrollmentRequest {
  readonly routerUrl: string;
  readonly allowInsecure: boolean;
  readonly joinKey: string;
  readonly role: 'xem' | 'xim';
  readonly registrationName: string;
  readonly signingPublicKeyHex: string;
  readonly curvePublicKey: string;
  readonly manifest?: Record<string, unknown>;
}

/** Refuses plain HTTP unless XEROTIER_AGENT_ALLOW_INSECURE: join keys and tokens cross this link. */
export function checkRouterUrl(routerUrl: string, allowInsecure: boolean): URL {
  const url = new URL(routerUrl);
  if (url.protocol !== 'https:' && !(allowInsecure && url.protocol === 'http:')) {
    throw new EnrollmentError(
      `router URL ${url.origin} is not HTTPS; set XEROTIER_AGENT_ALLOW_INSECURE=1 for development only`,
      false,
    );
  }
  return url;
}

export async function enroll(request: EnrollmentRequest): Promise<Enrollment> {
  const url = new URL('/v1/enroll', checkRouterUrl(request.routerUrl, request.allowInsecure));
  const body = {
    join_key: request.joinKey,
    role: request.role,
    registration_name: request.registrationName,
    signing_public_key: request.signingPublicKeyHex,
    curve_public_key: request.curvePublicKey,
    ...(request.manifest ? { manifest: request.manifest } : {}),
  };
  const response = await post(url, body, undefined);
  if (response.status === 401)
    throw new EnrollmentError(
      'the router refused the join key (unknown, expired, revoked or already used): mint a new one',
      false,
    );
  if (response.status !== 201) {
    const code = await errorCode(response);
    throw new EnrollmentError(
      ENROLL_REFUSALS[code] ?? `enrollment failed with HTTP ${response.status}: ${code}`,
      response.status >= 500,
    );
  }
  const enrolled = (await response.json()) as Omit<Enrollment, 'router_url' | 'registration_name'>;
  return { ...enrolled, router_url: request.routerUrl, registration_name: request.registrationName };
}

/** A fresh token; EnrollmentError(retryable: false) when the router says the agent is done. */
export async function refreshToken(enrollment: Enrollment, allowInsecure: boolean): Promise<Enrollment> {
  const url = new URL('/v1/enroll/refresh', checkRouterUrl(enrollment.router_url, allowInsecure));
  const response = await post(url, undefined, enrollment.token);
  if (response.status === 401) {
    const code = await errorCode(response);
    throw new EnrollmentError(
      REFRESH_REFUSALS[code] ?? 'the router refused the agent token: re-enroll required',
      false,
      code,
    );
  }
  if (!response.ok) throw new EnrollmentError(`token refresh failed with HTTP ${response.status}`, true);
  const refreshed = (await response.json()) as Pick<
    Enrollment,
    'token' | 'expires_at' | 'router_curve_public_key' | 'mesh_endpoint' | 'lease_renewal_interval_ms'
  >;
  return { ...enrollment, ...refreshed };
}

// What each refusal means to the person reading the agent's log.
const ENROLL_REFUSALS: Readonly<Record<string, string>> = {
  registration_name_in_use:
    'a live agent of this project already has this registration name: mint a join key with allow_replace to replace it, or choose another name',
  agent_key_in_use:
    'a live agent already holds this CURVE key: mint a join key with allow_replace (same project) to replace it',
  registration_name_not_allowed: 'this join key is bound to another registration name',
};
const REFRESH_REFUSALS: Readonly<Record<string, string>> = {
  agent_revoked: "an operator revoked this agent's credentials: it needs a new join key to enroll again",
  agent_superseded:
    'this agent was replaced by a newer enrollment under its name or key: it needs a new join key to enroll again',
  invalid_token: 'the router refused the agent token (expired, signed by another key, or malformed)',
  reauthentication_failed:
    'the router does not know this agent under its enrolled key (another deployment, or its record was deleted): a new join key is needed',
};

/**
 * A fresh token without a valid one: asks the router for a nonce and answers it signed with the
 * enrolled Ed25519 key. What brings an agent back after an outage longer than its token's life;
 * only revocation or replacement refuses it, and the error says which.
 */
export async function reauthenticate(
  enrollment: Enrollment,
  signing: SigningKeyPair,
  allowInsecure: boolean,
): Promise<Enrollment> {
  const base = checkRouterUrl(enrollment.router_url, allowInsecure);
  const challenge = await post(new URL('/v1/enroll/challenge', base), { agent_id: enrollment.agent_id }, undefined);
  if (!challenge.ok)
    throw new EnrollmentError(
      `re-authentication challenge failed with HTTP ${challenge.status}: ${await errorCode(challenge)}`,
      challenge.status >= 500 || challenge.status === 429,
    );
  const { nonce } = (await challenge.json()) as { nonce: string };
  const answer = {
    agent_id: enrollment.agent_id,
    nonce,
    signature: signChallenge(enrollment.agent_id, nonce, signing),
  };
  const response = await post(new URL('/v1/enroll/reauthenticate', base), answer, undefined);
  if (response.status === 401) {
    const code = await errorCode(response);
    throw new EnrollmentError(REFRESH_REFUSALS[code] ?? `the router refused this agent's key: ${code}`, false, code);
  }
  if (!response.ok) throw new EnrollmentError(`re-authentication failed with HTTP ${response.status}`, true);
  const refreshed = (await response.json()) as Pick<
    Enrollment,
    'token' | 'expires_at' | 'router_curve_public_key' | 'mesh_endpoint' | 'lease_renewal_interval_ms'
  >;
  return { ...enrollment, ...refreshed };
}

async function post(url: URL, body: unknown, token: string | undefined): Promise<Response> {
  try {
    return await fetch(url, {
      method: 'POST',
      headers: {
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        ...(token ? { authorization: `Bearer ${token}` } : {}),
      },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      signal: AbortSignal.timeout(15_000),
    });
  } catch (error) {
    throw new EnrollmentError(`router at ${url.origin} unreachable: ${(error as Error).message}`, true);
  }
}

async function errorCode(response: Response): Promise<string> {
  const body = (await response.json().catch(() => ({}))) as { error?: { code?: string } };
  return body.error?.code ?? 'unknown error';
}

export function loadEnrollment(path: string): Enrollment | undefined {
  return existsSync(path) ? (JSON.parse(readFileSync(path, 'utf8')) as Enrollment) : undefined;
}

export async function saveEnrollment(path: string, enrollment: Enrollment): Promise<void> {
  const temp = `${path}.${process.pid}.tmp`;
  await writeFile(temp, `${JSON.stringify(enrollment, null, 2)}\n`, { mode: 0o600 });
  await rename(temp, path);
}

export async function forgetEnrollment(path: string): Promise<void> {
  await rm(path, { force: true });
}

/** Keeps the identity on disk but marks it retired, so a restart says why instead of retrying. */
export async function retireEnrollment(path: string, reason: string, now = new Date()): Promise<void> {
  const saved = loadEnrollment(path);
  if (!saved) return;
  await saveEnrollment(path, { ...saved, retired: { reason, at: now.toISOString() } });
}
