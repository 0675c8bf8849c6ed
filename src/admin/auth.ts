// Admin authentication: a named bearer secret per operator, compared in constant time; never a vendor token.

import { createHash, timingSafeEqual } from 'node:crypto';

export interface AdminTokenSet {
  /** the operator's name for a presented Authorization header, or null */
  identify(header: string | undefined): string | null;
  readonly size: number;
}

const digest = (s: string) => createHash('sha256').update(s).digest();
const BEARER_RE = /^bearer /i;

export function adminTokenSet(tokens: ReadonlyArray<{ name: string; secret: string }>): AdminTokenSet {
  const entries = tokens.map((t) => ({ name: t.name, hash: digest(t.secret) }));
  return {
    size: entries.length,
    identify(header) {
      // the scheme is case-insensitive (RFC 9110 §11.1), as on the vendor listener; exactly one space follows it
      if (typeof header !== 'string' || header.length > 1024 || !BEARER_RE.test(header)) return null;
      const presented = digest(header.slice(7));
      let found: string | null = null;
      // compare against every entry so timing does not tell which one matched
      for (const e of entries) if (timingSafeEqual(presented, e.hash) && found === null) found = e.name;
      return found;
    },
  };
}
