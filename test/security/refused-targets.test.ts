// A refused target the gateway never canonicalised (path_rejected, a refused message) is recorded as `url.original`,
// so the SOC sees what was tried — but never its query or fragment, never anything shaped like a token, never a
// control, bidi or invisible character, and never more than ORIGINAL_MAX characters of it.

import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { ORIGINAL_MAX, recordedTarget } from '../../src/pipeline/audit.js';
import { JWT_SHAPED, redactJwts } from '../../src/auth/token-shape.js';
import type { RequestAuditRecord } from '../../src/observability/audit.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { rawExchange } from '../helpers/http.js';
import { CLASS, recordCases, recordGenerated } from './summary.js';

const T = `/api/v1/tables/${DEMO_TABLE_ID}`;
const JWT = 'eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbm5hIn0.c2lnbmF0dXJlLXNpZ25hdHVyZQ';

describe('recordedTarget', () => {
  it.each<[string, string, string]>([
    ['a plain path, unchanged', T, T],
    ['encoded dot segments stay as sent', '/api/v1/tables/%2e%2e/queries', '/api/v1/tables/%2e%2e/queries'],
    ['backslashes stay as sent', '/api/v1/tables\\..\\queries', '/api/v1/tables\\..\\queries'],
    ['the query is never recorded', `${T}/../x?access_token=${JWT}&q=secret`, `${T}/../x?[query not recorded]`],
    ['nor the fragment', `/a/../b#access_token=${JWT}`, '/a/../b#[fragment not recorded]'],
    ['a fragment after a query: the query marker', '/a/..?x=1#y', '/a/..?[query not recorded]'],
    ['a token in the path is redacted', `/api/v1/${JWT}/..`, '/api/v1/[token]/..'],
    ['two token parts are redacted too', '/x/eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0/..', '/x/[token]/..'],
    ['a space and a tab are percent-encoded', '/a b\tc', '/a%20b%09c'],
    ['NUL and DEL', '/a\u0000b\u007f', '/a%00b%7F'],
    ['a latin-1 byte as node gives it', '/caf\u00e9', '/caf%E9'],
    ['a bidi override (wider than a byte) as its UTF-8 bytes', '/a\u202eb', '/a%E2%80%AEb'],
    ['an astral character as its four UTF-8 bytes', '/\u{1F600}', '/%F0%9F%98%80'],
    ['a lone surrogate as the replacement character', '/\ud800x', '/%EF%BF%BDx'],
    ['an empty target', '', ''],
    ['an asterisk-form target', '*', '*'],
    ['an absolute-form target keeps scheme and host', 'http://internal.example/api', 'http://internal.example/api'],
    // a review of the first version: credentials in the authority, tokens hidden by encoding, words that contain "eyJ"
    ['user:password@ in an absolute-form target is not recorded', 'http://svc:S3cretPassw0rd@internal.example/api/..', 'http://[userinfo not recorded]@internal.example/api/..'],
    // review of classes 1–4 (F76): the network-path form (RFC 3986 §4.2) carries an authority, and its userinfo, too
    ['user:password@ in a scheme-relative target is not recorded', '//svc:S3cretPassw0rd@internal.example/api/..', '//[userinfo not recorded]@internal.example/api/..'],
    ['nor a bare user@ in one', '//svc@internal.example/api', '//[userinfo not recorded]@internal.example/api'],
    ['an @ further along a plain path is no authority', '/api/v1/tables/name/a@b/..', '/api/v1/tables/name/a@b/..'],
    // independent review of session 9 (F82): the authority's userinfo ends at its last '@' (WHATWG URL, as a client
    // parses it), so a password holding an '@' was recorded from that '@' on
    ['an @ inside the password: the userinfo runs to the last @ of the authority', 'http://svc:P@ssw0rd@internal.example/api/..', 'http://[userinfo not recorded]@internal.example/api/..'],
    ['the same in a scheme-relative target', '//svc:P@ssw0rd@internal.example/api/..', '//[userinfo not recorded]@internal.example/api/..'],
    ['an @ in the path after the authority stays', '//svc:pw@internal.example/a@b/..', '//[userinfo not recorded]@internal.example/a@b/..'],
    ['a token whose letters are percent-encoded withholds the whole path', `/api/v1/tables/%65yJhbGciOiJFUzI1NiJ9.%65yJzdWIiOiJhbm5hIn0.sig/..`, '[a target holding a token is not recorded]'],
    ['a word containing eyJ is not a token', '/api/v1/tables/name/warehouse.surveyJobs.results/..', '/api/v1/tables/name/warehouse.surveyJobs.results/..'],
    ['nor a short ey… run', '/a/eyJ.eyJ/..', '/a/eyJ.eyJ/..'],
  ])('%s', (_d, raw, want) => {
    recordCases(CLASS.canonicaliseUnit, 1);
    expect(recordedTarget(raw)).toBe(want);
  });

  it('a long target is cut at ORIGINAL_MAX characters and says how much was left out', () => {
    recordCases(CLASS.canonicaliseUnit, 1);
    const raw = `/${'a'.repeat(ORIGINAL_MAX + 99)}`;
    expect(recordedTarget(raw)).toBe(`/${'a'.repeat(ORIGINAL_MAX - 1)}[100 more characters not recorded]`);
    expect(recordedTarget(`${raw}?q=1`)).toBe(`/${'a'.repeat(ORIGINAL_MAX - 1)}[100 more characters not recorded]?[query not recorded]`);
  });

  // independent review of session 9 (F82): the target was cut at ORIGINAL_MAX before its userinfo was looked for, so
  // the userinfo of a target whose '@' lay past the cut (a long password or key) was recorded up to the cut
  it('a userinfo longer than ORIGINAL_MAX is withheld too, and the cut counts only what is left', () => {
    recordCases(CLASS.canonicaliseUnit, 1);
    const secret = `K${'s3cr3tKey'.repeat(40)}`;
    for (const start of ['http://', '//']) {
      const out = recordedTarget(`${start}svc:${secret}@internal.example/api/..?q=1`);
      expect(out).toBe(`${start}[userinfo not recorded]@internal.example/api/..?[query not recorded]`);
      expect(out).not.toContain('s3cr3t');
    }
    const long = recordedTarget(`//svc:${secret}@internal.example/${'a'.repeat(ORIGINAL_MAX + 50)}`);
    expect(long).not.toContain('s3cr3t');
    expect(long.startsWith('//[userinfo not recorded]@internal.example/aaa')).toBe(true);
    expect(long).toMatch(/\[\d+ more characters not recorded\]$/);
  });

  // review finding: the first token pattern backtracked quadratically over a long run of "eyJ" (333 ms for 15 KB)
  it('a long run of token-like text is scanned in linear time (a guard against catastrophic backtracking)', () => {
    recordCases(CLASS.canonicaliseUnit, 1);
    const runs = ['eyJ'.repeat(100_000), `ey${'A'.repeat(300_000)}`, `${'eyJAAAAAAAAA.'.repeat(20_000)}`];
    const started = process.hrtime.bigint();
    for (const run of runs) {
      recordedTarget(`/${run}`);
      redactJwts(`/${run}`);
      JWT_SHAPED.test(run);
    }
    // quadratic backtracking takes minutes on these inputs; linear scanning a few milliseconds
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(2000);
  });

  it('for any target: printable ASCII only, bounded, no query, no token', () => {
    const canary = 'QUERYCANARY';
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 600 }), fc.boolean(), fc.boolean(), (path, withQuery, withToken) => {
        const raw = `${withToken ? `/${JWT}` : ''}${path}${withQuery ? `?${canary}=${JWT}` : ''}`;
        const out = recordedTarget(raw);
        // the only spaces are in the gateway's own markers
        expect(out.replace(/\[\d+ more characters not recorded\]|\[query not recorded\]|\[fragment not recorded\]|\[userinfo not recorded\]|\[a target holding a token is not recorded\]/g, '')).toMatch(/^[\x21-\x7e]*$/);
        expect(out).not.toContain(canary);
        expect(out).not.toContain(JWT);
        expect(out).not.toContain(JWT.split('.')[1]!);
        // each kept character becomes at most four %XX bytes
        expect(out.length).toBeLessThanOrEqual(ORIGINAL_MAX * 12 + 80);
      }),
      { numRuns: 2000 },
    );
    recordGenerated(2000);
  });
});

