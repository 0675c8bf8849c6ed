// The gateway's long-lived parts (runtime config, keys, token verifier, state store, audit, metrics) and its reload.

import { readFileSync } from 'node:fs';
import type { Logger } from 'pino';
import type { Runtime } from './config/load.js';
import { KeyStore } from './auth/keystore.js';
import { Authenticator } from './pipeline/authenticate.js';
import { AuditTrail } from './observability/audit.js';
import { Forwarder } from './pipeline/forward.js';
import { UnreadAnswers } from './pipeline/unread.js';
import { sovereignLookup } from './sovereignty/lookup.js';
import { Metrics } from './observability/metrics.js';
import type { StateStore } from './state/store.js';
import { VERSION } from './version.js';

export interface GatewayDeps {
  runtime: Runtime;
  store: StateStore;
  audit: AuditTrail;
  logger: Logger;
  metrics?: Metrics;
  keys?: KeyStore;
  now?: () => number;
}

/** How long a failed state check keeps readiness false unless a later check succeeds. */
export const STORE_FAILURE_HOLD_MS = 2000;
/**
 * While the last state check failed, the store itself is asked this often whether it answers (StateStore.probe): a
 * store that stays hung keeps readiness false and metagate_store_up 0 without any vendor traffic, one that answers
 * lets the hold run out.
 */
export const STORE_PROBE_INTERVAL_MS = 500;

export class Gateway {
  runtime: Runtime;
  readonly store: StateStore;
  readonly audit: AuditTrail;
  readonly metrics: Metrics;
  readonly logger: Logger;
  keys: KeyStore;
  authenticator: Authenticator;
  readonly now: () => number;
  /** the upstream connection pool (upstream settings are bound at start) */
  readonly forwarder: Forwarder;
  /** answers handed to clients that have not taken them yet (vendor limits are bound at start) */
  readonly unread: UnreadAnswers;
  draining = false;
  private storeFailedAt = 0;
  private storeSucceededAt = 0;

  constructor(deps: GatewayDeps) {
    this.runtime = deps.runtime;
    this.store = deps.store;
    this.audit = deps.audit;
    this.logger = deps.logger;
    this.now = deps.now ?? Date.now;
    const ca = deps.runtime.config.upstream.caFile;
    // every new upstream connection resolves through the sovereignty guard (DNS rebinding cannot move it out)
    const lookup = sovereignLookup(deps.runtime);
    this.forwarder = new Forwarder(deps.runtime.config.upstream, { ...(ca ? { ca: readFileSync(ca) } : {}), ...(lookup ? { lookup } : {}) });
    this.metrics = deps.metrics ?? new Metrics({ version: VERSION, filterFields: filterFields(deps.runtime) });
    this.metrics.setConfigHash(deps.runtime.hash);
    const v = deps.runtime.config.vendor;
    this.unread = new UnreadAnswers({ timeoutMs: v.sendTimeoutMs, maxBytes: v.maxUnreadBytes, perSubject: v.maxUnreadAnswersPerSubject }, () => this.metrics.answersAbandoned.inc());
    this.metrics.unread = () => this.unread;
    this.keys = deps.keys ?? this.newKeyStore(deps.runtime);
    this.authenticator = new Authenticator(deps.runtime.config.auth, this.keys, this.now);
  }

  private newKeyStore(runtime: Runtime): KeyStore {
    const lookup = sovereignLookup(runtime);
    // DESIGN §7: a JWKS outage is a metric and a log line. One line when refreshing starts failing, one when the keys
    // go stale (vendor requests refused), one when refreshing works again — not one per attempt. A store built for a
    // reload logs only once it is the one in use (a reload whose keys cannot be loaded is refused, see reload()).
    let failing = false;
    let stale = false;
    const store: KeyStore = new KeyStore(runtime.config.auth.jwks, {
      now: this.now,
      ...(lookup ? { lookup } : {}),
      algorithms: runtime.config.auth.algorithms,
      // once per key per newly loaded set, whether or not this store is in use yet: it explains a refused reload too
      onUnusableKey: ({ kid, kty, broken, reason }) => {
        const line = { jwks: { kid, kty, reason } };
        if (broken) this.logger.warn(line, 'a JWKS key cannot be used and is ignored: its key material is broken');
        else this.logger.info(line, 'a JWKS key cannot be used and is ignored: it is not for any of auth.algorithms');
      },
      onRefresh: (result) => {
        this.metrics.jwksRefreshes.inc({ result });
        if (result !== 'failure') this.metrics.jwksLastSuccess.set(this.now() / 1000);
        if (store !== this.keys) return;
        if (result === 'failure') {
          const error = store.status().lastError;
          if (!failing && store.status().lastSuccessAt > 0) this.logger.warn({ jwks: { error } }, 'JWKS refresh failed; the keys loaded before stay in use until auth.jwks.maxStalenessSec');
          else if (!failing) this.logger.warn({ jwks: { error } }, 'JWKS could not be loaded; no signing keys are loaded yet');
          failing = true;
          if (!stale && !store.usable()) this.logger.error('signing keys are unavailable or stale: vendor requests are refused with 503 keys_unavailable');
          stale = !store.usable();
          return;
        }
        const usable = store.usable();
        if (failing) this.logger.info({ jwks: { usable } }, 'JWKS refresh succeeded again');
        if (!usable && !stale) this.logger.error('the JWKS holds no usable signing key: vendor requests are refused with 503 keys_unavailable');
        else if (usable && stale && !failing) this.logger.info('the JWKS holds a usable signing key again');
        failing = false;
        stale = !usable;
      },
    });
    return store;
  }

