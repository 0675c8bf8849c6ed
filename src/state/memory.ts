// In-memory StateStore for a single instance (the embedded default), plus the pure rules both stores share.

import {
  StateUnavailableError,
  type CheckInput,
  type CheckResult,
  type RateLimitOutcome,
  type RateLimitPolicy,
  type Revocation,
  type StateStore,
  type StoreHealth,
  type Suspension,
  type SuspensionWindow,
} from './store.js';

// ---------------------------------------------------------------------------------------------------------------
// Shared rules. The Redis store imports these so both backends compute windows, outcomes and orderings the same
// way; the Redis Lua script mirrors `decideRateLimit`, `isRevocationActive` and `isWindowInForce`.
// ---------------------------------------------------------------------------------------------------------------

/** Which limit a request would hit: none, the per-subject limit or the global ceiling (checked in that order). */
export type RateLimitDecision = 'ok' | 'subject' | 'global';

/** Validates a rate-limit policy and returns a frozen copy; messages name the option path. */
export function validateRateLimitPolicy(policy: RateLimitPolicy, path = 'rateLimit'): Readonly<RateLimitPolicy> {
  const problems: string[] = [];
  if (!Number.isSafeInteger(policy.perSubject) || policy.perSubject < 0) {
    problems.push(`${path}.perSubject must be a non-negative integer`);
  }
  if (!Number.isSafeInteger(policy.global) || policy.global < 0) {
    problems.push(`${path}.global must be a non-negative integer (0 = no ceiling)`);
  }
  if (!Number.isSafeInteger(policy.windowMs) || policy.windowMs <= 0) {
    problems.push(`${path}.windowMs must be a positive integer`);
  }
  if (problems.length > 0) throw new RangeError(problems.join('; '));
  return Object.freeze({ perSubject: policy.perSubject, global: policy.global, windowMs: policy.windowMs });
}

/**
 * Fixed window: time is cut into windows of `windowMs` aligned on the epoch, and every request in a window counts
 * against that window's counters. Chosen because it costs one counter per subject and gives exact, testable numbers;
 * the price is that a client can send up to twice the limit across a window boundary.
 */
export function fixedWindow(now: number, windowMs: number): { index: number; resetMs: number } {
  const index = Math.floor(now / windowMs);
  return { index, resetMs: (index + 1) * windowMs - now };
}

/** Decides on counts as they were before this request; a refused request consumes nothing. */
export function decideRateLimit(policy: RateLimitPolicy, subjectCount: number, globalCount: number): RateLimitDecision {
  if (subjectCount >= policy.perSubject) return 'subject';
  if (policy.global > 0 && globalCount >= policy.global) return 'global';
  return 'ok';
}

/**
 * The outcome reported to the caller. `subjectCount` is the subject's count after this request (or the unchanged
 * count when nothing was consumed). An allowed request reports the subject's own budget; a refused one reports the
 * limit that refused it, with nothing remaining.
 */
export function rateLimitOutcome(
  policy: RateLimitPolicy,
  decision: RateLimitDecision,
  subjectCount: number,
  resetMs: number,
): RateLimitOutcome {
  if (decision === 'subject') {
    return { allowed: false, scope: 'subject', limit: policy.perSubject, remaining: 0, resetMs };
  }
  if (decision === 'global') {
    return { allowed: false, scope: 'global', limit: policy.global, remaining: 0, resetMs };
  }
  return { allowed: true, limit: policy.perSubject, remaining: Math.max(0, policy.perSubject - subjectCount), resetMs };
}

/** Subject and global counters as `rateLimitState` reports them. A global limit of 0 means "no ceiling". */
export function rateLimitSnapshot(
  policy: RateLimitPolicy,
  subjectCount: number,
  globalCount: number,
  resetMs: number,
): { subject: RateLimitOutcome; global: RateLimitOutcome } {
  const subjectAllowed = subjectCount < policy.perSubject;
  const globalAllowed = policy.global === 0 || globalCount < policy.global;
  return {
    subject: {
      allowed: subjectAllowed,
      ...(subjectAllowed ? {} : { scope: 'subject' as const }),
      limit: policy.perSubject,
      remaining: Math.max(0, policy.perSubject - subjectCount),
      resetMs,
    },
    global: {
      allowed: globalAllowed,
      ...(globalAllowed ? {} : { scope: 'global' as const }),
      limit: policy.global,
      remaining: policy.global === 0 ? 0 : Math.max(0, policy.global - globalCount),
      resetMs,
    },
  };
}

/** A revocation is in force until its `expiresAt` (exclusive); without `expiresAt` until it is undone. */
export function isRevocationActive(r: Revocation, now: number): boolean {
  return r.expiresAt === undefined || now < r.expiresAt;
}

/** A window suspends requests when `start <= now < end` and it is global or names the request's organisation. */
export function isWindowInForce(w: SuspensionWindow, now: number, org: string | undefined): boolean {
  return w.start <= now && now < w.end && (w.org === undefined || w.org === org);
}