describe('the record of a refused target', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  async function send(target: string, extra = ''): Promise<{ status: number; rec: RequestAuditRecord; line: string }> {
    const before = h.audit.requestRecords().length;
    const res = await rawExchange(h.vendorPort, Buffer.from(`GET ${target} HTTP/1.1\r\nHost: gw.test\r\n${extra}Connection: close\r\n\r\n`, 'latin1'));
    for (let i = 0; i < 100 && h.audit.requestRecords().length <= before; i++) await new Promise((r) => setTimeout(r, 10));
    expect(h.audit.requestRecords().length).toBe(before + 1);
    const line = h.audit.lines.filter((l) => l.includes('"vendor_request"'))[before]!;
    return { status: res.status, rec: h.audit.requestRecords()[before]!, line };
  }

  it.each<[string, string, string]>([
    ['an encoded dot segment', '/api/v1/tables/%2e%2e/queries', '/api/v1/tables/%2e%2e/queries'],
    ['an encoded slash', `/api/v1/tables/a%2fb`, '/api/v1/tables/a%2fb'],
    ['a double-encoded dot segment with a query', `/api/v1/tables/%252e%252e/x?token=${JWT}`, '/api/v1/tables/%252e%252e/x?[query not recorded]'],
    ['a matrix parameter', `${T};jsessionid=1`, `${T};jsessionid=1`],
    ['an overlong UTF-8 dot segment', '/api/v1/tables/%c0%ae%c0%ae/queries', '/api/v1/tables/%c0%ae%c0%ae/queries'],
    ['a full-width dot segment', '/api/v1/tables/%ef%bc%8e%ef%bc%8e/queries', '/api/v1/tables/%ef%bc%8e%ef%bc%8e/queries'],
    ['a scheme-relative target with user:password@ (F76)', '//svc:S3cretPassw0rd@internal.example/api/v1/tables', '//[userinfo not recorded]@internal.example/api/v1/tables'],
  ])('%s: path_rejected, url.original shows it', async (_d, target, shown) => {
    recordCases(CLASS.path, 1);
    const { status, rec, line } = await send(target);
    expect(status).toBe(400);
    expect(rec.metagate.reasons).toEqual(['path_rejected']);
    expect(rec.url.path).toBeNull();
    expect(rec.url.original).toBe(shown);
    expect(line).not.toContain(JWT);
    expect(line).not.toContain('S3cretPassw0rd');
  });

  // independent review of session 9 (F82): the userinfo runs to the authority's last '@'
  it('an absolute-form target whose password holds an @: path_rejected, the password is not in the record (F82)', async () => {
    recordCases(CLASS.path, 1);
    const { status, rec, line } = await send('http://svc:S3cret@Passw0rd@internal.example/api/v1/tables');
    expect(status).toBe(400);
    expect(rec.url.original).toBe('http://[userinfo not recorded]@internal.example/api/v1/tables');
    expect(line).not.toContain('Passw0rd');
  });

  it('a message refused before its target is read (a body on GET) still shows the target, without its query', async () => {
    recordCases(CLASS.smuggling, 1);
    const { status, rec, line } = await send(`${T}?access_token=${JWT}`, 'Content-Length: 5\r\n');
    expect(status).toBe(400);
    expect(rec.metagate.reasons).toEqual(['request_rejected']);
    expect(rec.url.original).toBe(`${T}?[query not recorded]`);
    expect(line).not.toContain(JWT);
  });

  it('a canonicalised request records its path only, never url.original', async () => {
    recordCases(CLASS.path, 1);
    const { rec } = await send(`${T}/sampleData?x=1`);
    expect(rec.metagate.reasons).toEqual(['route_not_allowed']);
    expect(rec.url.path).toBe(`${T}/sampleData`);
    expect(rec.url.original).toBeUndefined();
  });
});
