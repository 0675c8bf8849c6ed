// Stage 1 unit tables: what the canonicaliser refuses (with status and reason) and the canonical form it produces.

import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalise, encodeQueryValue, DEFAULT_CANONICALISE_LIMITS, type CanonicalResult } from '../../src/pipeline/canonicalise.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { CLASS, recordCases, recordGenerated } from '../security/summary.js';

const T = `/api/v1/tables/${DEMO_TABLE_ID}`;

interface RejectCase {
  desc: string;
  input: string;
  status: 400 | 414;
  /** substring of the refusal detail */
  detail: string;
}

const DOT = 'dot segment in path';
const NON_ASCII_ENC = 'percent-encoded non-ASCII byte in path';
const NON_ASCII = 'non-ASCII byte in path';
const MALFORMED = 'malformed percent-encoding in path';
const ORIGIN = 'must be origin-form';
const EMPTY_SEG = 'empty path segment';
const BAD_VALUE = 'has a malformed or forbidden value';
const BAD_NAME = 'query parameter name is not a plain name';

const rejected: RejectCase[] = [
  // --- dot segments: raw, encoded, double-encoded, mixed case, overlong and look-alike Unicode
  { desc: 'raw ..', input: `${T}/../sampleData`, status: 400, detail: DOT },
  { desc: 'raw .', input: '/api/./v1/tables', status: 400, detail: DOT },
  { desc: 'raw .. as last segment', input: '/api/v1/tables/..', status: 400, detail: DOT },
  { desc: '%2e%2e lower case', input: `${T}/%2e%2e/sampleData`, status: 400, detail: DOT },
  { desc: '%2E%2E upper case', input: `${T}/%2E%2E/sampleData`, status: 400, detail: DOT },
  { desc: '%2e%2E mixed case', input: `${T}/%2e%2E/sampleData`, status: 400, detail: DOT },
  { desc: 'single %2e', input: '/api/%2e/v1/tables', status: 400, detail: DOT },
  { desc: '.%2e half encoded', input: `${T}/.%2e/sampleData`, status: 400, detail: DOT },
  { desc: '%2e. half encoded', input: `${T}/%2e./sampleData`, status: 400, detail: DOT },
  { desc: '%252e%252e double encoded', input: `${T}/%252e%252e/sampleData`, status: 400, detail: 'percent-encoded "%" in path' },
  { desc: '%25 alone (encoded percent)', input: '/api/v1/tables/name/a%25b', status: 400, detail: 'percent-encoded "%" in path' },
  { desc: '%c0%ae overlong UTF-8 dot', input: `${T}/%c0%ae%c0%ae/sampleData`, status: 400, detail: NON_ASCII_ENC },
  { desc: '%C0%AE overlong UTF-8 dot, upper case', input: `${T}/%C0%AE/x`, status: 400, detail: NON_ASCII_ENC },
  { desc: '%e2%80%a4 one-dot leader', input: `${T}/%e2%80%a4%e2%80%a4/sampleData`, status: 400, detail: NON_ASCII_ENC },
  { desc: 'raw one-dot leader U+2024', input: `${T}/\u2024\u2024/sampleData`, status: 400, detail: NON_ASCII },
  { desc: 'raw full-width dots U+FF0E', input: `${T}/\uff0e\uff0e/sampleData`, status: 400, detail: NON_ASCII },
  { desc: '%EF%BC%8E full-width dot encoded', input: `${T}/%EF%BC%8E%EF%BC%8E/sampleData`, status: 400, detail: NON_ASCII_ENC },
  { desc: '%u002e IIS-style encoding', input: `${T}/%u002e%u002e/sampleData`, status: 400, detail: MALFORMED },
  { desc: 'segment starting with .. (forwarder refuses "/..")', input: '/api/v1/tables/name/..x', status: 400, detail: 'starting with ".."' },
  { desc: 'segment ..; (Tomcat-style)', input: `${T}/..;/sampleData`, status: 400, detail: '";" (matrix parameter)' },
  // --- backslashes
  { desc: 'raw backslash', input: '/api/v1\\tables', status: 400, detail: 'backslash in path' },
  { desc: 'raw ..\\ traversal', input: `${T}/..\\sampleData`, status: 400, detail: 'backslash in path' },
  { desc: '%5c lower case', input: `${T}/%5c..%5csampleData`, status: 400, detail: 'percent-encoded backslash in path' },
  { desc: '%5C upper case', input: '/api/v1/tables%5Cname', status: 400, detail: 'percent-encoded backslash in path' },
  // --- encoded slash
  { desc: '%2f lower case', input: `/api/v1/tables%2f${DEMO_TABLE_ID}%2fsampleData`, status: 400, detail: 'percent-encoded "/" in path' },
  { desc: '%2F upper case', input: '/api/v1/tables/name/a%2Fb', status: 400, detail: 'percent-encoded "/" in path' },
  { desc: '%2e%2e%2f combined', input: `${T}/%2e%2e%2fsampleData`, status: 400, detail: 'percent-encoded "/" in path' },
  // --- NUL and control bytes
  { desc: '%00 in path', input: '/api/v1/tables%00/x', status: 400, detail: 'percent-encoded NUL byte in path' },
  { desc: 'raw NUL', input: '/api/v1/tables\0', status: 400, detail: 'NUL byte in path' },
  { desc: 'raw SOH', input: '/api/v1/tab\x01les', status: 400, detail: 'control byte in path' },
  { desc: 'raw tab', input: '/api/v1/\ttables', status: 400, detail: 'control byte in path' },
  { desc: 'raw CR LF', input: '/api/v1/tables\r\nX: y', status: 400, detail: 'control byte in path' },
  { desc: 'raw DEL', input: '/api/v1/tables\x7f', status: 400, detail: 'control byte in path' },
  { desc: '%0d%0a header injection', input: '/api/v1/tables%0d%0aX-Injected:%20y', status: 400, detail: 'percent-encoded control byte in path' },
  { desc: '%7f', input: '/api/v1/tables%7f', status: 400, detail: 'percent-encoded control byte in path' },
  { desc: '%09 encoded tab', input: '/api/v1/%09tables', status: 400, detail: 'percent-encoded control byte in path' },
  // --- matrix parameters
  { desc: '; jsessionid', input: '/api/v1/tables;jsessionid=x', status: 400, detail: '";" (matrix parameter) in path' },
  { desc: '; in the middle', input: `/api/v1/tables;x=y/${DEMO_TABLE_ID}`, status: 400, detail: '";" (matrix parameter) in path' },
  { desc: '%3b lower case', input: '/api/v1/tables%3bjsessionid=x', status: 400, detail: 'percent-encoded ";" (matrix parameter) in path' },
  { desc: '%3B upper case', input: '/api/v1/tables%3B', status: 400, detail: 'percent-encoded ";" (matrix parameter) in path' },
  // --- empty segments, trailing slash, trailing dot
  { desc: 'leading //', input: '//api/v1/tables', status: 400, detail: EMPTY_SEG },
  { desc: '// in the middle', input: '/api//v1/tables', status: 400, detail: EMPTY_SEG },
  { desc: 'trailing /', input: '/api/v1/tables/', status: 400, detail: EMPTY_SEG },
  { desc: 'trailing / before query', input: '/api/v1/tables/?limit=1', status: 400, detail: EMPTY_SEG },
  { desc: 'trailing . on last segment', input: '/api/v1/tables.', status: 400, detail: 'path segment ending in "."' },
  { desc: 'trailing . (encoded)', input: '/api/v1/tables%2e', status: 400, detail: 'path segment ending in "."' },
  { desc: 'trailing ... ', input: '/api/v1/tables...', status: 400, detail: 'path segment ending in "."' },
  { desc: 'trailing . inside path', input: `/api/v1./tables/${DEMO_TABLE_ID}`, status: 400, detail: 'path segment ending in "."' },
  // --- fragments and encoded delimiters
  { desc: 'raw # fragment', input: '/api/v1/tables#sampleData', status: 400, detail: '"#" (fragment) in path' },
  { desc: '# after query', input: '/api/v1/tables?limit=1#x', status: 400, detail: BAD_VALUE },
  { desc: '%23 encoded #', input: '/api/v1/tables%23x', status: 400, detail: 'percent-encoded "#" (fragment) in path' },
  { desc: '%3f encoded ?', input: `${T}%3f/sampleData`, status: 400, detail: 'percent-encoded "?" in path' },
  { desc: '%3F encoded ?', input: `${T}%3F`, status: 400, detail: 'percent-encoded "?" in path' },
  // --- malformed percent-encoding
  { desc: 'lone %', input: '/api/v1/tables%', status: 400, detail: MALFORMED },
  { desc: 'truncated %2', input: '/api/v1/tables%2', status: 400, detail: MALFORMED },
  { desc: 'non-hex %zz', input: '/api/v1/%zztables', status: 400, detail: MALFORMED },
  { desc: 'non-hex %g0', input: '/api/v1/%g0', status: 400, detail: MALFORMED },
  // --- not origin-form
  { desc: 'absolute-form http', input: 'http://internal.example/api/v1/tables', status: 400, detail: ORIGIN },
  { desc: 'absolute-form https', input: `https://127.0.0.1:8585${T}/sampleData`, status: 400, detail: ORIGIN },
  { desc: 'authority-form', input: 'internal.example:443', status: 400, detail: ORIGIN },
  { desc: 'asterisk-form', input: '*', status: 400, detail: ORIGIN },
  { desc: 'relative path', input: 'api/v1/tables', status: 400, detail: ORIGIN },
  { desc: 'query only', input: '?x=/api/v1/tables', status: 400, detail: ORIGIN },
  { desc: 'leading backslash', input: '\\api\\v1\\tables', status: 400, detail: ORIGIN },
  { desc: 'empty target', input: '', status: 400, detail: 'empty request target' },
  // --- printable characters that are legal only when encoded, and non-ASCII
  { desc: 'raw space', input: '/api/v1/tables/name/a b', status: 400, detail: 'character " " in path' },
  { desc: 'raw double quote', input: '/api/v1/tables/name/"a"', status: 400, detail: 'character """ in path' },
  { desc: 'raw <', input: '/api/v1/tables/name/<a', status: 400, detail: 'character "<" in path' },
  { desc: 'raw {', input: '/api/v1/tables/{id}', status: 400, detail: 'character "{" in path' },
  { desc: 'raw |', input: '/api/v1/tables|x', status: 400, detail: 'character "|" in path' },
  { desc: 'raw backtick', input: '/api/v1/`x`', status: 400, detail: 'character "`" in path' },
  { desc: 'raw e-acute', input: '/api/v1/tables/name/caf\u00e9', status: 400, detail: NON_ASCII },
  { desc: 'raw emoji', input: '/api/v1/tables/name/\u{1F600}', status: 400, detail: NON_ASCII },
  { desc: 'Cyrillic a look-alike in "tables"', input: '/api/v1/t\u0430bles', status: 400, detail: NON_ASCII },
  { desc: 'percent-encoded UTF-8 e-acute', input: '/api/v1/tables/name/caf%C3%A9', status: 400, detail: NON_ASCII_ENC },
  // --- over-long
  { desc: 'path one byte over the limit', input: '/' + 'a'.repeat(DEFAULT_CANONICALISE_LIMITS.maxPathLength), status: 414, detail: 'path longer than 2048 bytes' },
  { desc: 'query one byte over the limit', input: '/api/v1/tables?x=' + 'a'.repeat(DEFAULT_CANONICALISE_LIMITS.maxQueryLength - 1), status: 414, detail: 'query longer than 2048 bytes' },
  // --- query string
  { desc: 'too many query parameters', input: '/api/v1/tables?' + Array.from({ length: 17 }, (_, i) => `k${i}=1`).join('&'), status: 400, detail: 'more than 16 query parameters' },
  { desc: 'repeated query key', input: '/api/v1/tables?limit=1&limit=1000', status: 400, detail: 'query parameter "limit" repeated' },
  { desc: 'repeated fields key (HPP)', input: '/api/v1/tables?fields=columns&fields=sampleData', status: 400, detail: 'query parameter "fields" repeated' },
  { desc: 'a=1&&b=2', input: '/api/v1/tables?a=1&&b=2', status: 400, detail: 'empty query parameter' },
  { desc: 'trailing &', input: '/api/v1/tables?a=1&', status: 400, detail: 'empty query parameter' },
  { desc: 'leading &', input: '/api/v1/tables?&a=1', status: 400, detail: 'empty query parameter' },
  { desc: 'valueless key', input: '/api/v1/tables?includeEmptyTestSuite', status: 400, detail: 'query parameter without a value' },
  { desc: 'empty key', input: '/api/v1/tables?=x', status: 400, detail: BAD_NAME },
  { desc: '+ in value (space or plus?)', input: '/api/v1/tables?database=a+b', status: 400, detail: BAD_VALUE },
  { desc: 'encoded key', input: '/api/v1/tables?fi%65lds=sampleData', status: 400, detail: BAD_NAME },
  { desc: 'key with [] (array syntax)', input: '/api/v1/tables?fields[]=columns', status: 400, detail: BAD_NAME },
  { desc: '_method override key', input: '/api/v1/tables?_method=DELETE', status: 400, detail: BAD_NAME },
  { desc: 'key starting with a digit', input: '/api/v1/tables?1=x', status: 400, detail: BAD_NAME },
  { desc: 'non-ASCII key', input: '/api/v1/tables?f\u00e9lds=x', status: 400, detail: BAD_NAME },
  { desc: 'non-ASCII raw value', input: '/api/v1/tables?database=caf\u00e9', status: 400, detail: BAD_VALUE },
  { desc: 'non-ASCII encoded value', input: '/api/v1/tables?database=caf%C3%A9', status: 400, detail: BAD_VALUE },
  { desc: '%00 in value', input: '/api/v1/tables?database=a%00b', status: 400, detail: BAD_VALUE },
  { desc: '%0a in value', input: '/api/v1/tables?database=a%0ab', status: 400, detail: BAD_VALUE },
  { desc: '%7f in value', input: '/api/v1/tables?database=a%7f', status: 400, detail: BAD_VALUE },
  { desc: 'malformed encoding in value', input: '/api/v1/tables?database=a%zz', status: 400, detail: BAD_VALUE },
  { desc: 'raw ; in value', input: '/api/v1/tables?database=a;b', status: 400, detail: BAD_VALUE },
  { desc: 'raw space in value', input: '/api/v1/tables?database=a b', status: 400, detail: BAD_VALUE },
  { desc: 'raw " in value', input: '/api/v1/tables?database="a"', status: 400, detail: BAD_VALUE },
  { desc: 'raw \\ in value', input: '/api/v1/tables?database=a\\b', status: 400, detail: BAD_VALUE },
];

