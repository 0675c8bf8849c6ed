// How an authenticated engineer sees themselves through the gateway: identity, clearance and usable endpoints.

import type { FastifyReply, FastifyRequest } from 'fastify';
import { allowedCategories } from '../policy/claims.js';
import { applySecurityHeaders, refuse, send } from './respond.js';

export const WHOAMI_PATH = '/_metagate/whoami';

export function whoamiHandler(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const ctx = request.mg;
  const id = ctx.identity;
  if (ctx.decision !== 'allow' || !id) return refuse(request, reply, 'internal_error', 'the request reached whoami without a decision');
  const rt = ctx.runtime;
  const cats = allowedCategories(id, rt.policy);
  const body = {
    subject: id.subject,
    nationality: id.nationality,
    clearance: id.clearance,
    clearance_expires_at: new Date(id.clearanceExpiresAt).toISOString(),
    token_expires_at: new Date(id.tokenExpiresAt).toISOString(),
    ...(id.org !== undefined ? { org: id.org } : {}),
    categories: Object.fromEntries(
      (['catalogue', 'lineage', 'usage'] as const).map((c) => [c, { allowed: cats.includes(c), requires: rt.config.policy.categories[c].minClearance }]),
    ),
    endpoints: rt.routes.rules
      .filter((r) => cats.includes(r.category))
      .map((r) => ({ id: r.id, method: r.method, path: r.path, category: r.category, query: [...r.query.keys()] })),
    request_id: request.id,
  };
  applySecurityHeaders(reply);
  return send(request, reply.code(200).type('application/json; charset=utf-8'), JSON.stringify(body));
}
