// Stage 8: exactly one audit record and one set of metric updates per vendor request, allowed or denied.

import type { FastifyReply, FastifyRequest } from 'fastify';
import type { RequestAuditRecord } from '../observability/audit.js';
import { methodLabel } from '../observability/metrics.js';
import type { AuditDeps, RequestContext } from './context.js';
import type { Identity } from '../policy/claims.js';

export type { AuditDeps } from './context.js';

/** Identities are shared by the requests of one token (authorize.ts caches them): format each expiry once. */
const expiryText = new WeakMap<Identity, string>();

function isoDate(id: Identity): string {
  let text = expiryText.get(id);
  if (text === undefined) expiryText.set(id, (text = new Date(id.clearanceExpiresAt).toISOString()));
  return text;
}

export function buildRecord(ctx: RequestContext, requestId: string, method: string, ip: string, status: number): RequestAuditRecord {
  const durationNs = Number(process.hrtime.bigint() - ctx.start);
  const allowed = ctx.decision === 'allow' && ctx.reasons.length === 0;
  const mg: RequestAuditRecord['metagate'] = { decision: allowed ? 'allow' : 'deny', reasons: ctx.reasons, config_hash: ctx.runtime.hash };
  if (ctx.detail !== undefined) mg.detail = ctx.detail;
  if (ctx.rule) {
    mg.rule = ctx.rule.id;
    mg.category = ctx.rule.category;
  } else if (ctx.internal) mg.rule = `metagate.${ctx.internal}`;
  const id = ctx.identity;
  if (id) {
    mg.nationality = id.nationality;
    mg.clearance = id.clearance;
    mg.clearance_expires_at = isoDate(id);
    if (id.org !== undefined) mg.org = id.org;
  }
  // a verified token refused on its claims still names its token id: analysts revoke and correlate by it
  const jti = id?.jti ?? ctx.token?.payload.jti;
  if (typeof jti === 'string') mg.token_id = jti;
  if (ctx.token) mg.token_fingerprint = ctx.token.fingerprint;
  if (ctx.upstreamStatus !== undefined) mg.upstream_status = ctx.upstreamStatus;
  if (ctx.upstreamMs !== undefined) mg.upstream_ms = Math.round(ctx.upstreamMs * 1000) / 1000;
  if (ctx.fieldsRemoved && ctx.fieldsRemoved.size > 0) mg.fields_removed = Object.fromEntries(ctx.fieldsRemoved);
  if (ctx.responseBytes !== undefined) mg.response_bytes = ctx.responseBytes;
  const subject = id?.subject ?? (typeof ctx.token?.payload.sub === 'string' ? ctx.token.payload.sub : undefined);
  const rec: RequestAuditRecord = {
    '@timestamp': new Date().toISOString(),
    event: { kind: 'event', category: 'web', action: 'vendor_request', outcome: allowed && status < 400 ? 'success' : 'failure', duration: durationNs },
    http: { request: { id: requestId, method: methodLabel(method) }, response: { status_code: status } },
    url: { path: ctx.target?.path ?? null },
    source: { ip },
    metagate: mg,
  };
  if (subject !== undefined) rec.user = { id: subject };
  return rec;
}

/**
 * Write the record once; later calls for the same request do nothing. Returns whether the record was handed to a
 * healthy trail (null when the request was already recorded).
 */
export function recordDecision(deps: AuditDeps, request: FastifyRequest, reply: FastifyReply | null, statusOverride?: number): boolean | null {
  const ctx = request.mg;
  if (!ctx || ctx.audited) return null;
  ctx.audited = true;
  // a request that was allowed but whose answer was an upstream failure is recorded with that reason
  const status = statusOverride ?? reply?.statusCode ?? 0;
  const rec = buildRecord(ctx, request.id, request.method, ctx.ip ?? request.ip ?? '', status);
  const written = deps.audit.write(rec);
  deps.metrics.countAudit(written);
  deps.metrics.recordRequest(rec.metagate.decision, ctx.reasons[0] ?? 'none', ctx.rule?.category ?? 'none', request.method, rec.event.duration / 1e9);
  if (rec.metagate.decision === 'allow' && ctx.upstreamMs !== undefined && ctx.rule) deps.metrics.upstreamDuration.observe({ category: ctx.rule.category }, ctx.upstreamMs / 1000);
  return written;
}
