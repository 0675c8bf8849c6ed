// Stage 4's hand-over: a result now (claims refused, or a store in this process), or one call of `later` once a store
// that answers later has answered — by callback (checkLater) or promise (check) — and fail closed on every error.

import { describe, expect, it, vi } from 'vitest';
import { authorize, type AuthorizeResult } from '../../src/pipeline/authorize.js';
import { compilePolicy } from '../../src/policy/claims.js';
import { MemoryStore } from '../../src/state/memory.js';
import { StateUnavailableError, type CheckCallback, type CheckInput, type CheckResult, type StateStore } from '../../src/state/store.js';

const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);
const policy = compilePolicy({
  claims: { subject: 'sub', nationality: 'nationality', clearance: 'clearance', clearanceExpiresAt: 'clearance_expires_at', org: 'org' },
  nationality: { allowed: ['NL'], arrayPolicy: 'reject', caseInsensitive: false },
  clearance: { scale: ['DEPARTEMENTAAL_VERTROUWELIJK', 'STG_CONFIDENTIEEL', 'STG_GEHEIM', 'STG_ZEER_GEHEIM'], acceptRanks: false },
  categories: { catalogue: { minClearance: 'STG_CONFIDENTIEEL' }, lineage: { minClearance: 'STG_GEHEIM' }, usage: { minClearance: 'STG_CONFIDENTIEEL' } },
  orgs: { required: false, allowed: [] },
});
const payload = Object.freeze({ sub: 'anna.devries@vendor.example', jti: 'jti-1', nationality: 'NL', clearance: 'STG_GEHEIM', clearance_expires_at: '2027-01-01' });
const input = { payload, policy, now: NOW, category: 'catalogue' as const };
const RATE_LIMIT = { perSubject: 10, global: 0, windowMs: 60_000 };

const allowed = (): CheckResult => ({ rateLimit: { allowed: true, scope: 'subject', limit: 10, remaining: 9, resetMs: 1_000 } });

/** A store that answers later, through checkLater and/or check(), as the test says; every other method is unused. */
function laterStore(opts: { checkLater?: (q: CheckInput, done: CheckCallback) => void; check?: (q: CheckInput) => Promise<CheckResult> }): StateStore {
  const memory = new MemoryStore({ rateLimit: RATE_LIMIT });
  const unused = ['revoke', 'unrevoke', 'listRevocations', 'suspend', 'resume', 'listSuspensions', 'scheduleWindow', 'cancelWindow', 'listWindows', 'rateLimitState', 'health', 'onChange', 'close'];
  const fail = (m: string) => () => {
    throw new Error(`${m} is not used here`);
  };
  return {
    ...Object.fromEntries(unused.map((m) => [m, fail(m)])),
    backend: 'redis',
    check: opts.check ?? ((q) => memory.check(q)),
    ...(opts.checkLater ? { checkLater: opts.checkLater } : {}),
  } as StateStore;
}

/** Runs authorize and collects what it returned and every call of `later`. */
async function run(store: StateStore, withLater = true): Promise<{ now: AuthorizeResult | undefined; later: AuthorizeResult[] }> {
  const later: AuthorizeResult[] = [];
  const now = authorize(input, { store }, withLater ? (r) => later.push(r) : undefined);
  await new Promise((r) => setTimeout(r, 20));
  return { now, later };
}

const reasons = (r: AuthorizeResult | undefined) => (r === undefined ? 'waiting' : r.ok ? 'allow' : r.denials.map((d) => d.reason).join(','));

describe('authorize: answered now or later, never both, never neither', () => {
  it('a store in this process (memory) answers now; no callback is needed', async () => {
    const { now, later } = await run(new MemoryStore({ rateLimit: RATE_LIMIT }), false);
    expect(reasons(now)).toBe('allow');
    expect(later).toEqual([]);
  });

  it('refused claims are answered now, without asking the store', async () => {
    const checkLater = vi.fn();
    const later: AuthorizeResult[] = [];
    const now = authorize({ ...input, payload: { ...payload, nationality: 'DE' } }, { store: laterStore({ checkLater }) }, (r) => later.push(r));
    expect(reasons(now)).toBe('nationality_not_allowed');
    expect(checkLater).not.toHaveBeenCalled();
    expect(later).toEqual([]);
  });

  const table: [string, Parameters<typeof laterStore>[0], string][] = [
    ['checkLater answers a result', { checkLater: (_q, done) => setImmediate(() => done(allowed())) }, 'allow'],
    ['checkLater answers a revocation', { checkLater: (_q, done) => setImmediate(() => done({ ...allowed(), subjectRevoked: { kind: 'subject', id: 'anna.devries@vendor.example', reason: 'left', by: 'soc', createdAt: NOW } })) }, 'subject_revoked'],
    ['checkLater answers an error', { checkLater: (_q, done) => setImmediate(() => done(new StateUnavailableError('redis down'))) }, 'state_unavailable'],
    ['checkLater answers an error that is not the store\'s own', { checkLater: (_q, done) => setImmediate(() => done(new TypeError('bug'))) }, 'state_unavailable'],
    ['a store with check() only resolves', { check: async () => allowed() }, 'allow'],
    ['a store with check() only rejects', { check: async () => Promise.reject(new StateUnavailableError('redis down')) }, 'state_unavailable'],
  ];
  for (const [name, store, want] of table) {
    it(`${name}: undefined now, then one call of later: ${want}`, async () => {
      const { now, later } = await run(laterStore(store));
      expect(now).toBeUndefined();
      expect(later.map(reasons)).toEqual([want]);
    });
  }

  it('checkLater preferred over check() when a store has both', async () => {
    const check = vi.fn(async () => allowed());
    const { later } = await run(laterStore({ checkLater: (_q, done) => setImmediate(() => done(allowed())), check }));
    expect(later.map(reasons)).toEqual(['allow']);
    expect(check).not.toHaveBeenCalled();
  });

  it('a store that throws at once (closed, bad time) is answered now, state_unavailable, and later is never called', async () => {
    const throwing = (err: Error) => () => {
      throw err;
    };
    for (const store of [laterStore({ checkLater: throwing(new StateUnavailableError('closed')) }), laterStore({ check: throwing(new TypeError('bad time')) })]) {
      const { now, later } = await run(store);
      expect(reasons(now)).toBe('state_unavailable');
      expect(later).toEqual([]);
    }
  });

  it('a store that answers later, given no callback, fails closed now instead of leaving the request waiting', async () => {
    const checkLater = vi.fn();
    const { now, later } = await run(laterStore({ checkLater }), false);
    expect(reasons(now)).toBe('state_unavailable');
    expect(checkLater).not.toHaveBeenCalled();
    expect(later).toEqual([]);
  });
});
