// Every refusal the gateway can give: reason code → HTTP status, title and default sentence (RFC 9457 problem details).

import type { DenyReason } from './policy/reasons.js';

export interface ProblemSpec {
  status: number;
  title: string;
  /** default sentence when the stage has nothing more specific to say */
  detail: string;
}

export const PROBLEMS: Readonly<Record<DenyReason, ProblemSpec>> = Object.freeze({
  token_missing: { status: 401, title: 'Token missing', detail: 'Send an access token from the identity provider as "Authorization: Bearer <token>".' },
  token_invalid: { status: 401, title: 'Token invalid', detail: 'The access token could not be verified; request a new token from the identity provider.' },
  token_expired: { status: 401, title: 'Token expired', detail: 'The access token has expired or is too old; request a new token.' },
  issuer_mismatch: { status: 401, title: 'Wrong issuer', detail: 'The access token was not issued by the identity provider this gateway trusts.' },
  audience_mismatch: { status: 401, title: 'Wrong audience', detail: 'The access token was not issued for this gateway.' },
  token_type_invalid: { status: 401, title: 'Wrong token type', detail: 'An access token is required; ID tokens and other token types are refused.' },
  token_not_yet_valid: { status: 401, title: 'Token not yet valid', detail: 'The access token is not valid yet; check your clock or request a new token.' },
  keys_unavailable: { status: 503, title: 'Signing keys unavailable', detail: 'The gateway cannot currently verify tokens because the identity provider\'s keys are unavailable. Try again later.' },
  nationality_not_allowed: { status: 403, title: 'Nationality not allowed', detail: 'Access requires Dutch nationality.' },
  nationality_claim_invalid: { status: 403, title: 'Nationality claim invalid', detail: 'The token\'s nationality claim is missing or malformed; ask the identity provider administrators to correct your account.' },
  clearance_insufficient: { status: 403, title: 'Clearance insufficient', detail: 'Your security clearance is below the level this endpoint requires.' },
  clearance_expired: { status: 403, title: 'Clearance expired', detail: 'Your security clearance has expired; renew your screening before using this gateway.' },
  clearance_claim_invalid: { status: 403, title: 'Clearance claim invalid', detail: 'The token\'s clearance claims are missing or malformed; ask the identity provider administrators to correct your account.' },
  org_not_allowed: { status: 403, title: 'Organisation not allowed', detail: 'Your organisation is not allowed to use this gateway.' },
  certificate_binding_invalid: { status: 401, title: 'Certificate binding invalid', detail: 'The access token is not bound to the client certificate presented.' },
  subject_revoked: { status: 403, title: 'Access revoked', detail: 'Your access has been revoked by the ministry\'s operators.' },
  token_revoked: { status: 401, title: 'Token revoked', detail: 'This access token has been revoked; request a new token.' },
  access_suspended: { status: 403, title: 'Access suspended', detail: 'Vendor access is suspended at the moment.' },
  rate_limited: { status: 429, title: 'Too many requests', detail: 'You have sent too many requests; wait before retrying.' },
  route_not_allowed: { status: 404, title: 'Not found', detail: 'This endpoint is not available through the gateway. GET /_metagate/whoami lists the endpoints you may use.' },
  method_not_allowed: { status: 405, title: 'Method not allowed', detail: 'Only GET requests are allowed through the gateway.' },
  query_not_allowed: { status: 400, title: 'Query parameter not allowed', detail: 'The request carries a query parameter this endpoint does not accept.' },
  query_value_not_allowed: { status: 403, title: 'Query value not allowed', detail: 'A query parameter value is not allowed for this endpoint.' },
  path_rejected: { status: 400, title: 'Request target rejected', detail: 'The request target is ambiguous or malformed and was refused.' },
  request_rejected: { status: 400, title: 'Request rejected', detail: 'The request is malformed or carries something the gateway does not accept.' },
  upstream_error: { status: 502, title: 'Bad gateway', detail: 'The metadata platform did not answer correctly. Try again later.' },
  upstream_timeout: { status: 504, title: 'Gateway timeout', detail: 'The metadata platform did not answer in time. Try again later.' },
  response_rejected: { status: 502, title: 'Response rejected', detail: 'The metadata platform\'s answer did not pass the gateway\'s response checks and was withheld.' },
  state_unavailable: { status: 503, title: 'Service unavailable', detail: 'The gateway cannot check revocations and suspensions right now, so it refuses all requests. Try again later.' },
  audit_unavailable: { status: 503, title: 'Service unavailable', detail: 'The gateway cannot write its audit trail right now, so it refuses all requests. Try again later.' },
  shutting_down: { status: 503, title: 'Service unavailable', detail: 'The gateway is shutting down; retry on another instance.' },
  internal_error: { status: 500, title: 'Internal error', detail: 'The gateway failed to handle the request and refused it. Quote the request id to the operators.' },
});

/** Problem for an allowed request whose entity the platform does not have (not a refusal). */
export const NOT_FOUND_PROBLEM = Object.freeze({ type: 'urn:metagate:problem:not_found', title: 'Not found', status: 404, detail: 'The metadata platform has no such entity.' });

export const PROBLEM_CONTENT_TYPE = 'application/problem+json';

export interface ProblemBody {
  type: string;
  title: string;
  status: number;
  detail: string;
  code: DenyReason;
  request_id: string;
}

export function problemBody(reason: DenyReason, requestId: string, detail?: string, status?: number): ProblemBody {
  const spec = PROBLEMS[reason];
  return {
    type: `urn:metagate:problem:${reason}`,
    title: spec.title,
    status: status ?? spec.status,
    detail: detail ?? spec.detail,
    code: reason,
    request_id: requestId,
  };
}

const SHOWABLE = /^[\x21\x23-\x5b\x5d-\x7e]+$/;

/**
 * A value taken from a request (a token's header or payload) for a sentence the vendor and the audit trail read:
 * quoted when it is short printable ASCII without quotes or backslashes, otherwise only described. Text from an
 * unverified token must not put line breaks, bidi controls or look-alike characters in front of a SOC analyst.
 */
export function shown(value: string, max = 32): string {
  return value.length <= max && SHOWABLE.test(value) ? `"${value}"` : `(${value.length} character${value.length === 1 ? '' : 's'}, not shown)`;
}