interface AcceptCase {
  desc: string;
  input: string;
  path: string;
  query?: Array<[string, string]>;
}

const accepted: AcceptCase[] = [
  { desc: 'root', input: '/', path: '/' },
  { desc: 'plain path', input: '/api/v1/tables', path: '/api/v1/tables' },
  { desc: 'entity by id', input: T, path: T },
  { desc: 'unreserved %61 is decoded', input: '/api/v1/t%61bles', path: '/api/v1/tables' },
  { desc: 'unreserved %41 upper-case letter decoded', input: '/api/v1/%41', path: '/api/v1/A' },
  { desc: 'every unreserved letter of "tables" encoded', input: '/api/v1/%74%61%62%6c%65%73', path: '/api/v1/tables' },
  { desc: 'encoded - _ ~ decoded', input: '/api/v1/a%2Db%5Fc%7Ed', path: '/api/v1/a-b_c~d' },
  { desc: '%2e inside a segment decodes to "."', input: `/api/v1/tables/name/a%2eb`, path: '/api/v1/tables/name/a.b' },
  { desc: '%3a decodes to ":"', input: '/api/v1/tables/name/svc%3adb', path: '/api/v1/tables/name/svc:db' },
  { desc: '%40 decodes to "@"', input: '/api/v1/tables/name/a%40b', path: '/api/v1/tables/name/a@b' },
  { desc: 'sub-delims decoded', input: '/api/v1/x%21%24%26%27%28%29%2a%2b%2c%3d', path: "/api/v1/x!$&'()*+,=" },
  { desc: '%22 kept, upper case', input: '/api/v1/tables/name/%22quoted%22', path: '/api/v1/tables/name/%22quoted%22' },
  { desc: 'lower-case hex of a kept encoding is upper-cased (%3c → %3C)', input: '/api/v1/tables/name/a%3cb', path: '/api/v1/tables/name/a%3Cb' },
  { desc: '%20 kept encoded', input: '/api/v1/tables/name/a%20b', path: '/api/v1/tables/name/a%20b' },
  { desc: '%3c %3e %7b %7d %7c %5e %60 %5b %5d kept and upper-cased', input: '/x/%3c%3e%7b%7d%7c%5e%60%5b%5d', path: '/x/%3C%3E%7B%7D%7C%5E%60%5B%5D' },
  { desc: 'case variant kept (no rule will match it)', input: '/API/v1/tables', path: '/API/v1/tables' },
  { desc: 'segment starting with one dot', input: '/api/v1/.well-known', path: '/api/v1/.well-known' },
  { desc: 'dots inside a segment', input: '/api/v1/tables/name/demo_mysql.shop.sales.customers', path: '/api/v1/tables/name/demo_mysql.shop.sales.customers' },
  { desc: 'empty query after ?', input: '/api/v1/tables?', path: '/api/v1/tables', query: [] },
  { desc: 'query keys keep their order', input: '/api/v1/tables?limit=10&fields=columns,tags', path: '/api/v1/tables', query: [['limit', '10'], ['fields', 'columns,tags']] },
  { desc: 'empty value', input: '/api/v1/tables?database=', path: '/api/v1/tables', query: [['database', '']] },
  { desc: '%2B is a plus, not a space', input: '/api/v1/tables?after=a%2Bb', path: '/api/v1/tables', query: [['after', 'a+b']] },
  { desc: '%20 is a space', input: '/api/v1/tables?database=a%20b', path: '/api/v1/tables', query: [['database', 'a b']] },
  { desc: '%26 decodes inside the value only', input: '/api/v1/tables?database=a%26limit%3D5', path: '/api/v1/tables', query: [['database', 'a&limit=5']] },
  { desc: '= inside a value', input: '/api/v1/tables?after=abc==', path: '/api/v1/tables', query: [['after', 'abc==']] },
  { desc: 'allow-listed path hidden in a value stays a value', input: '/api/v1/sampleData?x=/api/v1/tables', path: '/api/v1/sampleData', query: [['x', '/api/v1/tables']] },
  { desc: '? inside a value', input: '/api/v1/tables?x=a?b', path: '/api/v1/tables', query: [['x', 'a?b']] },
  { desc: 'exactly the path limit', input: '/' + 'a'.repeat(DEFAULT_CANONICALISE_LIMITS.maxPathLength - 1), path: '/' + 'a'.repeat(DEFAULT_CANONICALISE_LIMITS.maxPathLength - 1) },
  { desc: 'exactly 16 query parameters', input: '/api/v1/tables?' + Array.from({ length: 16 }, (_, i) => `k${i}=1`).join('&'), path: '/api/v1/tables', query: Array.from({ length: 16 }, (_, i) => [`k${i}`, '1'] as [string, string]) },
];