  async start(): Promise<void> {
    await this.keys.start();
  }

  /**
   * The outcome of a per-request state check: a connected but stalled store is reported by its failing checks. The
   * operational log gets one line when checks start failing and one when they succeed again (DESIGN §7: a Redis
   * outage refuses vendor traffic; network admins look for it in the log as well as in readiness and metrics).
   */
  noteStoreCheck(ok: boolean): void {
    if (ok) {
      this.storeSucceededAt = this.now();
      if (this.storeDown) {
        this.storeDown = false;
        this.logger.info({ store: { backend: this.store.backend } }, 'shared state store answers again; vendor requests are checked and served');
      }
    } else {
      this.storeFailedAt = this.now();
      if (!this.storeDown) {
        this.storeDown = true;
        this.logger.error({ store: { backend: this.store.backend, detail: this.store.health().detail } }, 'shared state store unavailable: vendor requests are refused with 503 state_unavailable');
      }
      this.probeStore();
    }
  }

  /** the probe of a store whose last check failed: waiting for its turn (timer) or for its answer (one at a time) */
  private probeTimer: NodeJS.Timeout | null = null;
  private probeInFlight = false;
  private closed = false;

  /**
   * Ask the store itself, every STORE_PROBE_INTERVAL_MS, until it answers or a check succeeds. A failed probe counts
   * as a failed check (the hold starts again); while a probe waits for its answer the failure holds too, so a command
   * timeout longer than the hold cannot let readiness through in between.
   */
  private probeStore(): void {
    const probe = this.store.probe?.bind(this.store);
    if (probe === undefined || this.probeTimer !== null || this.probeInFlight || this.closed) return;
    this.probeTimer = setTimeout(() => {
      this.probeTimer = null;
      // a check succeeded since: nothing to find out
      if (this.closed || this.storeSucceededAt >= this.storeFailedAt) return;
      this.probeInFlight = true;
      probe().then(
        () => {
          this.probeInFlight = false;
        },
        () => {
          this.probeInFlight = false;
          this.noteStoreCheck(false);
        },
      );
    }, STORE_PROBE_INTERVAL_MS);
    this.probeTimer.unref();
  }

  /** whether the last state check failed (for the log lines above) */
  private storeDown = false;

  /**
   * True while the latest state checks failed and the last failure is recent. Without traffic it clears itself
   * STORE_FAILURE_HOLD_MS after the last failure — for a shared store only once a probe found it answering.
   */
  private storeFailing(): boolean {
    return this.storeFailedAt > this.storeSucceededAt && (this.probeInFlight || this.now() - this.storeFailedAt < STORE_FAILURE_HOLD_MS);
  }

  /** Ready when keys are usable, the store answers and the audit trail can be written. */
  readiness(): { ready: boolean; checks: Record<string, boolean> } {
    const checks = {
      keys: this.keys.usable(),
      store: this.store.health().ok && !this.storeFailing(),
      audit: this.audit.healthy || !this.runtime.config.audit.failClosed,
      // true while new requests are accepted; false once the gateway drains (every check reads true = fine)
      accepting: !this.draining,
    };
    this.metrics.jwksUsable.set(checks.keys ? 1 : 0);
    // a store that is connected but whose checks fail (a stalled Redis, a network black hole) is down for vendors too
    this.metrics.storeUp.set({ backend: this.store.backend }, checks.store ? 1 : 0);
    this.metrics.auditHealthy.set(this.audit.healthy ? 1 : 0);
    return { ready: Object.values(checks).every(Boolean), checks };
  }

  /**
   * Swap in a new, already validated runtime. Settings bound at start (listeners, upstream, state backend, audit
   * destination) cannot change by reload; a runtime that changes them is refused and the old one keeps serving.
   */
  async reload(next: Runtime): Promise<{ ok: true } | { ok: false; problems: string[] }> {
    const problems = fixedSettingsChanged(this.runtime, next);
    if (problems.length > 0) {
      this.metrics.configReloads.inc({ result: 'failure' });
      return { ok: false, problems };
    }
    const jwksChanged = JSON.stringify(next.config.auth) !== JSON.stringify(this.runtime.config.auth);
    if (jwksChanged) {
      const keys = this.newKeyStore(next);
      await keys.start();
      if (!keys.usable()) {
        keys.stop();
        this.metrics.configReloads.inc({ result: 'failure' });
        return { ok: false, problems: ['auth.jwks: the new key source could not be loaded'] };
      }
      const old = this.keys;
      this.keys = keys;
      this.authenticator = new Authenticator(next.config.auth, keys, this.now);
      old.stop();
    } else {
      await this.keys.refresh();
    }
    this.runtime = next;
    this.metrics.setFilterFields(filterFields(next));
    this.metrics.setConfigHash(next.hash);
    this.metrics.configReloads.inc({ result: 'success' });
    return { ok: true };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.probeTimer !== null) clearTimeout(this.probeTimer);
    this.keys.stop();
    await this.forwarder.close();
    await this.audit.close();
    await this.store.close();
  }
}

export function filterFields(runtime: Runtime): string[] {
  const out = new Set<string>();
  for (const f of runtime.filters.values()) for (const e of f.entries) out.add(e);
  return [...out];
}

function fixedSettingsChanged(a: Runtime, b: Runtime): string[] {
  const fixed = ['vendor', 'admin', 'upstream', 'state', 'audit', 'sovereignty'] as const;
  const out: string[] = [];
  for (const key of fixed) {
    if (JSON.stringify(a.config[key]) !== JSON.stringify(b.config[key])) out.push(`${key}: cannot change by reload; restart the gateway to apply it`);
  }
  return out;
}
