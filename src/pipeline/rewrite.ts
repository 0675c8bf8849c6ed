// Stage 5: build the upstream request's headers from scratch — nothing the vendor sent passes unless allow-listed.

import type { IncomingHttpHeaders } from 'node:http';
import type { Runtime } from '../config/load.js';
import type { RequestContext } from './context.js';

export const USER_AGENT = 'metagate';

/**
 * Only the configured forwardHeaders are copied (single-valued, printable); Authorization, Cookie, X-Forwarded-*,
 * Forwarded, X-Original-URL, X-Rewrite-URL and method overrides never are, because the config loader refuses them in
 * forwardHeaders and nothing else is copied. A header the client names in Connection is hop-by-hop for that request
 * (RFC 9110 §7.6.1) and is not copied either, even when it is a configured forwardHeader (node joins repeated
 * Connection headers into one list).
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
  const credentialName = cfg.credential?.header.toLowerCase();
  const connection = incoming.connection;
  const hopByHop = typeof connection === 'string' && connection.length > 0 ? connectionNames(connection) : null;
  for (const name of cfg.forwardHeaders) {
    if (hopByHop !== null && hopByHop.has(name)) continue;
    // never one the gateway writes itself (the config check refuses them; this holds should it ever miss one)
    if (Object.hasOwn(out, name) || name === credentialName || name.startsWith('x-metagate-')) continue;
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

/** The header names a Connection value lists, lower-cased. */
function connectionNames(value: string): Set<string> {
  const names = new Set<string>();
  for (const part of value.split(',')) {
    const name = part.trim().toLowerCase();
    if (name.length > 0) names.add(name);
  }
  return names;
}
