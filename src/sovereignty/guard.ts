// Sovereignty guard: every outbound address (upstream, JWKS, Redis) must resolve inside the configured ranges.

import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import type { Runtime } from '../config/load.js';
import { inRanges, type Cidr } from './cidr.js';

export class SovereigntyError extends Error {
  override readonly name = 'SovereigntyError';
}

/** Host names metagate connects to, by the config key that names them. */
export function outboundHosts(runtime: Runtime): Array<{ key: string; host: string }> {
  const c = runtime.config;
  const out: Array<{ key: string; host: string }> = [{ key: 'upstream.url', host: new URL(c.upstream.url).hostname }];
  if (c.auth.jwks.url) out.push({ key: 'auth.jwks.url', host: new URL(c.auth.jwks.url).hostname });
  const r = c.state.backend === 'redis' ? c.state.redis : undefined;
  if (r?.mode === 'single') out.push({ key: 'state.redis.url', host: new URL(r.url).hostname });
  else if (r?.mode === 'sentinel') r.sentinels.forEach((s, i) => out.push({ key: `state.redis.sentinels[${i}]`, host: s.host }));
  else if (r?.mode === 'cluster') r.nodes.forEach((s, i) => out.push({ key: `state.redis.nodes[${i}]`, host: s.host }));
  return out;
}

export async function resolveAll(host: string): Promise<string[]> {
  const h = host.replace(/^\[|\]$/g, '');
  if (isIP(h)) return [h];
  const addrs = await dnsLookup(h, { all: true, verbatim: true });
  return addrs.map((a) => a.address);
}

function describeRanges(ranges: readonly Cidr[]): string {
  return ranges.map((r) => r.text).join(', ');
}

/** At start: refuse when any configured outbound host resolves (even partly) outside the allowed ranges. */
export async function checkSovereignty(runtime: Runtime): Promise<void> {
  const ranges = runtime.allowedRanges;
  if (ranges.length === 0) return;
  const problems: string[] = [];
  for (const { key, host } of outboundHosts(runtime)) {
    let addrs: string[];
    try {
      addrs = await resolveAll(host);
    } catch {
      problems.push(`${key}: host ${host} does not resolve`);
      continue;
    }
    const outside = addrs.filter((a) => !inRanges(a, ranges));
    if (outside.length > 0) problems.push(`${key}: ${host} resolves to ${outside.join(', ')}, outside the allowed ranges (${describeRanges(ranges)})`);
  }
  if (problems.length > 0) throw new SovereigntyError(`sovereignty guard refused to start:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
}
