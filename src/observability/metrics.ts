// Prometheus metrics: one registry per app instance, every label drawn from a closed set.

import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { CATEGORIES, DENY_REASONS, type DenyReason } from '../policy/reasons.js';

export const METHOD_LABELS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'OTHER'] as const;
export type MethodLabel = (typeof METHOD_LABELS)[number];
const METHOD_SET: ReadonlySet<string> = new Set(METHOD_LABELS);

export function methodLabel(method: string): MethodLabel {
  return (METHOD_SET.has(method) ? method : 'OTHER') as MethodLabel;
}

export const UPSTREAM_ERROR_KINDS = ['connect', 'timeout', 'reset', 'status_5xx', 'status_other', 'redirect', 'not_json', 'encoded', 'too_large', 'bad_json', 'shape', 'other'] as const;
export type UpstreamErrorKind = (typeof UPSTREAM_ERROR_KINDS)[number];

export interface MetricsOptions {
  version: string;
  /** every field name a configured filter can remove: the only values of the `field` label */
  filterFields: readonly string[];
  defaultMetrics?: boolean;
}

export class Metrics {
  readonly registry = new Registry();
  readonly requests: Counter<'decision' | 'reason' | 'category' | 'method'>;
  readonly requestDuration: Histogram<'decision'>;
  readonly upstreamDuration: Histogram<'category'>;
  readonly upstreamErrors: Counter<'kind'>;
  readonly jwksRefreshes: Counter<'result'>;
  readonly jwksLastSuccess: Gauge;
  readonly jwksUsable: Gauge;
  readonly tokenVerifications: Counter<'result'>;
  readonly storeUp: Gauge<'backend'>;
  readonly storeLatency: Histogram;
  readonly storeErrors: Counter;
  readonly killSwitch: Gauge;
  readonly windowsActive: Gauge;
  readonly revocations: Gauge;
  readonly fieldsRemoved: Counter<'field'>;
  readonly auditRecords: Counter;
  readonly auditFailures: Counter;
  readonly auditHealthy: Gauge;
  readonly configReloads: Counter<'result'>;
  readonly configInfo: Gauge<'hash'>;
  readonly adminActions: Counter<'action' | 'outcome'>;
  private readonly fieldSet: Set<string>;

  constructor(opts: MetricsOptions) {
    const r = this.registry;
    this.fieldSet = new Set(opts.filterFields);
    this.requests = new Counter({ name: 'metagate_requests_total', help: 'Vendor requests by decision, reason, category and method.', labelNames: ['decision', 'reason', 'category', 'method'], registers: [r] });
    this.requestDuration = new Histogram({ name: 'metagate_request_duration_seconds', help: 'Time from request arrival to response end.', labelNames: ['decision'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [r] });
    this.upstreamDuration = new Histogram({ name: 'metagate_upstream_duration_seconds', help: 'Time the metadata platform took to answer allowed requests.', labelNames: ['category'], buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10], registers: [r] });
    this.upstreamErrors = new Counter({ name: 'metagate_upstream_errors_total', help: 'Upstream failures and rejected upstream responses by kind.', labelNames: ['kind'], registers: [r] });
    this.jwksRefreshes = new Counter({ name: 'metagate_jwks_refreshes_total', help: 'JWKS loads by result (success, unchanged, failure).', labelNames: ['result'], registers: [r] });
    this.jwksLastSuccess = new Gauge({ name: 'metagate_jwks_last_success_timestamp_seconds', help: 'Unix time of the last successful JWKS load.', registers: [r] });
    this.jwksUsable = new Gauge({ name: 'metagate_jwks_usable', help: '1 while signing keys are loaded and not older than the maximum staleness.', registers: [r] });
    this.tokenVerifications = new Counter({ name: 'metagate_token_verifications_total', help: 'Token checks by result: verified, cached, or the deny reason.', labelNames: ['result'], registers: [r] });
    this.storeUp = new Gauge({ name: 'metagate_store_up', help: '1 while the shared-state store answers.', labelNames: ['backend'], registers: [r] });
    this.storeLatency = new Histogram({ name: 'metagate_store_check_duration_seconds', help: 'Duration of the per-request shared-state check.', buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5], registers: [r] });
    this.storeErrors = new Counter({ name: 'metagate_store_errors_total', help: 'Shared-state checks that failed (requests refused with state_unavailable).', registers: [r] });
    this.killSwitch = new Gauge({ name: 'metagate_kill_switch_active', help: '1 while a kill switch (global or organisation) is engaged.', registers: [r] });
    this.windowsActive = new Gauge({ name: 'metagate_suspension_windows_active', help: 'Suspension windows in force now.', registers: [r] });
    this.revocations = new Gauge({ name: 'metagate_revocations', help: 'Revocations in force (subjects and tokens).', registers: [r] });
    this.fieldsRemoved = new Counter({ name: 'metagate_filter_fields_removed_total', help: 'Data-bearing fields removed from responses, by configured field entry.', labelNames: ['field'], registers: [r] });
    this.auditRecords = new Counter({ name: 'metagate_audit_records_total', help: 'Audit records handed to the audit trail.', registers: [r] });
    this.auditFailures = new Counter({ name: 'metagate_audit_write_failures_total', help: 'Failures writing the audit trail.', registers: [r] });
    this.auditHealthy = new Gauge({ name: 'metagate_audit_healthy', help: '1 while the audit trail can be written.', registers: [r] });
    this.configReloads = new Counter({ name: 'metagate_config_reloads_total', help: 'Configuration reloads by result.', labelNames: ['result'], registers: [r] });
    this.configInfo = new Gauge({ name: 'metagate_config_info', help: 'Hash of the configuration in force (value 1).', labelNames: ['hash'], registers: [r] });
    this.adminActions = new Counter({ name: 'metagate_admin_actions_total', help: 'Admin API actions by action and outcome.', labelNames: ['action', 'outcome'], registers: [r] });
    const build = new Gauge({ name: 'metagate_build_info', help: 'Build information (value 1).', labelNames: ['version', 'node'], registers: [r] });
    build.set({ version: opts.version, node: process.version }, 1);
    this.auditHealthy.set(1);
    if (opts.defaultMetrics !== false) collectDefaultMetrics({ register: r, prefix: 'metagate_' });
    // pre-create the zero series SOC alerts look at, so rate() works from the first scrape
    for (const reason of DENY_REASONS) this.tokenVerifications.inc({ result: reason }, 0);
    this.auditFailures.inc(0);
    this.storeErrors.inc(0);
    for (const c of CATEGORIES) this.upstreamDuration.zero({ category: c });
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

  recordRequest(decision: 'allow' | 'deny', reason: DenyReason | 'none', category: string, method: string, seconds: number): void {
    this.requests.inc({ decision, reason, category, method: methodLabel(method) });
    this.requestDuration.observe({ decision }, seconds);
  }
}
