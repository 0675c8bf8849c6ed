// The shared-state contract: revocations, kill switch, suspension windows and rate limits behind one interface.

/** Thrown by every store operation when the backing state cannot be read or written; the gateway fails closed on it. */
export class StateUnavailableError extends Error {
  override readonly name = 'StateUnavailableError';
  readonly code = 'STATE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

export interface Revocation {
  kind: 'subject' | 'token';
  /** subject (`sub`) or token id (`jti`) */
  id: string;
  reason: string;
  /** operator identity that made the revocation */
  by: string;
  createdAt: number; // epoch ms
  /** epoch ms; absent = until undone */
  expiresAt?: number;
}

/** Global kill switch (org absent) or one organisation's suspension. */
export interface Suspension {
  /** absent = every vendor engineer */
  org?: string;
  reason: string;
  by: string;
  createdAt: number;
}

/** A scheduled window (e.g. an exercise) during which vendor access is suspended. */
export interface SuspensionWindow {
  id: string;
  label: string;
  start: number; // epoch ms, inclusive
  end: number; // epoch ms, exclusive
  /** absent = every vendor engineer */
  org?: string;
  reason: string;
  by: string;
  createdAt: number;
}

export interface RateLimitPolicy {
  /** requests allowed per subject per window */
  perSubject: number;
  /** requests allowed per window across all subjects (0 = no ceiling) */
  global: number;
  windowMs: number;
}

export interface RateLimitOutcome {
  allowed: boolean;
  /** which limit refused the request, when it did */
  scope?: 'subject' | 'global';
  limit: number;
  remaining: number;
  /** ms until the current window ends */
  resetMs: number;
}

export interface CheckInput {
  subject: string;
  jti?: string;
  org?: string;
  now: number; // epoch ms
}

/** Everything the authorize stage needs from shared state, in one call (one round trip for Redis). */
export interface CheckResult {
  subjectRevoked?: Revocation;
  tokenRevoked?: Revocation;
  /** the first suspension in force: global kill switch, org suspension or an active window */
  suspended?: { reason: string; label?: string; org?: string; source: 'kill_switch' | 'window' };
  rateLimit: RateLimitOutcome;
}

export interface StoreHealth {
  ok: boolean;
  backend: 'memory' | 'redis';
  detail?: string;
}

/** How checkLater answers: the result, or the error check() would reject with (an Error, never a CheckResult). */
export type CheckCallback = (outcome: CheckResult | Error) => void;

export interface StateStore {
  readonly backend: 'memory' | 'redis';
  /**
   * Revocation, suspension and rate-limit check for one request. Consumes one rate-limit unit only when the
   * request is not already refused by revocation or suspension. Throws StateUnavailableError when state cannot be read.
   */
  check(input: CheckInput): Promise<CheckResult>;
  /**
   * The same check answered without waiting, for a store that holds its state in this process (the memory store);
   * absent on stores that must ask elsewhere (Redis). Throws where check() would reject.
   */
  checkNow?(input: CheckInput): CheckResult;
  /**
   * The same check with a callback instead of a promise, for a store that must ask elsewhere (Redis): `done` is called
   * exactly once, after this returns. Throws (and never calls `done`) where check() would reject at once: bad input or
   * a closed store. `done` must not throw. The gateway asks this way: a promise per check, and one more per stage
   * waiting on it, is work a callback does not need (nineteenth pass in docs/performance.md).
   */
  checkLater?(input: CheckInput, done: CheckCallback): void;

  revoke(r: Revocation): Promise<void>;
  /** returns whether a revocation existed */
  unrevoke(kind: Revocation['kind'], id: string): Promise<boolean>;
  listRevocations(now: number): Promise<Revocation[]>;

  suspend(s: Suspension): Promise<void>;
  /** returns whether a suspension existed */
  resume(org?: string): Promise<boolean>;
  listSuspensions(): Promise<Suspension[]>;

  scheduleWindow(w: SuspensionWindow): Promise<void>;
  cancelWindow(id: string): Promise<boolean>;
  listWindows(now: number): Promise<SuspensionWindow[]>;

  rateLimitState(subject: string, now: number): Promise<{ subject: RateLimitOutcome; global: RateLimitOutcome }>;

  health(): StoreHealth;
  /**
   * Shared stores only: one round trip that resolves when the store answers now and rejects (StateUnavailableError)
   * when it does not — how the gateway tells a hung store from one that recovered while no request asks it.
   */
  probe?(): Promise<void>;
  /** subscribe to "state changed" notifications (pub/sub across replicas); returns an unsubscribe function */
  onChange(listener: () => void): () => void;
  /**
   * Shared stores only: called when the store finds that its backing state was lost while this gateway ran (Redis
   * restarted without persistence, flushed or evicted) — revocations, suspensions and windows made before are gone.
   */
  onStateLost?(listener: () => void): void;
  close(): Promise<void>;
}
