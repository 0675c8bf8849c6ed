// Explain: the decision the gateway would make for a token (or bare claims) and a request line, forwarding nothing.

import type { Gateway } from '../gateway.js';
import { canonicalise } from '../pipeline/canonicalise.js';
import { checkQuery } from '../pipeline/match.js';
import { authorizeClaims, stateDenials } from '../pipeline/authorize.js';
import { evaluateClaims } from '../policy/claims.js';
import { WHOAMI_PATH } from '../pipeline/whoami.js';
import { PROBLEMS } from '../errors.js';
import type { DenyReason } from '../policy/reasons.js';
import type { CheckResult } from '../state/store.js';

export interface ExplainStep {
  stage: 'canonicalise' | 'match' | 'query' | 'authenticate' | 'claims' | 'category' | 'state';
  ok: boolean;
  detail: string;
  checks?: Array<{ check: string; ok: boolean; detail: string }>;
}

export interface ExplainResult {
  request: { method: string; target: string };
  decision: 'allow' | 'deny';
  status: number;
  reasons: DenyReason[];
  rule?: { id: string; category: string; path: string };
  upstream?: string;
  steps: ExplainStep[];
}

export async function explain(gw: Gateway, body: unknown): Promise<ExplainResult | { error: string }> {
  const b = (body !== null && typeof body === 'object' && !Array.isArray(body) ? body : {}) as Record<string, unknown>;
  if (b.method !== undefined && (typeof b.method !== 'string' || !/^[A-Za-z]{1,16}$/.test(b.method))) return { error: '"method" must be an HTTP method name such as "GET"' };
  const method = typeof b.method === 'string' ? b.method.toUpperCase() : 'GET';
  if (typeof b.target !== 'string') return { error: 'body: {"target": "/api/v1/...", "method"?: "GET", "token"?: string, "claims"?: object}' };
  if ((b.token === undefined) === (b.claims === undefined)) return { error: 'give exactly one of "token" or "claims"' };
  const rt = gw.runtime;
  const steps: ExplainStep[] = [];
  const result = (reasons: DenyReason[], extra: Partial<ExplainResult> = {}): ExplainResult => ({
    request: { method, target: b.target as string },
    decision: reasons.length === 0 ? 'allow' : 'deny',
    status: reasons.length === 0 ? 200 : PROBLEMS[reasons[0]!].status,
    reasons,
    steps,
    ...extra,
  });

  const c = canonicalise(b.target, rt.config.vendor);
  if (!c.ok) {
    steps.push({ stage: 'canonicalise', ok: false, detail: c.detail });
    return result(['path_rejected']);
  }
  steps.push({ stage: 'canonicalise', ok: true, detail: `canonical path ${c.target.path}` });
  const extra: Partial<ExplainResult> = {};
  let category: 'catalogue' | 'lineage' | 'usage' | undefined;
  if (c.target.path === WHOAMI_PATH) {
    // the same gate the vendor listener puts in front of whoami (src/app.ts, stage 2)
    if (method !== 'GET') {
      steps.push({ stage: 'match', ok: false, detail: 'only GET is allowed on this path' });
      return result(['method_not_allowed']);
    }
    if (c.target.query.size > 0) {
      steps.push({ stage: 'query', ok: false, detail: 'whoami takes no query parameters' });
      return result(['query_not_allowed']);
    }
    steps.push({ stage: 'match', ok: true, detail: 'gateway endpoint whoami (identity only, no category)' });
  } else {
    const m = rt.routes.match(method, c.target.segments);
    if (!m.ok) {
      steps.push({ stage: 'match', ok: false, detail: m.reason === 'method_not_allowed' ? `only ${m.allow} is allowed on this path` : 'no allowlist rule matches this path' });
      return result([m.reason]);
    }
    steps.push({ stage: 'match', ok: true, detail: `rule ${m.rule.id} (${m.rule.category})` });
    extra.rule = { id: m.rule.id, category: m.rule.category, path: m.rule.path };
    category = m.rule.category;
    const q = checkQuery(m.rule, c.target.query);
    if (!q.ok) {
      steps.push({ stage: 'query', ok: false, detail: q.detail });
      return result([q.reason], extra);
    }
    steps.push({ stage: 'query', ok: true, detail: q.upstreamQuery ? `forwarded query: ${q.upstreamQuery}` : 'no query' });
    extra.upstream = c.target.path + (q.upstreamQuery ? `?${q.upstreamQuery}` : '');
  }

  let payload: Record<string, unknown>;
  if (typeof b.token === 'string') {
    const v = await gw.authenticator.verify(b.token.replace(/^Bearer /i, ''));
    if (!v.ok) {
      steps.push({ stage: 'authenticate', ok: false, detail: v.detail });
      return result([v.reason], extra);
    }
    steps.push({ stage: 'authenticate', ok: true, detail: `signature, issuer, audience, type and lifetime verified (key ${v.token.kid ?? 'without kid'})` });
    payload = v.token.payload;
  } else if (b.claims && typeof b.claims === 'object' && !Array.isArray(b.claims)) {
    steps.push({ stage: 'authenticate', ok: true, detail: 'not checked: bare claims were given instead of a token' });
    payload = b.claims as Record<string, unknown>;
  } else return { error: '"claims" must be an object' };

  const now = gw.now();
  const claims = evaluateClaims(payload, rt.policy, now);
  steps.push({ stage: 'claims', ok: claims.denials.length === 0, detail: claims.denials.map((d) => d.detail).join('; ') || 'identity claims accepted', checks: claims.checks });
  const decided = authorizeClaims({ payload, policy: rt.policy, now, ...(category ? { category } : {}) });
  if (decided.denials.length > 0) {
    if (claims.denials.length === 0) steps.push({ stage: 'category', ok: false, detail: decided.denials[0]!.detail });
    return result(decided.denials.map((d) => d.reason), extra);
  }
  if (category) steps.push({ stage: 'category', ok: true, detail: `${category} requires ${rt.config.policy.categories[category].minClearance}` });

  // state, read-only: revocations, suspensions and windows (explain never consumes rate-limit budget)
  const id = decided.identity!;
  try {
    const [revs, susp, wins, rl] = await Promise.all([gw.store.listRevocations(now), gw.store.listSuspensions(), gw.store.listWindows(now), gw.store.rateLimitState(id.subject, now)]);
    const state: CheckResult = { rateLimit: rl.subject.allowed && rl.global.allowed ? rl.subject : !rl.subject.allowed ? { ...rl.subject, scope: 'subject' } : { ...rl.global, scope: 'global' } };
    const sr = revs.find((r) => r.kind === 'subject' && r.id === id.subject);
    const tr = id.jti !== undefined ? revs.find((r) => r.kind === 'token' && r.id === id.jti) : undefined;
    if (sr) state.subjectRevoked = sr;
    if (tr) state.tokenRevoked = tr;
    const s = susp.find((x) => x.org === undefined || x.org === id.org);
    const w = wins.find((x) => x.start <= now && now < x.end && (x.org === undefined || x.org === id.org));
    if (s) state.suspended = { reason: s.reason, source: 'kill_switch', ...(s.org ? { org: s.org } : {}) };
    else if (w) state.suspended = { reason: w.reason, label: w.label, source: 'window', ...(w.org ? { org: w.org } : {}) };
    const denials = stateDenials(state);
    steps.push({ stage: 'state', ok: denials.length === 0, detail: denials.map((d) => d.note ?? d.detail).join('; ') || 'not revoked, not suspended, within rate limit' });
    return result(denials.map((d) => d.reason), extra);
  } catch {
    steps.push({ stage: 'state', ok: false, detail: 'the shared state store is unavailable' });
    return result(['state_unavailable'], extra);
  }
}
