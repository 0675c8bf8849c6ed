// The gateway's use of the state store: one check() per authorized request, none before, fail closed when it fails.

import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { startHarness, type Harness } from '../helpers/harness.js';
import { request, type SimpleResponse } from '../helpers/http.js';
import { personas } from '../../src/demo/issuer.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { MemoryStore } from '../../src/state/memory.js';
import { StateUnavailableError, type CheckInput, type CheckResult, type StateStore } from '../../src/state/store.js';

const CATALOGUE = `/api/v1/tables/${DEMO_TABLE_ID}`;
const LINEAGE = `/api/v1/lineage/table/${DEMO_TABLE_ID}`;
const USAGE = `/api/v1/usage/table/${DEMO_TABLE_ID}`;
const PER_SUBJECT = 5;

/** Wraps a MemoryStore, counts every call by method, and lets a test take over check(). */
class SpyStore implements StateStore {
  readonly backend = 'memory' as const;
  readonly calls = new Map<string, number>();
  readonly checks: CheckInput[] = [];
  /** when set, check() answers with this instead of the real store */
  checkOverride: ((input: CheckInput) => Promise<CheckResult>) | null = null;
  constructor(readonly inner: MemoryStore) {}
  private count(name: string): void {
    this.calls.set(name, (this.calls.get(name) ?? 0) + 1);
  }
  reset(): void {
    this.calls.clear();
    this.checks.length = 0;
    this.checkOverride = null;
  }
  check(input: CheckInput): Promise<CheckResult> {
    this.count('check');
    this.checks.push({ ...input });
    return this.checkOverride ? this.checkOverride(input) : this.inner.check(input);
  }
  revoke(...a: Parameters<StateStore['revoke']>) { this.count('revoke'); return this.inner.revoke(...a); }
  unrevoke(...a: Parameters<StateStore['unrevoke']>) { this.count('unrevoke'); return this.inner.unrevoke(...a); }
  listRevocations(now: number) { this.count('listRevocations'); return this.inner.listRevocations(now); }
  suspend(...a: Parameters<StateStore['suspend']>) { this.count('suspend'); return this.inner.suspend(...a); }
  resume(org?: string) { this.count('resume'); return this.inner.resume(org); }
  listSuspensions() { this.count('listSuspensions'); return this.inner.listSuspensions(); }
  scheduleWindow(...a: Parameters<StateStore['scheduleWindow']>) { this.count('scheduleWindow'); return this.inner.scheduleWindow(...a); }
  cancelWindow(id: string) { this.count('cancelWindow'); return this.inner.cancelWindow(id); }
  listWindows(now: number) { this.count('listWindows'); return this.inner.listWindows(now); }
  rateLimitState(s: string, now: number) { this.count('rateLimitState'); return this.inner.rateLimitState(s, now); }
  health() { return this.inner.health(); }
  onChange(l: () => void) { return this.inner.onChange(l); }
  close() { return this.inner.close(); }
}

let h: Harness;
let spy: SpyStore;

beforeAll(async () => {
  spy = new SpyStore(new MemoryStore({ rateLimit: { perSubject: PER_SUBJECT, global: 0, windowMs: 3_600_000 } }));
  h = await startHarness({ store: spy, configure: (cfg) => void (cfg.state.rateLimit = { perSubject: PER_SUBJECT, windowSec: 3600 }) });
});

afterAll(async () => {
  await h?.close();
});

let subjects = 0;
beforeEach(() => spy.reset());

/** a Dutch STG_GEHEIM engineer with a subject of their own (own rate-limit budget) */
function claims(extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...personas(Math.floor(Date.now() / 1000)).geheim!.claims, sub: `spy-${process.pid}-${++subjects}@vendor.example`, ...extra };
}

const get = async (path: string, token: string | null, method = 'GET'): Promise<SimpleResponse> =>
  request(h.vendorUrl, path, { method, headers: token === null ? {} : { authorization: `Bearer ${token}` } });
const codeOf = (r: SimpleResponse) => (r.status === 200 ? null : r.json<{ code: string }>().code);
const otherCalls = () => [...spy.calls].filter(([name]) => name !== 'check');

