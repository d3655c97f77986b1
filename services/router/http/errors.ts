/**
 * The router's error vocabulary: one class, stable codes, one table mapping code to HTTP status
 * and OpenAI-style `type`. docs/errors.md documents every code here (a test keeps them in step).
 */
export const errorCatalog = {
  invalid_body: { status: 400, type: 'invalid_request_error', message: 'The request body is invalid' },
  invalid_parameter: { status: 400, type: 'invalid_request_error', message: 'A request parameter is invalid' },
  not_found: { status: 404, type: 'invalid_request_error', message: 'No such route' },
  invalid_api_key: {
    status: 401,
    type: 'authentication_error',
    message: 'The API key is missing, malformed, unknown, expired or revoked',
  },
  invalid_token: {
    status: 401,
    type: 'authentication_error',
    message: 'The agent token is missing, invalid, expired or revoked',
  },
  curve_rotation_not_configured: {
    status: 409,
    type: 'invalid_request_error',
    message:
      'The router serves no next CURVE key: set XEROTIER_ROUTER_CURVE_SECRET_KEY_NEXT and XEROTIER_MESH_NEXT_BIND first (docs/fleet.md)',
  },
  replica_unauthorized: {
    status: 401,
    type: 'authentication_error',
    message: 'The forwarded inference is not signed by a router replica, or its signature expired or was used',
  },
  enrollment_denied: { status: 401, type: 'authentication_error', message: 'The join key is not valid' },
  registration_name_in_use: {
    status: 409,
    type: 'invalid_request_error',
    message:
      'A live agent of this project holds this registration name; replacing it needs a join key minted with allow_replace',
  },
  agent_key_in_use: {
    status: 409,
    type: 'invalid_request_error',
    message:
      'A live agent holds this CURVE key; replacing it needs a join key of its project minted with allow_replace',
  },
  registration_name_not_allowed: {
    status: 403,
    type: 'forbidden_error',
    message: 'This join key is bound to another registration name',
  },
  platform_scope_not_allowed: {
    status: 403,
    type: 'forbidden_error',
    message:
      "Platform-scope join keys are minted only in the platform's project (XEROTIER_PLATFORM_PROJECT), for XIM agents",
  },
  agent_revoked: {
    status: 401,
    type: 'authentication_error',
    message: "This agent's credentials were revoked: it needs a new join key",
  },
  reauthentication_failed: {
    status: 401,
    type: 'authentication_error',
    message: "The challenge is unknown, spent or expired, or its signature is not by this agent's enrolled key",
  },
  agent_superseded: {
    status: 401,
    type: 'authentication_error',
    message: 'This agent was replaced by a newer enrollment under its name or key',
  },
  scope_insufficient: {
    status: 403,
    type: 'authentication_error',
    message: 'The API key lacks the scope this endpoint needs',
  },
  cross_project_access: { status: 403, type: 'authorization_error', message: 'The API key belongs to another project' },
  project_not_found: { status: 404, type: 'invalid_request_error', message: 'No such project' },
  api_key_not_found: { status: 404, type: 'invalid_request_error', message: 'No such API key in this project' },
  join_key_not_found: { status: 404, type: 'invalid_request_error', message: 'No such join key in this project' },
  agent_not_found: { status: 404, type: 'invalid_request_error', message: 'No such agent in this project' },
  exec_tool_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'No XEM agent bound to this workspace offers this tool',
  },
  tool_risk_override_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'This workspace has no risk override for this tool',
  },
  workspace_not_found: { status: 404, type: 'invalid_request_error', message: 'No such workspace in this project' },
  workspace_exists: {
    status: 409,
    type: 'invalid_request_error',
    message: 'A workspace with this name exists already',
  },
  agent_not_bindable: {
    status: 400,
    type: 'invalid_request_error',
    message: 'Only live XEM agents of this project can be bound to a workspace',
  },
  binding_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'The agent is not bound to this workspace',
  },
  endpoint_not_found: { status: 404, type: 'invalid_request_error', message: 'No such endpoint in this project' },
  endpoint_exists: {
    status: 409,
    type: 'invalid_request_error',
    message: 'The project has an endpoint with this slug already',
  },
  model_not_found: { status: 404, type: 'invalid_request_error', message: 'The endpoint does not serve this model' },
  response_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'No stored response with this id in this project',
  },
  no_capacity: { status: 503, type: 'service_error', message: 'No XIM agent can take the request now; retry later' },
  inference_failed: { status: 502, type: 'service_error', message: 'The inference engine failed the request' },
  webhook_target_refused: {
    status: 400,
    type: 'invalid_request_error',
    message:
      'The webhook URL points at a loopback, private, link-local or metadata address the router does not deliver to',
  },
  webhook_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'No such webhook endpoint in this project',
  },
  invocation_not_found: { status: 404, type: 'invalid_request_error', message: 'No such invocation in this project' },
  invocation_final: { status: 409, type: 'invalid_request_error', message: 'The invocation has finished already' },
  invocation_not_ambiguous: {
    status: 409,
    type: 'invalid_request_error',
    message: 'Only an ambiguous invocation can be resolved',
  },
  approval_not_found: { status: 404, type: 'invalid_request_error', message: 'No such approval in this project' },
  approval_not_pending: { status: 409, type: 'invalid_request_error', message: 'The approval was decided already' },
  approval_expired: {
    status: 409,
    type: 'invalid_request_error',
    message: 'The approval expired; the call will not run',
  },
  self_approval_forbidden: {
    status: 403,
    type: 'forbidden_error',
    message: 'The person who asked for this call (or whose chat proposed it) cannot approve it',
  },
  approval_reviewer_not_allowed: {
    status: 403,
    type: 'forbidden_error',
    message: 'This escalated approval needs one of the escalation reviewers',
  },
  approval_request_mismatch: {
    status: 409,
    type: 'invalid_request_error',
    message: 'The request changed since it was reviewed; review it again',
  },
  exec_result_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'No result recorded for this invocation yet',
  },
  router_callback_missing: {
    status: 409,
    type: 'invalid_request_error',
    message:
      'The agents offering this tool call the router back and hold no callback credentials (XEM_ROUTER_AUTH_TOKEN and XEM_PROJECT_EXTERNAL_ID); nothing was stored',
  },
  tool_executor_unavailable: {
    status: 503,
    type: 'service_error',
    message: 'No connected agent can run this tool right now; retry later',
  },
  rate_limited: { status: 429, type: 'rate_limit_error', message: 'Too many requests; retry later' },
  invalid_credentials: {
    status: 401,
    type: 'authentication_error',
    message: 'The email or password is wrong, or the account cannot sign in',
  },
  sign_in_locked: {
    status: 429,
    type: 'rate_limit_error',
    message: 'Too many failed sign-ins for this account; retry later or ask an admin to reset the password',
  },
  principal_disabled: {
    status: 401,
    type: 'authentication_error',
    message: "The key's owner is disabled: its keys and sessions do not work",
  },
  role_insufficient: {
    status: 403,
    type: 'forbidden_error',
    message: "The key's owner does not hold a role in this project that allows this",
  },
  scope_exceeds_roles: {
    status: 403,
    type: 'forbidden_error',
    message: "A key cannot carry more than its owner's roles allow",
  },
  not_a_member: { status: 403, type: 'forbidden_error', message: 'The account is not a member of this project' },
  session_not_refreshable: {
    status: 409,
    type: 'invalid_request_error',
    message: 'Only a live session inside its refresh limit can be refreshed; sign in again',
  },
  session_not_found: { status: 404, type: 'invalid_request_error', message: 'No such session' },
  oidc_not_configured: {
    status: 404,
    type: 'invalid_request_error',
    message: 'Single sign-on (OIDC) is not configured on this router',
  },
  oidc_sign_in_failed: {
    status: 401,
    type: 'authentication_error',
    message: 'The identity provider sign-in failed, expired or was not started here',
  },
  oidc_email_not_allowed: {
    status: 403,
    type: 'forbidden_error',
    message: "The identity provider's email is unverified or outside the allowed domains",
  },
  oidc_no_role: {
    status: 403,
    type: 'forbidden_error',
    message: "The identity provider's claims map to no role in this project",
  },
  redirect_not_allowed: {
    status: 400,
    type: 'invalid_request_error',
    message: 'redirect_to must be a loopback address or an allowed origin',
  },
  sign_in_code_invalid: {
    status: 401,
    type: 'authentication_error',
    message: 'The sign-in code is unknown, spent or expired',
  },
  weak_password: { status: 400, type: 'invalid_request_error', message: 'The password is too weak' },
  user_not_found: { status: 404, type: 'invalid_request_error', message: 'No such user in this project' },
  service_account_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'No such service account in this project',
  },
  member_not_found: { status: 404, type: 'invalid_request_error', message: 'No such member of this project' },
  member_exists: { status: 409, type: 'invalid_request_error', message: 'This principal is a member already' },
  last_admin: {
    status: 409,
    type: 'invalid_request_error',
    message: 'The project would be left without an active admin',
  },
  user_in_other_projects: {
    status: 403,
    type: 'forbidden_error',
    message: 'The user belongs to projects you are not an admin of; remove them from this project instead',
  },
  approval_already_decided: {
    status: 409,
    type: 'invalid_request_error',
    message: 'You decided this approval already; it needs someone else',
  },
  approver_not_allowed: {
    status: 403,
    type: 'forbidden_error',
    message: 'Approvals in this workspace need the approver role or a place on its approvers list',
  },
  chat_not_found: { status: 404, type: 'invalid_request_error', message: 'No such chat in this project' },
  branch_not_found: { status: 404, type: 'invalid_request_error', message: 'No such branch in this chat' },
  message_not_found: { status: 404, type: 'invalid_request_error', message: 'No such message in this chat' },
  chat_not_owned: {
    status: 403,
    type: 'forbidden_error',
    message: "Only the chat's owner may add to it or change it",
  },
  chat_archived: { status: 409, type: 'invalid_request_error', message: 'The chat is archived; unarchive it first' },
  turn_in_progress: {
    status: 409,
    type: 'invalid_request_error',
    message: 'A turn is running on this branch; wait for it to end, or fork a branch',
  },
  artifact_not_found: { status: 404, type: 'invalid_request_error', message: 'No such artifact here' },
  artifact_version_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'No such version of this artifact',
  },
  memory_not_found: { status: 404, type: 'invalid_request_error', message: 'No such memory in this project' },
  learning_not_found: { status: 404, type: 'invalid_request_error', message: 'No such learning in this project' },
  mockup_not_found: { status: 404, type: 'invalid_request_error', message: 'No such mockup in this chat' },
  template_not_found: { status: 404, type: 'invalid_request_error', message: 'No such chat template here' },
  template_version_not_found: {
    status: 404,
    type: 'invalid_request_error',
    message: 'No such version of this chat template',
  },
  template_exists: {
    status: 409,
    type: 'invalid_request_error',
    message: 'A chat template of that name exists in that scope',
  },
  template_not_applicable: {
    status: 409,
    type: 'invalid_request_error',
    message: "The template does not apply to this workspace's type",
  },
  template_read_only: {
    status: 403,
    type: 'forbidden_error',
    message: 'Platform templates are changed by platform admins only',
  },
  api_key_not_rotatable: {
    status: 409,
    type: 'invalid_request_error',
    message: 'Only a live key that was not rotated yet can be rotated',
  },
  payload_too_large: { status: 413, type: 'invalid_request_error', message: 'The request body is too large' },
  unsupported_media_type: { status: 415, type: 'invalid_request_error', message: 'Unsupported content type' },
  request_timeout: { status: 408, type: 'invalid_request_error', message: 'The request took too long to arrive' },
  uri_too_long: {
    status: 414,
    type: 'invalid_request_error',
    message: 'A path parameter is longer than any valid value',
  },
  headers_too_large: { status: 431, type: 'invalid_request_error', message: 'The request headers are too large' },
  malformed_request: { status: 400, type: 'invalid_request_error', message: 'The request is not valid HTTP' },
  not_ready: { status: 503, type: 'service_error', message: 'The router is not ready' },
  shutting_down: { status: 503, type: 'service_error', message: 'The router is shutting down' },
  internal_error: { status: 500, type: 'server_error', message: 'Internal error' },
} as const satisfies Record<string, { status: number; type: string; message: string }>;

