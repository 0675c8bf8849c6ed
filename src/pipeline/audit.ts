// Stage 8: exactly one audit record and one set of metric updates per vendor request, allowed or denied.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { isoNow, type RequestAuditRecord } from '../observability/audit.js';
import { methodLabel } from '../observability/metrics.js';
import type { AuditDeps, RequestContext } from './context.js';
import { isRecordableClaim, type Identity } from '../policy/claims.js';
import type { DenyReason } from '../policy/reasons.js';
import { JWT_SHAPED, redactJwts } from '../auth/token-shape.js';

export type { AuditDeps } from './context.js';

/** Identities are shared by the requests of one token (authorize.ts caches them): format each expiry once. */
const expiryText = new WeakMap<Identity, string>();

function isoDate(id: Identity): string {
  let text = expiryText.get(id);
  if (text === undefined) expiryText.set(id, (text = new Date(id.clearanceExpiresAt).toISOString()));
  return text;
}

const NO_REASONS = Object.freeze([]) as unknown as DenyReason[];

export function buildRecord(ctx: RequestContext, requestId: string, method: string, ip: string, status: number): RequestAuditRecord {
  const durationNs = Number(process.hrtime.bigint() - ctx.start);
  const allowed = ctx.decision === 'allow' && ctx.reasons.length === 0;
  // the trail serialises its records at the end of the turn: the record keeps its own copy of the reasons, which a
  // refusal after the record (an answer arriving for a client that hung up) would otherwise change
  const mg: RequestAuditRecord['metagate'] = { decision: allowed ? 'allow' : 'deny', reasons: ctx.reasons.length === 0 ? NO_REASONS : ctx.reasons.slice(), config_hash: ctx.runtime.hash };
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
  if (isRecordableClaim(jti)) mg.token_id = jti;
  if (ctx.token) mg.token_fingerprint = ctx.token.fingerprint;
  if (ctx.upstreamStatus !== undefined) mg.upstream_status = ctx.upstreamStatus;
  if (ctx.upstreamMs !== undefined) mg.upstream_ms = Math.round(ctx.upstreamMs * 1000) / 1000;
  if (ctx.fieldsRemoved && ctx.fieldsRemoved.size > 0) mg.fields_removed = Object.fromEntries(ctx.fieldsRemoved);
  if (ctx.responseBytes !== undefined) mg.response_bytes = ctx.responseBytes;
  // a refused token's own claims are recorded only when they are text a log viewer can show as it is
  const subject = id?.subject ?? (isRecordableClaim(ctx.token?.payload.sub) ? ctx.token.payload.sub : undefined);
  const rec: RequestAuditRecord = {
    '@timestamp': isoNow(),
    event: { kind: 'event', category: 'web', action: 'vendor_request', outcome: allowed && status < 400 ? 'success' : 'failure', duration: durationNs },
    http: { request: { id: requestId, method: methodLabel(method) }, response: { status_code: status } },
    url: ctx.target ? { path: redactJwts(ctx.target.path) } : ctx.original !== undefined ? { path: null, original: ctx.original } : { path: null },
    source: { ip },
    metagate: mg,
  };
  if (subject !== undefined) rec.user = { id: subject };
  return rec;
}

/** At most this many characters of a refused target are recorded (each may be written as up to four %XX). */
export const ORIGINAL_MAX = 256;
/** Percent-encoded unreserved characters (RFC 3986 §2.3), decoded only to look for a token hidden by encoding. */
const ENCODED_UNRESERVED_RE = /%(?:[46][1-9A-Fa-f]|[57][0-9Aa]|3[0-9]|2[DdEe]|5[Ff]|7[Ee])/g;
// the authority of an absolute-form target, or of a scheme-relative one ('//user:password@host/…', RFC 3986 §4.2);
// its userinfo runs to the authority's last '@' (as WHATWG URL parses it: a password may hold a raw '@')
const USERINFO_RE = /^((?:[A-Za-z][A-Za-z0-9+.-]*:)?\/\/)[^/?#]*@/;
const USERINFO_NOT_RECORDED = '[userinfo not recorded]';

/**
 * What the record shows of a request target the gateway never canonicalised (path_rejected, a refused message), so
 * analysts can see what was tried. Never the query or fragment (they may carry credentials: the record says only that
 * there was one), never anything shaped like a token, at most ORIGINAL_MAX characters, and every character outside
 * printable ASCII written as %XX per byte (no control, bidi or invisible character reaches a log viewer).
 */
export function recordedTarget(raw: string): string {
  let end = raw.length;
  const q = raw.indexOf('?');
  const h = raw.indexOf('#');
  if (q !== -1) end = q;
  if (h !== -1 && h < end) end = h;
  let path = raw.slice(0, end);
  // an absolute-form (or scheme-relative) target's user:password@ is a credential as much as a query's token is: it
  // is taken out before the target is cut, so a userinfo reaching past the cut is withheld whole (F82)
  const userinfo = USERINFO_RE.exec(path);
  const marker = userinfo === null ? -1 : userinfo[1]!.length;
  if (userinfo !== null) path = `${userinfo[1]!}${path.slice(userinfo[0].length - 1)}`;
  const kept = path.length;
  const cut = kept > ORIGINAL_MAX;
  if (cut) path = path.slice(0, ORIGINAL_MAX);
  let out = '';
  for (let i = 0; i < path.length; i++) {
    const c = path.charCodeAt(i);
    if (c >= 0x21 && c <= 0x7e) out += path[i];
    else if (c <= 0xff) out += `%${c.toString(16).toUpperCase().padStart(2, '0')}`;
    else {
      // node's parser gives one character per byte; anything wider is written as its UTF-8 bytes
      const cp = path.codePointAt(i)!;
      if (cp > 0xffff) i++;
      for (const b of Buffer.from(String.fromCodePoint(cp), 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  // the scheme and '//' before the userinfo are printable ASCII, written as they are: the marker goes right after them
  if (marker !== -1 && marker <= out.length) out = `${out.slice(0, marker)}${USERINFO_NOT_RECORDED}${out.slice(marker)}`;
  out = redactJwts(out);
  // a token hidden by percent-encoding its letters is still a token: then the whole path is withheld
  if (out.includes('%') && JWT_SHAPED.test(out.replace(ENCODED_UNRESERVED_RE, (e) => String.fromCharCode(parseInt(e.slice(1), 16))))) out = '[a target holding a token is not recorded]';
  if (cut) out += `[${kept - ORIGINAL_MAX} more characters not recorded]`;
  if (end < raw.length) out += raw[end] === '?' ? '?[query not recorded]' : '#[fragment not recorded]';
  return out;
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
  // a target the gateway never canonicalised is shown as sent (redacted); an allowed request always has a path
  if (ctx.target === undefined && ctx.original === undefined && typeof request.raw?.url === 'string') ctx.original = recordedTarget(request.raw.url);
  const rec = buildRecord(ctx, request.id, request.method, ctx.ip ?? request.ip ?? '', status);
  const written = deps.audit.write(rec);
  deps.metrics.countAudit(written);
  deps.metrics.recordRequest(rec.metagate.decision, ctx.reasons[0] ?? 'none', ctx.rule?.category ?? 'none', request.method, rec.event.duration / 1e9);
  if (rec.metagate.decision === 'allow' && ctx.upstreamMs !== undefined && ctx.rule) deps.metrics.observeUpstream(ctx.rule.category, ctx.upstreamMs / 1000);
  return written;
}
