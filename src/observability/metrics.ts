// Prometheus metrics: one registry per app instance, every label drawn from a closed set.

import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { CATEGORIES, DENY_REASONS, isDenyReason, type DenyReason } from '../policy/reasons.js';
import { ClosedCounter, ClosedHistogram } from './closed-metrics.js';

export const METHOD_LABELS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const;
export type MethodLabel = (typeof METHOD_LABELS)[number];
const METHOD_SET: ReadonlySet<string> = new Set(METHOD_LABELS);
const CATEGORY_SET: ReadonlySet<string> = new Set(CATEGORIES);

export function methodLabel(method: string): MethodLabel {
  return (METHOD_SET.has(method) ? method : 'OTHER') as MethodLabel;
}

export const UPSTREAM_ERROR_KINDS = ['connect', 'timeout', 'reset', 'protocol', 'status_5xx', 'status_other', 'redirect', 'not_json', 'encoded', 'too_large', 'bad_json', 'shape', 'other'] as const;
export type UpstreamErrorKind = (typeof UPSTREAM_ERROR_KINDS)[number];

/** The reasons the authenticate stage can give (a subset of DENY_REASONS). */
export const TOKEN_FAILURE_REASONS = ['token_missing', 'token_invalid', 'token_expired', 'token_not_yet_valid', 'issuer_mismatch', 'audience_mismatch', 'token_type_invalid', 'keys_unavailable'] as const satisfies readonly DenyReason[];
/** Values of the `result` label of metagate_token_verifications_total. */
export const TOKEN_RESULTS = ['verified', 'cached', ...TOKEN_FAILURE_REASONS] as const;
const TOKEN_RESULT_SET: ReadonlySet<string> = new Set<string>(TOKEN_RESULTS);
export const JWKS_REFRESH_RESULTS = ['success', 'unchanged', 'failure'] as const;
export const RELOAD_RESULTS = ['success', 'failure'] as const;
export const DECISIONS = ['allow', 'deny'] as const;
const DURATION_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export interface MetricsOptions {
  version: string;
  /** every field name a configured filter can remove: the only values of the `field` label */
  filterFields: readonly string[];
  defaultMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  // the series every vendor request touches are closed-label metrics (closed-metrics.ts): an array increment each
  readonly requests: ClosedCounter<'decision' | 'reason' | 'category' | 'method'>;
  readonly denials: ClosedCounter<'reason'>;
  readonly requestDuration: ClosedHistogram<'decision'>;
  readonly upstreamDuration: ClosedHistogram<'category'>;
  readonly upstreamErrors: Counter<'kind'>;
  readonly jwksRefreshes: Counter<'result'>;
  readonly jwksLastSuccess: Gauge;
  readonly jwksUsable: Gauge;
  readonly tokenVerifications: ClosedCounter<'result'>;
  readonly storeUp: Gauge<'backend'>;
  readonly storeLatency: ClosedHistogram<never>;
  readonly storeErrors: Counter;
  readonly storeStateLost: Counter;
  readonly answersAbandoned: Counter;
  /** where metagate_unread_answers and metagate_unread_answer_bytes read from (the gateway's UnreadAnswers) */
  unread: () => { answers: number; bytes: number } = () => ({ answers: 0, bytes: 0 });
  readonly killSwitch: Gauge;
  readonly windowsActive: Gauge;
  readonly revocations: Gauge;
  readonly fieldsRemoved: Counter<'field'>;
  readonly auditRecords: Counter;
  readonly auditDropped: Counter;
  readonly auditFailures: Counter;
  readonly auditHealthy: Gauge;
  readonly configReloads: Counter<'result'>;
  readonly configInfo: Gauge<'hash'>;
  readonly adminActions: Counter<'action' | 'outcome'>;
  private readonly fieldSet: Set<string>;

  constructor(opts: MetricsOptions) {
    const r = this.registry;
    this.fieldSet = new Set(opts.filterFields);
    const reasons = ['none', ...DENY_REASONS];
    const categories = ['none', ...CATEGORIES];
    this.requests = new ClosedCounter({ name: 'metagate_requests_total', help: 'Vendor requests by decision, reason, category and method.', labels: { names: ['decision', 'reason', 'category', 'method'], values: { decision: DECISIONS, reason: reasons, category: categories, method: METHOD_LABELS } }, registry: r });
    this.denials = new ClosedCounter({ name: 'metagate_denials_total', help: 'Refused vendor requests by first reason; every reason exists from start (at 0) so alerts see the first one.', labels: { names: ['reason'], values: { reason: DENY_REASONS } }, registry: r });
    this.requestDuration = new ClosedHistogram({ name: 'metagate_request_duration_seconds', help: 'Time from request arrival to response end.', labels: { names: ['decision'], values: { decision: DECISIONS } }, buckets: DURATION_BUCKETS, registry: r });
    this.upstreamDuration = new ClosedHistogram({ name: 'metagate_upstream_duration_seconds', help: 'Time the metadata platform took to answer allowed requests.', labels: { names: ['category'], values: { category: CATEGORIES } }, buckets: DURATION_BUCKETS, registry: r });
    this.upstreamErrors = new Counter({ name: 'metagate_upstream_errors_total', help: 'Upstream failures and rejected upstream responses by kind.', labelNames: ['kind'], registers: [r] });
    this.jwksRefreshes = new Counter({ name: 'metagate_jwks_refreshes_total', help: 'JWKS loads by result (success, unchanged, failure).', labelNames: ['result'], registers: [r] });
    this.jwksLastSuccess = new Gauge({ name: 'metagate_jwks_last_success_timestamp_seconds', help: 'Unix time of the last successful JWKS load.', registers: [r] });
    this.jwksUsable = new Gauge({ name: 'metagate_jwks_usable', help: '1 while signing keys are loaded and not older than the maximum staleness.', registers: [r] });
    this.tokenVerifications = new ClosedCounter({ name: 'metagate_token_verifications_total', help: 'Bearer token checks by result: verified, cached, or the authentication failure reason.', labels: { names: ['result'], values: { result: TOKEN_RESULTS } }, registry: r });
    this.storeUp = new Gauge({ name: 'metagate_store_up', help: '1 while the shared-state store answers.', labelNames: ['backend'], registers: [r] });
    this.storeLatency = new ClosedHistogram<never>({ name: 'metagate_store_check_duration_seconds', help: 'Duration of the per-request shared-state check.', labels: { names: [], values: {} }, buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registry: r });
    this.storeErrors = new Counter({ name: 'metagate_store_errors_total', help: 'Shared-state checks that failed (requests refused with state_unavailable).', registers: [r] });
    this.storeStateLost = new Counter({ name: 'metagate_store_state_lost_total', help: 'Times the shared state was found lost while the gateway ran (Redis restarted without persistence, flushed or evicted): revocations and suspensions made before are gone.', registers: [r] });
    this.answersAbandoned = new Counter({ name: 'metagate_answers_abandoned_total', help: 'Answers whose connection took none of them for vendor.sendTimeoutMs: the connection was closed (the request was recorded as answered).', registers: [r] });
    const self = this;
    new Gauge({
      name: 'metagate_unread_answers',
      help: 'Answers handed to clients that have not taken them yet (each closed at vendor.sendTimeoutMs).',
      registers: [r],
      collect() {
        this.set(self.unread().answers);
      },
    });
    new Gauge({
      name: 'metagate_unread_answer_bytes',
      help: 'Bytes of answers handed to clients that have not taken them yet (bounded by vendor.maxUnreadBytes).',
      registers: [r],
      collect() {
        this.set(self.unread().bytes);
      },
    });
    this.killSwitch = new Gauge({ name: 'metagate_kill_switch_active', help: '1 while a kill switch (global or organisation) is engaged.', registers: [r] });
    this.windowsActive = new Gauge({ name: 'metagate_suspension_windows_active', help: 'Suspension windows in force now.', registers: [r] });
    this.revocations = new Gauge({ name: 'metagate_revocations_active', help: 'Revocations in force (subjects and tokens).', registers: [r] });
    this.fieldsRemoved = new Counter({ name: 'metagate_filter_fields_removed_total', help: 'Data-bearing fields removed from responses, by configured field entry.', labelNames: ['field'], registers: [r] });
    this.auditRecords = new Counter({ name: 'metagate_audit_records_total', help: 'Audit records produced (one per vendor request and admin action); while the trail has failed they are not written.', registers: [r] });
    this.auditDropped = new Counter({ name: 'metagate_audit_records_dropped_total', help: 'Audit records that could not be written because the audit trail had failed.', registers: [r] });
    this.auditFailures = new Counter({ name: 'metagate_audit_write_failures_total', help: 'Write errors reported by the audit destination (the first one makes the trail unhealthy until restart).', registers: [r] });
    this.auditHealthy = new Gauge({ name: 'metagate_audit_healthy', help: '1 while the audit trail can be written.', registers: [r] });
    this.configReloads = new Counter({ name: 'metagate_config_reloads_total', help: 'Configuration reloads by result.', labelNames: ['result'], registers: [r] });
    this.configInfo = new Gauge({ name: 'metagate_config_info', help: 'Hash of the configuration in force (value 1).', labelNames: ['hash'], registers: [r] });
    this.adminActions = new Counter({ name: 'metagate_admin_actions_total', help: 'Admin API actions by action and outcome.', labelNames: ['action', 'outcome'], registers: [r] });
    const build = new Gauge({ name: 'metagate_build_info', help: 'Build information (value 1).', labelNames: ['version', 'node'], registers: [r] });
    build.set({ version: opts.version, node: process.version }, 1);
    this.auditHealthy.set(1);
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: r, prefix: 'metagate_' });
    // Pre-create every series of a closed label set that alerts and dashboards look at: a counter series that
    // appears only with its first increment is invisible to increase()/rate() for that first event.
    for (const reason of DENY_REASONS) this.denials.zero([reason]);
    for (const result of TOKEN_RESULTS) this.tokenVerifications.zero([result]);
    for (const kind of UPSTREAM_ERROR_KINDS) this.upstreamErrors.inc({ kind }, 0);
    for (const result of JWKS_REFRESH_RESULTS) this.jwksRefreshes.inc({ result }, 0);
    for (const result of RELOAD_RESULTS) this.configReloads.inc({ result }, 0);
    for (const decision of DECISIONS) this.requestDuration.zero([decision]);
    this.auditFailures.inc(0);
    this.auditDropped.inc(0);
    this.storeErrors.inc(0);
    this.storeStateLost.inc(0);
    this.answersAbandoned.inc(0);
    for (const c of CATEGORIES) this.upstreamDuration.zero([c]);
  }

  setConfigHash(hash: string): void {
    this.configInfo.reset();
    this.configInfo.set({ hash }, 1);
  }

  countRemoved(removed: ReadonlyMap<string, number>): void {
    for (const [field, n] of removed) {
      // only configured entries ever become label values
      if (this.fieldSet.has(field)) this.fieldsRemoved.inc({ field }, n);
    }
  }

  setFilterFields(fields: readonly string[]): void {
    for (const f of fields) this.fieldSet.add(f);
  }

  /** Count one audit record; `written` is what AuditTrail.write returned. */
  countAudit(written: boolean): void {
    this.auditRecords.inc();
    if (!written) this.auditDropped.inc();
  }

  recordRequest(decision: 'allow' | 'deny', reason: DenyReason | 'none', category: string, method: string, seconds: number): void {
    // the label sets stay closed even if a caller passes something unexpected
    const cat = CATEGORY_SET.has(category) ? category : 'none';
    const why = reason === 'none' || isDenyReason(reason) ? reason : 'internal_error';
    this.requests.add([decision, why, cat, methodLabel(method)]);
    if (decision === 'deny' && why !== 'none') this.denials.add([why]);
    this.requestDuration.observe([decision], seconds);
  }

  /**
   * One bearer-token check by its result: verified, cached, or the authentication failure reason. The authenticator
   * gives only TOKEN_FAILURE_REASONS; anything else would be a bug, counted as token_invalid rather than dropped.
   */
  countToken(result: string): void {
    this.tokenVerifications.add([TOKEN_RESULT_SET.has(result) ? result : 'token_invalid']);
  }

  /** How long one shared-state check took. */
  observeStoreCheck(seconds: number): void {
    this.storeLatency.observe([], seconds);
  }

  /** How long the platform took to answer an allowed request of this category. */
  observeUpstream(category: string, seconds: number): void {
    if (CATEGORY_SET.has(category)) this.upstreamDuration.observe([category], seconds);
  }
}
