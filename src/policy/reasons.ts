// The closed vocabulary of decision reasons, shared by audit records, problem responses and metric labels.

export const DENY_REASONS = [
  'token_missing',
  'token_invalid',
  'token_expired',
  'issuer_mismatch',
  'audience_mismatch',
  'token_type_invalid',
  'token_not_yet_valid',
  'keys_unavailable',
  'nationality_not_allowed',
  'nationality_claim_invalid',
  'clearance_insufficient',
  'clearance_expired',
  'clearance_claim_invalid',
  'org_not_allowed',
  'certificate_binding_invalid',
  'subject_revoked',
  'token_revoked',
  'access_suspended',
  'rate_limited',
  'route_not_allowed',
  'method_not_allowed',
  'query_not_allowed',
  'query_value_not_allowed',
  'path_rejected',
  'request_rejected',
  'upstream_error',
  'upstream_timeout',
  'response_rejected',
  'state_unavailable',
  'audit_unavailable',
  'shutting_down',
  'internal_error',
] as const;

export type DenyReason = (typeof DENY_REASONS)[number];

const REASON_SET: ReadonlySet<string> = new Set(DENY_REASONS);

export function isDenyReason(value: unknown): value is DenyReason {
  return typeof value === 'string' && REASON_SET.has(value);
}

export const CATEGORIES = ['catalogue', 'lineage', 'usage'] as const;
export type Category = (typeof CATEGORIES)[number];