function expectRejected(r: CanonicalResult): Extract<CanonicalResult, { ok: false }> {
  expect(r.ok).toBe(false);
  if (r.ok) throw new Error('accepted');
  return r;
}

describe('canonicalise: refused request targets', () => {
  it.each(rejected)('$desc → $status', ({ input, status, detail }) => {
    recordCases(CLASS.canonicaliseUnit, 1);
    const r = expectRejected(canonicalise(input));
    expect(r.status).toBe(status);
    expect(r.detail).toContain(detail);
  });
});

describe('canonicalise: canonical form', () => {
  it.each(accepted)('$desc → $path', ({ input, path, query }) => {
    recordCases(CLASS.canonicaliseUnit, 1);
    const r = canonicalise(input);
    if (!r.ok) throw new Error(`refused: ${r.detail}`);
    expect(r.target.path).toBe(path);
    expect(r.target.segments).toEqual(path === '/' ? [] : path.slice(1).split('/'));
    if (query) expect([...r.target.query]).toEqual(query);
    // the canonical form is a fixed point
    const again = canonicalise(r.target.path);
    if (!again.ok) throw new Error(`canonical path refused: ${again.detail}`);
    expect(again.target.path).toBe(r.target.path);
  });

  it('limits are configurable', () => {
    recordCases(CLASS.canonicaliseUnit, 4);
    const limits = { maxPathLength: 10, maxQueryLength: 11, maxQueryParams: 2 };
    expect(canonicalise('/123456789', limits).ok).toBe(true);
    expect(expectRejected(canonicalise('/1234567890', limits)).status).toBe(414);
    expect(expectRejected(canonicalise('/a?b=12345678901', limits)).status).toBe(414);
    expect(expectRejected(canonicalise('/a?b=1&c=2&d=3', limits)).detail).toContain('more than 2 query parameters');
  });

  it('returns a fresh query map for every call', () => {
    recordCases(CLASS.canonicaliseUnit, 1);
    const a = canonicalise('/x?a=1');
    const b = canonicalise('/x?a=1');
    if (!a.ok || !b.ok) throw new Error('refused');
    expect(a.target.query).not.toBe(b.target.query);
  });
});

