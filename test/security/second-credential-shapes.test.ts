// Review 56 (DESIGN §3, §6 class 5: "more than one credential → refuse"). The header list in otherCredential names
// some deployments' credential headers; a token under any other name (Cloudflare Access, Pomerium, X-Authorization …)
// was ignored and the request allowed. A cookie was already judged by its value's shape; a header now is too. Cookie
// names with the __Host-/__Secure- prefixes or a chunk number (access_token_0) are credential names as well.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';

const T = `/api/v1/tables/${DEMO_TABLE_ID}`;
let h: Harness;
beforeAll(async () => {
  h = await startHarness();
});
afterAll(async () => {
  await h?.close();
});

async function send(headers: Record<string, string>) {
  const before = h.audit.requestRecords().length;
  const up = h.upstream.requests.length;
  const res = await request(h.vendorUrl, T, { headers });
  for (let i = 0; i < 100 && h.audit.requestRecords().length <= before; i++) await new Promise((r) => setTimeout(r, 10));
  await new Promise((r) => setTimeout(r, 20));
  return { res, recs: h.audit.requestRecords().slice(before), upstreamHits: h.upstream.requests.length - up };
}

describe('a second credential under a header name the list does not know', () => {
  it.each(['cf-access-jwt-assertion', 'x-pomerium-jwt-assertion', 'x-authorization', 'x-jwt', 'x-token', 'authentication', 'jwt'])('%s carrying another token → 401 token_invalid, nothing forwarded, one record', async (name) => {
    const mine = await h.token('geheim');
    const other = await h.token('foreign');
    const o = await send({ authorization: `Bearer ${mine}`, [name]: other });
    expect(o.res.status).toBe(401);
    expect(o.res.json<{ code: string; detail: string }>().code).toBe('token_invalid');
    expect(o.res.json<{ detail: string }>().detail).toMatch(/besides the bearer token/);
    expect(o.upstreamHits).toBe(0);
    expect(o.recs).toHaveLength(1);
    expect(o.recs[0]!.metagate.reasons).toEqual(['token_invalid']);
    expect(JSON.stringify(o.recs[0])).not.toContain(other.split('.')[2]!);
  });

  it.each(['__Host-access_token=opaque-1', '__Secure-id_token=opaque-2', 'access_token_0=opaque-3', 'id_token.1=opaque-4'])('cookie %s → 401 token_invalid', async (cookie) => {
    const o = await send({ authorization: `Bearer ${await h.token('geheim')}`, cookie });
    expect(o.res.status).toBe(401);
    expect(o.res.json<{ code: string }>().code).toBe('token_invalid');
    expect(o.upstreamHits).toBe(0);
    expect(o.recs).toHaveLength(1);
  });

  it('a scheme and a token under another name is a credential too', async () => {
    const o = await send({ authorization: `Bearer ${await h.token('geheim')}`, 'x-forwarded-authorization': `Bearer ${await h.token('foreign')}` });
    expect(o.res.status).toBe(401);
    expect(o.res.json<{ code: string }>().code).toBe('token_invalid');
    expect(o.upstreamHits).toBe(0);
  });

  // review 9: a value that merely contains a token presents nothing (the first version refused these)
  it('a Referer naming an id_token, an ETag or baggage holding a token-shaped value are not credentials', async () => {
    const other = await h.token('foreign');
    const o = await send({
      authorization: `Bearer ${await h.token('geheim')}`,
      referer: `https://portal.vendor.example/callback?id_token=${other}&state=1`,
      'if-none-match': `"${other}"`,
      baggage: `session=${other},tenant=vendor`,
    });
    expect(o.res.status).toBe(200);
    expect(o.upstreamHits).toBe(1);
  });

  it('control: ordinary extra headers and cookies are not credentials', async () => {
    const o = await send({ authorization: `Bearer ${await h.token('geheim')}`, 'x-request-note': 'survey.eyes-only keys', 'user-agent': 'curl/8.5.0', cookie: 'theme=dark; tokenizer=on; session_hint=1' });
    expect(o.res.status).toBe(200);
    expect(o.upstreamHits).toBe(1);
  });
});
