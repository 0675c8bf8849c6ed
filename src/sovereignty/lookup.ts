// Sovereignty at connect time: a dns.lookup stand-in that refuses answers outside the allowed ranges, so DNS rebinding
// after start cannot move an outbound connection (upstream, JWKS, Redis) out of the private cloud.

import dns, { type LookupAddress, type LookupOptions } from 'node:dns';
import { isIP, type LookupFunction } from 'node:net';
import type { Runtime } from '../config/load.js';
import { inRanges, type Cidr } from './cidr.js';

export type { LookupFunction } from 'node:net';

/** Stable code on every refusal, so callers (undici, http, ioredis) surface it and tests branch on it. */
export const SOVEREIGNTY_ERROR_CODE = 'ERR_METAGATE_SOVEREIGNTY';

/** How the guard asks for addresses: node's dns.lookup by default; tests pass a fake (a rebinding resolver). */
export type Resolver = (
  hostname: string,
  options: LookupOptions & { all: true },
  callback: (err: NodeJS.ErrnoException | null, addresses: LookupAddress[]) => void,
) => void;

const systemResolver: Resolver = (hostname, options, callback) => dns.lookup(hostname, options, callback);

export class OutsideRangesError extends Error {
  override readonly name = 'OutsideRangesError';
  readonly code = SOVEREIGNTY_ERROR_CODE;
  constructor(
    readonly host: string,
    readonly addresses: readonly string[],
    readonly ranges: readonly Cidr[],
  ) {
    super(`sovereignty guard: ${host} resolves to ${addresses.join(', ')}, outside the allowed ranges (${ranges.map((r) => r.text).join(', ')}); connection refused`);
  }
}

/** The addresses of `addresses` that are not in `ranges` (empty when all are inside). */
export function outsideRanges(addresses: readonly string[], ranges: readonly Cidr[]): string[] {
  return addresses.filter((a) => !inRanges(a, ranges));
}

/** Throws OutsideRangesError when `address` (an IP literal) lies outside the ranges; IP literals never reach a resolver. */
export function assertAddressInRanges(host: string, address: string, ranges: readonly Cidr[]): void {
  if (outsideRanges([address], ranges).length > 0) throw new OutsideRangesError(host, [address], ranges);
}

/**
 * A `lookup` for net/tls/http/undici/ioredis. Every answer is checked: if any resolved address lies outside the
 * ranges the whole answer is refused (a partly rebound name is as suspect as a fully rebound one, and happy-eyeballs
 * could otherwise pick the outside address). Honours `all` and `family` as node's own lookup does.
 */
export function guardedLookup(ranges: readonly Cidr[], resolver: Resolver = systemResolver): LookupFunction {
  return (hostname, options, callback) => {
    const opts: LookupOptions = typeof options === 'object' && options !== null ? options : {};
    const answer = (addresses: LookupAddress[]) => {
      if (addresses.length === 0) {
        const err: NodeJS.ErrnoException = Object.assign(new Error(`sovereignty guard: ${hostname} has no addresses`), { code: 'ENOTFOUND', hostname });
        callback(err, opts.all ? [] : '', undefined);
        return;
      }
      const outside = outsideRanges(addresses.map((a) => a.address), ranges);
      if (outside.length > 0) {
        callback(new OutsideRangesError(hostname, outside, ranges), opts.all ? [] : '', undefined);
        return;
      }
      if (opts.all) callback(null, addresses);
      else callback(null, addresses[0]!.address, addresses[0]!.family);
    };
    const bare = hostname.replace(/^\[|\]$/g, '');
    const literal = isIP(bare);
    if (literal) {
      answer([{ address: bare, family: literal }]);
      return;
    }
    const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : (opts.family ?? 0);
    resolver(hostname, { ...(family ? { family } : {}), ...(opts.hints !== undefined ? { hints: opts.hints } : {}), all: true, verbatim: true }, (err, addresses) => {
      if (err) {
        callback(err, opts.all ? [] : '', undefined);
        return;
      }
      answer(addresses);
    });
  };
}

/** Promise form for code that resolves before connecting (the Redis connector). Returns every address. */
export function resolveGuarded(host: string, ranges: readonly Cidr[], resolver: Resolver = systemResolver): Promise<LookupAddress[]> {
  const lookup = guardedLookup(ranges, resolver);
  return new Promise((resolve, reject) => {
    lookup(host, { all: true }, (err, addresses) => (err ? reject(err) : resolve(addresses as LookupAddress[])));
  });
}

/** The lookup every outbound client of this runtime must use; undefined when the guard is off (no ranges configured). */
export function sovereignLookup(runtime: Runtime, resolver?: Resolver): LookupFunction | undefined {
  if (runtime.allowedRanges.length === 0) return undefined;
  return guardedLookup(runtime.allowedRanges, resolver);
}
