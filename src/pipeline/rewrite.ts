// Stage 5: build the upstream request's headers from scratch — nothing the vendor sent passes unless allow-listed.

import type { IncomingHttpHeaders } from 'node:http';
import type { Runtime } from '../config/load.js';
import type { RequestContext } from './context.js';

export const USER_AGENT = 'metagate';

/**
 * Only the configured forwardHeaders are copied (single-valued, printable); Authorization, Cookie, X-Forwarded-*,
 * Forwarded, X-Original-URL, X-Rewrite-URL, method overrides and anything named in Connection never are, because
 * the config loader refuses them in forwardHeaders and nothing else is copied.
 */
export function upstreamHeaders(incoming: IncomingHttpHeaders, ctx: RequestContext, runtime: Runtime, requestId: string, host: string): Record<string, string> {
  const cfg = runtime.config.upstream;
  const out: Record<string, string> = {
    host,
    accept: 'application/json',
    'accept-encoding': 'identity',
    'user-agent': USER_AGENT,
    'x-request-id': requestId,
  };
  for (const name of cfg.forwardHeaders) {
    const v = incoming[name];
    if (typeof v === 'string' && v.length <= 256 && /^[\x20-\x7e]*$/.test(v)) out[name] = v;
  }
  if (cfg.credential && runtime.secrets.upstreamCredential !== undefined) out[cfg.credential.header.toLowerCase()] = runtime.secrets.upstreamCredential;
  if (cfg.identityHeaders && ctx.identity) {
    out['x-metagate-subject'] = encodeURIComponent(ctx.identity.subject);
    out['x-metagate-clearance'] = ctx.identity.clearance;
    if (ctx.rule) {
      out['x-metagate-rule'] = ctx.rule.id;
      out['x-metagate-category'] = ctx.rule.category;
    }
  }
  return out;
}
