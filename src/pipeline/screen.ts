// Part of stage 1: request-level checks on the raw HTTP message before the target is parsed.

import type { IncomingMessage } from 'node:http';

/** Headers that must appear at most once; a second copy means two parsers could read two different values. */
const SINGLE = new Set(['host', 'authorization', 'content-length', 'transfer-encoding', 'content-type']);

/** Returns why the message is refused, or null. */
export function screenMessage(raw: IncomingMessage): string | null {
  const h = raw.rawHeaders;
  const seen = new Set<string>();
  for (let i = 0; i < h.length; i += 2) {
    const name = h[i]!.toLowerCase();
    if (SINGLE.has(name)) {
      // a repeated Authorization is refused by the authenticate stage with its own reason
      if (seen.has(name) && name !== 'authorization') return `the "${name}" header was sent more than once`;
      seen.add(name);
    }
  }
  const len = raw.headers['content-length'];
  if (raw.headers['transfer-encoding'] !== undefined || (len !== undefined && len !== '0')) return 'a request body is not accepted';
  return null;
}