export function compareWindows(a: SuspensionWindow, b: SuspensionWindow): number {
  return a.start - b.start || compareStrings(a.id, b.id);
}

export function compareRevocations(a: Revocation, b: Revocation): number {
  return a.createdAt - b.createdAt || compareStrings(a.kind, b.kind) || compareStrings(a.id, b.id);
}

/** The global kill switch first, then organisations by name. */
export function compareSuspensions(a: Suspension, b: Suspension): number {
  if (a.org === undefined) return b.org === undefined ? 0 : -1;
  if (b.org === undefined) return 1;
  return compareStrings(a.org, b.org);
}

function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

// Records are copied field by field on the way in, so neither extra properties nor later mutation by the caller
// reach the store, and both backends hold exactly the same shape.

export function normalizeRevocation(r: Revocation): Revocation {
  if (r.kind !== 'subject' && r.kind !== 'token') throw new TypeError('revocation kind must be "subject" or "token"');
  return {
    kind: r.kind,
    id: r.id,
    reason: r.reason,
    by: r.by,
    createdAt: r.createdAt,
    ...(r.expiresAt === undefined ? {} : { expiresAt: r.expiresAt }),
  };
}

export function normalizeSuspension(s: Suspension): Suspension {
  return { ...(s.org === undefined ? {} : { org: s.org }), reason: s.reason, by: s.by, createdAt: s.createdAt };
}

export function normalizeWindow(w: SuspensionWindow): SuspensionWindow {
  return {
    id: w.id,
    label: w.label,
    start: w.start,
    end: w.end,
    ...(w.org === undefined ? {} : { org: w.org }),
    reason: w.reason,
    by: w.by,
    createdAt: w.createdAt,
  };
}

export function suspensionInForce(s: Suspension): NonNullable<CheckResult['suspended']> {
  return { reason: s.reason, ...(s.org === undefined ? {} : { org: s.org }), source: 'kill_switch' };
}

export function windowInForce(w: SuspensionWindow): NonNullable<CheckResult['suspended']> {
  return { reason: w.reason, label: w.label, ...(w.org === undefined ? {} : { org: w.org }), source: 'window' };
}

export function assertTime(now: number, name = 'now'): void {
  if (!Number.isFinite(now)) throw new TypeError(`${name} must be a finite epoch-ms number`);
}

