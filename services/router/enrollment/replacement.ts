/** A live (not revoked, not superseded) agent that an enrollment could collide with. */
export interface LiveAgent {
  readonly id: string;
  readonly project_id: string;
  readonly registration_name: string;
  readonly curve_public_key: Buffer;
}

/** What the join key allows, beyond enrolling once. */
export interface JoinKeyGrant {
  readonly project_id: string;
  /** The operator said this key may replace a live agent of the same name or key. */
  readonly allow_replace: boolean;
  /** The only registration name this key may enroll (deploy-time keys are bound to their agent). */
  readonly registration_name: string | null;
}

export type EnrollmentRefusal = 'registration_name_not_allowed' | 'registration_name_in_use' | 'agent_key_in_use';

export type EnrollmentDecision = { readonly refusal: EnrollmentRefusal } | { readonly replace: readonly string[] };

/**
 * May this enrollment proceed, and whom does it replace? Pure. Replacing a live identity is an
 * operator's explicit decision (a key minted with `allow_replace`), matched only inside the key's
 * project; a CURVE key live in another project is never taken over (the mesh admits by key), so
 * holding a join key of one project gives no power over another's agents.
 */
export function decideEnrollment(
  grant: JoinKeyGrant,
  request: { registration_name: string; curve_public_key: Buffer },
  live: readonly LiveAgent[],
): EnrollmentDecision {
  if (grant.registration_name !== null && grant.registration_name !== request.registration_name)
    return { refusal: 'registration_name_not_allowed' };
  const sameKey = (agent: LiveAgent) => agent.curve_public_key.equals(request.curve_public_key);
  if (live.some((agent) => agent.project_id !== grant.project_id && sameKey(agent)))
    return { refusal: 'agent_key_in_use' };
  const colliding = live.filter(
    (agent) =>
      agent.project_id === grant.project_id &&
      (agent.registration_name === request.registration_name || sameKey(agent)),
  );
  if (colliding.length === 0 || grant.allow_replace) return { replace: colliding.map((agent) => agent.id) };
  return {
    refusal: colliding.some((agent) => agent.registration_name === request.registration_name)
      ? 'registration_name_in_use'
      : 'agent_key_in_use',
  };
}