describe('store work per request', () => {
  it('an allowed request costs exactly one check() and nothing else, with subject, jti, org and now', async () => {
    const c = claims({ jti: 'jti-spy-1' });
    const token = await h.token(c);
    const before = Date.now();
    for (const [i, path] of [CATALOGUE, LINEAGE, USAGE, '/_metagate/whoami'].entries()) {
      const r = await get(path, token);
      expect(r.status, path).toBe(200);
      expect(spy.calls.get('check'), path).toBe(i + 1);
    }
    expect(otherCalls()).toEqual([]);
    expect(spy.checks).toHaveLength(4);
    for (const input of spy.checks) {
      expect(input).toMatchObject({ subject: c.sub, jti: 'jti-spy-1', org: 'vendor' });
      expect(input.now).toBeGreaterThanOrEqual(before);
      expect(input.now).toBeLessThanOrEqual(Date.now());
    }
  });

  it('concurrent requests: one check() each', async () => {
    const token = await h.token(claims());
    const results = await Promise.all(Array.from({ length: PER_SUBJECT }, () => get(CATALOGUE, token)));
    expect(results.map((r) => r.status)).toEqual(Array(PER_SUBJECT).fill(200));
    expect(spy.calls.get('check')).toBe(PER_SUBJECT);
    expect(otherCalls()).toEqual([]);
  });

  it('requests refused before authorization never reach the store', async () => {
    const good = await h.token(claims());
    const cases: Array<[string, string | null, string, string]> = [
      ['no token', null, CATALOGUE, 'token_missing'],
      ['a garbage token', 'not.a.jwt', CATALOGUE, 'token_invalid'],
      ['a foreign engineer', await h.token('foreign'), CATALOGUE, 'nationality_not_allowed'],
      ['an expired clearance', await h.token('expired'), CATALOGUE, 'clearance_expired'],
      ['insufficient clearance for lineage', await h.token('confidentieel'), LINEAGE, 'clearance_insufficient'],
      ['a data endpoint', good, `/api/v1/tables/${DEMO_TABLE_ID}/sampleData`, 'route_not_allowed'],
      ['a dot segment', good, '/api/v1/tables/../queries', 'path_rejected'],
    ];
    for (const [name, token, path, code] of cases) {
      const r = await get(path, token);
      expect(codeOf(r), name).toBe(code);
    }
    expect(spy.calls.size).toBe(0);
  });

  it('requests refused by state cost exactly one check() each and no budget', async () => {
    const c = claims();
    const token = await h.token(c);
    await spy.inner.revoke({ kind: 'subject', id: c.sub as string, reason: 'spy test', by: 'test', createdAt: Date.now() });
    spy.reset();
    expect(codeOf(await get(CATALOGUE, token))).toBe('subject_revoked');
    expect(spy.calls.get('check')).toBe(1);
    await spy.inner.unrevoke('subject', c.sub as string);

    await spy.inner.suspend({ reason: 'spy test', by: 'test', createdAt: Date.now() });
    spy.reset();
    expect(codeOf(await get(CATALOGUE, token))).toBe('access_suspended');
    expect(spy.calls.get('check')).toBe(1);
    await spy.inner.resume();

    spy.reset();
    for (let i = 0; i < PER_SUBJECT; i++) expect((await get(CATALOGUE, token)).status).toBe(200);
    const limited = await get(CATALOGUE, token);
    expect(codeOf(limited)).toBe('rate_limited');
    expect(spy.calls.get('check')).toBe(PER_SUBJECT + 1);
    expect(otherCalls()).toEqual([]);
  });
});

describe('fail closed when the store fails', () => {
  it.each([
    ['StateUnavailableError', () => Promise.reject(new StateUnavailableError('test: redis gone')), 'cannot reach its shared state store'],
    ['any other error', () => Promise.reject(new TypeError('test: unexpected reply')), 'shared state check failed'],
    ['a synchronous throw', () => { throw new StateUnavailableError('test: closed'); }, 'cannot reach its shared state store'],
  ])('%s → 503 state_unavailable, nothing forwarded, one audit record', async (_name, fail, detail) => {
    const token = await h.token(claims());
    spy.checkOverride = fail as (input: CheckInput) => Promise<CheckResult>;
    const upstream = h.upstream.requests.length;
    const records = h.audit.requestRecords().length;
    const r = await get(CATALOGUE, token);
    expect([r.status, codeOf(r)]).toEqual([503, 'state_unavailable']);
    expect(r.json<{ detail: string }>().detail).toContain(detail);
    expect(r.headers['ratelimit-limit']).toBeUndefined();
    expect(h.upstream.requests.length).toBe(upstream);
    const recs = h.audit.requestRecords().slice(records);
    expect(recs).toHaveLength(1);
    expect(recs[0]!.metagate).toMatchObject({ decision: 'deny', reasons: ['state_unavailable'] });
    expect(spy.calls.get('check')).toBe(1); // no retry
  });

  it('a check still pending when the store fails is refused, however long it took', async () => {
    const token = await h.token(claims());
    let fail!: (e: Error) => void;
    let entered!: () => void;
    const inCheck = new Promise<void>((r) => (entered = r));
    spy.checkOverride = () => new Promise<CheckResult>((_, reject) => { fail = reject; entered(); });
    const upstream = h.upstream.requests.length;
    const pending = get(CATALOGUE, token);
    await inCheck;
    await new Promise((r) => setTimeout(r, 100));
    fail(new StateUnavailableError('test: connection closed with the command in flight'));
    const r = await pending;
    expect([r.status, codeOf(r)]).toEqual([503, 'state_unavailable']);
    expect(h.upstream.requests.length).toBe(upstream);
  });
});