export type ErrorCode = keyof typeof errorCatalog;

export interface RetryStrategy {
  type: 'exponential_backoff';
  initial_delay_ms: number;
  max_delay_ms: number;
  multiplier: number;
  jitter: 'full';
}

export interface ErrorEnvelope {
  error: {
    message: string;
    type: string;
    code: string;
    param: string | null;
    retry_after?: number;
    retry_strategy?: RetryStrategy;
  };
}

export class ApiError extends Error {
  override readonly name = 'ApiError';
  readonly statusCode: number;
  /** For 429s: seconds until a retry can succeed (also sent as Retry-After). */
  retryAfterSeconds?: number;

  constructor(
    readonly code: ErrorCode,
    message?: string,
    readonly param: string | null = null,
    /** Only where the documented table gives a code two statuses (exec_tool_not_found). */
    status?: number,
  ) {
    super(message ?? errorCatalog[code].message);
    this.statusCode = status ?? errorCatalog[code].status;
  }

  static rateLimited(
    retryAfterSeconds: number,
    message?: string,
    code: 'rate_limited' | 'sign_in_locked' = 'rate_limited',
  ): ApiError {
    const error = new ApiError(code, message);
    error.retryAfterSeconds = retryAfterSeconds;
    return error;
  }
}

export function errorEnvelope(code: ErrorCode, message?: string, param: string | null = null): ErrorEnvelope {
  const entry = errorCatalog[code];
  return { error: { message: message ?? entry.message, type: entry.type, code, param } };
}