/** Calls every listener; one listener's failure must neither stop the others nor fail the mutation. */
export function notifyListeners(listeners: Iterable<() => void>): void {
  for (const listener of [...listeners]) {
    try {
      listener();
    } catch {
      // A broken listener is the listener's problem; the state change itself has already succeeded.
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// MemoryStore
// ---------------------------------------------------------------------------------------------------------------

export interface MemoryStoreOptions {
  rateLimit: RateLimitPolicy;
}

interface WindowCounters {
  global: number;
  subjects: Map<string, number>;
}

export class MemoryStore implements StateStore {
  readonly backend = 'memory' as const;

  private readonly policy: Readonly<RateLimitPolicy>;
  private readonly revoked = { subject: new Map<string, Revocation>(), token: new Map<string, Revocation>() };
  /** the global kill switch, kept apart from organisations so that no organisation name can stand for it */
  private killSwitch: Suspension | undefined;
  private readonly orgSuspensions = new Map<string, Suspension>();
  private readonly windows = new Map<string, SuspensionWindow>();
  /** rate-limit counters per fixed-window index */
  private readonly counters = new Map<number, WindowCounters>();
  private newestWindow = Number.NEGATIVE_INFINITY;
  private readonly listeners = new Set<() => void>();
  private closed = false;

  constructor(opts: MemoryStoreOptions) {
    this.policy = validateRateLimitPolicy(opts.rateLimit);
  }

  async check(input: CheckInput): Promise<CheckResult> {
    return this.checkNow(input);
  }

  checkNow(input: CheckInput): CheckResult {
    this.assertOpen();
    assertTime(input.now);
    const { now } = input;

    const subjectRevoked = this.activeRevocation('subject', input.subject, now);
    const tokenRevoked = input.jti === undefined ? undefined : this.activeRevocation('token', input.jti, now);
    const suspended = this.suspensionFor(input.org, now);

    const { index, resetMs } = fixedWindow(now, this.policy.windowMs);
    const counters = this.countersFor(index);
    const subjectCount = counters.subjects.get(input.subject) ?? 0;
    const decision = decideRateLimit(this.policy, subjectCount, counters.global);

    let countAfter = subjectCount;
    const refusedAlready = subjectRevoked !== undefined || tokenRevoked !== undefined || suspended !== undefined;
    if (!refusedAlready && decision === 'ok') {
      countAfter = subjectCount + 1;
      counters.subjects.set(input.subject, countAfter);
      if (this.policy.global > 0) counters.global += 1;
    }

    return {
      ...(subjectRevoked ? { subjectRevoked: { ...subjectRevoked } } : {}),
      ...(tokenRevoked ? { tokenRevoked: { ...tokenRevoked } } : {}),
      ...(suspended ? { suspended } : {}),
      rateLimit: rateLimitOutcome(this.policy, decision, countAfter, resetMs),
    };
  }

  async revoke(r: Revocation): Promise<void> {
    this.assertOpen();
    const record = normalizeRevocation(r);
    this.revoked[record.kind].set(record.id, record);
    this.changed();
  }

  async unrevoke(kind: Revocation['kind'], id: string): Promise<boolean> {
    this.assertOpen();
    const existed = this.revoked[kind].delete(id);
    if (existed) this.changed();
    return existed;
  }

  async listRevocations(now: number): Promise<Revocation[]> {
    this.assertOpen();
    assertTime(now);
    const out: Revocation[] = [];
    for (const kind of ['subject', 'token'] as const) {
      for (const id of [...this.revoked[kind].keys()]) {
        const r = this.activeRevocation(kind, id, now);
        if (r) out.push({ ...r });
      }
    }
    return out.sort(compareRevocations);
  }

  async suspend(s: Suspension): Promise<void> {
    this.assertOpen();
    const record = normalizeSuspension(s);
    if (record.org === undefined) this.killSwitch = record;
    else this.orgSuspensions.set(record.org, record);
    this.changed();
  }

  async resume(org?: string): Promise<boolean> {
    this.assertOpen();
    let existed: boolean;
    if (org === undefined) {
      existed = this.killSwitch !== undefined;
      this.killSwitch = undefined;
    } else {
      existed = this.orgSuspensions.delete(org);
    }
    if (existed) this.changed();
    return existed;
  }

  async listSuspensions(): Promise<Suspension[]> {
    this.assertOpen();
    const all = this.killSwitch ? [this.killSwitch, ...this.orgSuspensions.values()] : [...this.orgSuspensions.values()];
    return all.map((s) => ({ ...s })).sort(compareSuspensions);
  }

  async scheduleWindow(w: SuspensionWindow): Promise<void> {
    this.assertOpen();
    const record = normalizeWindow(w);
    this.windows.set(record.id, record);
    this.changed();
  }

  async cancelWindow(id: string): Promise<boolean> {
    this.assertOpen();
    const existed = this.windows.delete(id);
    if (existed) this.changed();
    return existed;
  }

  /** Windows that have not ended yet (in force or upcoming), by start; ended windows are pruned. */
  async listWindows(now: number): Promise<SuspensionWindow[]> {
    this.assertOpen();
    assertTime(now);
    const out: SuspensionWindow[] = [];
    for (const [id, w] of [...this.windows]) {
      if (w.end <= now) this.windows.delete(id);
      else out.push({ ...w });
    }
    return out.sort(compareWindows);
  }

  async rateLimitState(subject: string, now: number): Promise<{ subject: RateLimitOutcome; global: RateLimitOutcome }> {
    this.assertOpen();
    assertTime(now);
    const { index, resetMs } = fixedWindow(now, this.policy.windowMs);
    const counters = this.counters.get(index);
    return rateLimitSnapshot(this.policy, counters?.subjects.get(subject) ?? 0, counters?.global ?? 0, resetMs);
  }

  health(): StoreHealth {
    return this.closed ? { ok: false, backend: 'memory', detail: 'store closed' } : { ok: true, backend: 'memory' };
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    this.listeners.clear();
  }

  private assertOpen(): void {
    if (this.closed) throw new StateUnavailableError('memory store is closed');
  }

  private changed(): void {
    notifyListeners(this.listeners);
  }

  /** Expired revocations are treated as absent and removed on sight. */
  private activeRevocation(kind: Revocation['kind'], id: string, now: number): Revocation | undefined {
    const r = this.revoked[kind].get(id);
    if (r === undefined) return undefined;
    if (isRevocationActive(r, now)) return r;
    this.revoked[kind].delete(id);
    return undefined;
  }

  private suspensionFor(org: string | undefined, now: number): CheckResult['suspended'] {
    if (this.killSwitch) return suspensionInForce(this.killSwitch);
    if (org !== undefined) {
      const own = this.orgSuspensions.get(org);
      if (own) return suspensionInForce(own);
    }
    let first: SuspensionWindow | undefined;
    for (const w of this.windows.values()) {
      if (isWindowInForce(w, now, org) && (first === undefined || compareWindows(w, first) < 0)) first = w;
    }
    return first ? windowInForce(first) : undefined;
  }

  /** Counters of the window `index`; counters of earlier windows are dropped once a later window is seen. */
  private countersFor(index: number): WindowCounters {
    if (index > this.newestWindow) {
      this.newestWindow = index;
      for (const key of [...this.counters.keys()]) if (key < index) this.counters.delete(key);
    }
    let counters = this.counters.get(index);
    if (!counters) {
      counters = { global: 0, subjects: new Map() };
      this.counters.set(index, counters);
    }
    return counters;
  }
}
