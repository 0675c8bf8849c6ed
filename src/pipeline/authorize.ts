// Stage 4: decide on a verified token — claims, the rule's category, then revocation, suspension and rate limit.

import { checkCategory, evaluateClaims, type Denial, type Identity } from '../policy/claims.js';
import type { CompiledPolicy } from '../policy/claims.js';
import type { Category } from '../policy/reasons.js';
import { StateUnavailableError, type CheckResult, type StateStore } from '../state/store.js';
import type { Metrics } from '../observability/metrics.js';

export interface AuthorizeInput {
  payload: Record<string, unknown>;
  /** absent for gateway-internal routes (whoami), which need identity but no category */
  category?: Category;
  policy: CompiledPolicy;
  now: number;
}

export type AuthorizeResult =
  | { ok: true; identity: Identity; state: CheckResult }
  | { ok: false; denials: Denial[]; identity?: Identity; state?: CheckResult };

export interface AuthorizeDeps {
  store: StateStore;
  metrics?: Metrics;
}

/**
 * Identities read from verified token payloads, per policy. A verified payload is frozen and shared by every request
 * that presents its token (the authenticator's cache), and of everything the claims decide only the clearance expiry
 * depends on the time: a passing evaluation stays valid for that payload and policy until the clearance expires.
 */
const identities = new WeakMap<object, { policy: CompiledPolicy; identity: Identity }>();

function readIdentity(payload: Record<string, unknown>, policy: CompiledPolicy, now: number): { identity?: Identity; denials: Denial[] } {
  const hit = identities.get(payload);
  if (hit !== undefined && hit.policy === policy && hit.identity.clearanceExpiresAt > now) return { identity: hit.identity, denials: [] };
  const r = evaluateClaims(payload, policy, now);
  if (r.identity && r.denials.length === 0 && Object.isFrozen(payload)) identities.set(payload, { policy, identity: Object.freeze(r.identity) });
  return r;
}

/** Pure part: claims and category. */
export function authorizeClaims(input: AuthorizeInput): { identity?: Identity; denials: Denial[] } {
  const { identity, denials } = readIdentity(input.payload, input.policy, input.now);
  if (!identity) return { denials };
  if (input.category) {
    const d = checkCategory(identity, input.category, input.policy);
    if (d) return { identity, denials: [d] };
  }
  return { identity, denials: [] };
}

/** Translate the store's verdict into denials, in order of precedence. */
export function stateDenials(state: CheckResult): Denial[] {
  // The operators' reason, label and organisation go to the audit record only (note): vendor staff take no part in
  // operations or exercises (safeguard 3), and a window's label or a revocation's reason can name one.
  const out: Denial[] = [];
  if (state.subjectRevoked) out.push({ reason: 'subject_revoked', detail: 'your access was revoked', note: `your access was revoked: ${state.subjectRevoked.reason}` });
  if (state.tokenRevoked) out.push({ reason: 'token_revoked', detail: 'this token was revoked', note: `this token was revoked: ${state.tokenRevoked.reason}` });
  if (state.suspended) {
    const s = state.suspended;
    const what = s.source === 'window' ? 'vendor access is suspended during a scheduled window' : s.org ? 'vendor access for your organisation is suspended' : 'vendor access is suspended';
    const noted = s.source === 'window' ? `vendor access is suspended during ${s.label ?? 'a scheduled window'}` : s.org ? `vendor access for ${s.org} is suspended` : 'vendor access is suspended';
    out.push({ reason: 'access_suspended', detail: what, note: `${noted}: ${s.reason}` });
  }
  if (out.length === 0 && !state.rateLimit.allowed) {
    const secs = Math.max(1, Math.ceil(state.rateLimit.resetMs / 1000));
    out.push({ reason: 'rate_limited', detail: `${state.rateLimit.scope === 'global' ? 'the gateway-wide' : 'your'} limit of ${state.rateLimit.limit} requests is used up; retry in ${secs} s` });
  }
  return out;
}

/**
 * Claims, category, then the shared-state check. Returns the result when decided without waiting: the claims refuse,
 * or the store holds its state in this process (memory). Otherwise returns undefined and calls `later` once with the
 * result, when the store has answered (Redis). `later` must not throw, and is needed only for a store without
 * checkNow (the caller makes no closure for the memory store); without it such a store's check fails closed.
 */
export function authorize(input: AuthorizeInput, deps: AuthorizeDeps, later?: (result: AuthorizeResult) => void): AuthorizeResult | undefined {
  const claims = authorizeClaims(input);
  if (!claims.identity || claims.denials.length > 0) return { ok: false, denials: claims.denials, ...(claims.identity ? { identity: claims.identity } : {}) };
  const identity = claims.identity;
  const q: { subject: string; now: number; jti?: string; org?: string } = { subject: identity.subject, now: input.now };
  if (identity.jti !== undefined) q.jti = identity.jti;
  if (identity.org !== undefined) q.org = identity.org;
  const store = deps.store;
  const t0 = process.hrtime.bigint();
  if (store.checkNow) {
    let state: CheckResult;
    try {
      state = store.checkNow(q);
    } catch (err) {
      return stateFailure(err, identity, deps, t0);
    }
    return withState(identity, state, deps, t0);
  }
  if (later === undefined) return stateFailure(new Error('authorize: no callback for a store that answers later'), identity, deps, t0);
  try {
    if (store.checkLater) {
      // a callback, not a promise: see StateStore.checkLater
      store.checkLater(q, (outcome) => later(outcome instanceof Error ? stateFailure(outcome, identity, deps, t0) : withState(identity, outcome, deps, t0)));
    } else {
      store.check(q).then(
        (state) => later(withState(identity, state, deps, t0)),
        (err: unknown) => later(stateFailure(err, identity, deps, t0)),
      );
    }
  } catch (err) {
    return stateFailure(err, identity, deps, t0);
  }
  return undefined;
}

function withState(identity: Identity, state: CheckResult, deps: AuthorizeDeps, t0: bigint): AuthorizeResult {
  deps.metrics?.observeStoreCheck(Number(process.hrtime.bigint() - t0) / 1e9);
  const denials = stateDenials(state);
  if (denials.length > 0) return { ok: false, identity, state, denials };
  return { ok: true, identity, state };
}

function stateFailure(err: unknown, identity: Identity, deps: AuthorizeDeps, t0: bigint): AuthorizeResult {
  deps.metrics?.observeStoreCheck(Number(process.hrtime.bigint() - t0) / 1e9);
  deps.metrics?.storeErrors.inc();
  const detail = err instanceof StateUnavailableError ? 'the gateway cannot reach its shared state store, so it refuses all requests' : 'the shared state check failed, so the request is refused';
  return { ok: false, identity, denials: [{ reason: 'state_unavailable', detail }] };
}