// The canonical form said another way, with regular expressions over the whole target instead of the character loop:
// every encoding of an unreserved character, a sub-delim, ':' or '@' decoded, every other accepted one upper-cased,
// the rest of the path as sent; query values with every encoding decoded. Generated from pieces that reach both the
// accepted and the refused side.
const SAFE_CHARS = /^[A-Za-z0-9\-._~!$&'()*+,=:@]$/;
const modelPath = (rawPath: string): string =>
  rawPath.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return SAFE_CHARS.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
const modelValue = (raw: string): string => raw.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));

describe('canonicalise: the same form as a model of it (generated targets)', () => {
  const piece = fc.constantFrom('a', 'Z', '9', '.', '-', '~', ':', '@', '/', '%61', '%41', '%2e', '%2E', '%3a', '%7e', '%22', '%3c', '%3C', '%20', '%5b', '%7B', '%2f', '%25', '%c3%a9', '%', '%4', '%zz', ';', ' ', 'é');
  const valuePiece = fc.constantFrom('a', '1', '.', '-', ':', '/', '?', '=', '%20', '%2B', '%26', '%3d', '%7e', '%7E', '%41', '%00', '%7f', '%', '%g1', '+', ' ');
  const target = fc.tuple(
    fc.array(piece, { minLength: 1, maxLength: 14 }),
    fc.option(fc.array(fc.tuple(fc.constantFrom('a', 'limit', 'fields', 'q.x'), fc.array(valuePiece, { maxLength: 6 })), { minLength: 1, maxLength: 3 }), { nil: undefined }),
  );

  it('accepted targets have exactly the path, segments and query values of the model (3000 runs)', () => {
    recordCases(CLASS.canonicaliseUnit, 1);
    recordGenerated(3000);
    let accepted = 0;
    let decoded = 0;
    fc.assert(
      fc.property(target, ([path, query]) => {
        const rawPath = '/' + path.join('');
        const params = query === undefined ? [] : query.map(([k, v], i) => [`${k}${i}`, v.join('')] as const);
        const raw = params.length === 0 ? rawPath : `${rawPath}?${params.map(([k, v]) => `${k}=${v}`).join('&')}`;
        const r = canonicalise(raw);
        if (!r.ok) return;
        accepted++;
        if (rawPath.includes('%')) decoded++;
        expect(r.target.path).toBe(modelPath(rawPath));
        expect(r.target.segments).toEqual(rawPath === '/' ? [] : modelPath(rawPath).slice(1).split('/'));
        expect([...r.target.query]).toEqual(params.map(([k, v]) => [k, modelValue(v)]));
      }),
      { numRuns: 3000 },
    );
    // both the plain and the decoding paths are reached
    expect(accepted).toBeGreaterThan(150);
    expect(decoded).toBeGreaterThan(50);
  });
});

describe('encodeQueryValue: what the upstream receives', () => {
  it.each([
    ['plain', 'columns,tags', 'columns%2Ctags'],
    ['space', 'a b', 'a%20b'],
    ['plus', 'a+b', 'a%2Bb'],
    ['ampersand and equals', 'a&b=c', 'a%26b%3Dc'],
    ['quote and parentheses', "o'(x)*!", 'o%27%28x%29%2A%21'],
    ['slash and question mark', '/api/v1?x', '%2Fapi%2Fv1%3Fx'],
    ['unreserved kept', 'A-z_0.9~', 'A-z_0.9~'],
  ])('%s', (_d, value, encoded) => {
    recordCases(CLASS.canonicaliseUnit, 1);
    expect(encodeQueryValue(value)).toBe(encoded);
    // the gateway reads back exactly the value it decided on
    const r = canonicalise(`/x?k=${encoded}`);
    if (!r.ok) throw new Error(r.detail);
    expect(r.target.query.get('k')).toBe(value);
  });
});
