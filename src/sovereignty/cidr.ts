// CIDR ranges for the sovereignty guard: parse once, test addresses without allocation-heavy libraries.

import { isIP } from 'node:net';

export interface Cidr {
  readonly text: string;
  readonly family: 4 | 6;
  readonly bits: bigint;
  readonly prefix: number;
}

function v4ToBig(addr: string): bigint {
  return addr.split('.').reduce((acc, part) => (acc << 8n) | BigInt(Number(part)), 0n);
}

function v6ToBig(addr: string): bigint | null {
  let a = addr;
  const zone = a.indexOf('%');
  if (zone !== -1) a = a.slice(0, zone);
  // embedded IPv4 (e.g. ::ffff:10.0.0.1)
  const lastColon = a.lastIndexOf(':');
  const tail = a.slice(lastColon + 1);
  let groups: string[];
  if (tail.includes('.')) {
    const v4 = v4ToBig(tail);
    a = a.slice(0, lastColon + 1) + ((v4 >> 16n) & 0xffffn).toString(16) + ':' + (v4 & 0xffffn).toString(16);
  }
  const parts = a.split('::');
  if (parts.length > 2) return null;
  const head = parts[0] ? parts[0].split(':') : [];
  const rest = parts.length === 2 && parts[1] ? parts[1].split(':') : [];
  const fill = 8 - head.length - rest.length;
  if (parts.length === 1 && head.length !== 8) return null;
  groups = [...head, ...Array<string>(Math.max(fill, 0)).fill('0'), ...rest];
  if (groups.length !== 8) return null;
  return groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g || '0', 16)), 0n);
}

export function parseCidr(text: string): Cidr | null {
  const [addr, p] = text.split('/');
  if (!addr || p === undefined || !/^\d{1,3}$/.test(p)) return null;
  const family = isIP(addr);
  const prefix = Number(p);
  if (family === 4 && prefix <= 32) {
    const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(32 - prefix);
    return { text, family: 4, bits: v4ToBig(addr) & mask, prefix };
  }
  if (family === 6 && prefix <= 128) {
    const big = v6ToBig(addr);
    if (big === null) return null;
    const mask = prefix === 0 ? 0n : ((1n << BigInt(prefix)) - 1n) << BigInt(128 - prefix);
    return { text, family: 6, bits: big & mask, prefix };
  }
  return null;
}

/** Whether an IP address (v4, v6 or v4-mapped v6) lies in one of the ranges. */
export function inRanges(address: string, ranges: readonly Cidr[]): boolean {
  let family = isIP(address);
  let value: bigint | null;
  let addr = address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped) {
    addr = mapped[1]!;
    family = 4;
  }
  if (family === 4) value = v4ToBig(addr);
  else if (family === 6) value = v6ToBig(addr);
  else return false;
  if (value === null) return false;
  for (const r of ranges) {
    if (r.family !== family) continue;
    const width = family === 4 ? 32 : 128;
    const mask = r.prefix === 0 ? 0n : ((1n << BigInt(r.prefix)) - 1n) << BigInt(width - r.prefix);
    if ((value & mask) === r.bits) return true;
  }
  return false;
}
