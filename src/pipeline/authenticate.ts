// Stage 3: take the bearer token from the Authorization header only, verify it with pinned options, cache the result.

import { createHash } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { AuthConfig } from '../config/types.js';
import { KeysUnavailableError, UnusableKeyError, type KeyStore } from '../auth/keystore.js';
import { findKeyProblem, findNumberProblem } from '../auth/strict-json.js';
import { JWT_SHAPED } from '../auth/token-shape.js';
import { shown } from '../errors.js';
import type { DenyReason } from '../policy/reasons.js';

export interface VerifiedToken {
  payload: Record<string, unknown>;
  /** the signing key id, for the audit trail */
  kid?: string;
  /** fingerprintOf(token): lets analysts correlate records without storing the token */
  fingerprint: string;
}

export type AuthResult = { ok: true; token: VerifiedToken; cached: boolean } | { ok: false; reason: DenyReason; detail: string };

const BEARER_RE = /^Bearer ([A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/i;
const KID_RE = /^[A-Za-z0-9._:+/=-]{1,128}$/;
const FORBIDDEN_HEADER_PARAMS = ['jku', 'x5u', 'jwk', 'x5c', 'crit', 'b64', 'zip', 'enc'];
/**
 * 9999-12-31T23:59:59Z: the last instant an RFC 3339 date can name. A JWT time beyond it is no real date (and past
 * 8.64e12 s not even a JavaScript one: `new Date(exp * 1000).toISOString()` in whoami would throw).
 */
const MAX_NUMERIC_DATE = 253_402_300_799;

interface CacheEntry {
  /** the whole token as presented: the cache is keyed by its last characters only (cacheKey), so a hit is a hit only
   *  when this is the same text */
  raw: string;
  token: VerifiedToken;
  generation: number;
  exp: number; // seconds
  nbf: number | undefined;
  iat: number;
}

const deny = (reason: DenyReason, detail: string): AuthResult => ({ ok: false, reason, detail });

/**
 * The cache's key for a token: its last 32 characters, all of them signature in any JWS this gateway accepts (an ES256
 * signature alone is 86). Hashing a token of some 500 characters for the lookup cost about a microsecond a request;
 * the key is only where to look, and an entry counts only for the token text it holds (CacheEntry.raw). Two tokens
 * with the same last characters take turns in one slot: a miss costs a signature check, never a wrong answer.
 */
const CACHE_KEY_CHARS = 32;
const cacheKey = (token: string): string => (token.length > CACHE_KEY_CHARS ? token.slice(token.length - CACHE_KEY_CHARS) : token);

/**
 * Headers that carry a credential in other deployments (proxies, cloud load balancers, API gateways, DPoP). The gateway
 * reads none of them; sent with the bearer token they make the request's identity ambiguous, so it is refused.
 */
const OTHER_CREDENTIAL_HEADERS: ReadonlySet<string> = new Set([
  'proxy-authorization', 'dpop', 'x-api-key', 'x-auth-token', 'x-access-token', 'x-id-token', 'x-jwt-assertion',
  'x-forwarded-access-token', 'x-forwarded-id-token', 'x-forwarded-authorization', 'x-auth-request-access-token',
  'x-amzn-oidc-accesstoken', 'x-amzn-oidc-data', 'x-amzn-oidc-identity', 'x-goog-iap-jwt-assertion',
  'x-ms-token-aad-access-token', 'x-ms-token-aad-id-token',
]);
/**
 * A cookie named like a credential (also with the `__Host-`/`__Secure-` prefix or a chunk number, as proxies that split
 * a large token write `access_token_0`, `access_token.1`), or any cookie value shaped like a JWT.
 */
const CREDENTIAL_COOKIE_RE = /(?:^|;)\s*(?:__(?:Host|Secure)-)?(?:access[_-]?token|id[_-]?token|refresh[_-]?token|token|jwt|auth|authorization|bearer|oauth[_-]?token|session[_-]?token)(?:[_.-]?\d{1,3})?\s*=/i;

/** A header value that is a JWT and nothing else, or a scheme and a JWT (`Bearer eyJ…`). */
const TOKEN_VALUE_RE = /^[ \t]*(?:[A-Za-z][A-Za-z0-9_-]*[ \t]+)?ey[A-Za-z0-9_-]{8,}\.ey[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]*[ \t]*$/;
const isTokenValue = (v: string): boolean => v.includes('ey') && TOKEN_VALUE_RE.test(v);

/**
 * A second credential sent with the bearer token (DESIGN §3: the token comes from the Authorization header only, and
 * more than one credential is refused, not ignored): what it is, for the refusal, or null. Header names and the
 * cookie's shape only; the value is never echoed.
 */
export function otherCredential(headers: IncomingHttpHeaders): string | null {
  for (const name in headers) {
    if (OTHER_CREDENTIAL_HEADERS.has(name)) return `a ${name} header`;
    // a token under a header name the list does not know (Cf-Access-Jwt-Assertion, X-Pomerium-Jwt-Assertion,
    // X-Authorization, …) is a second credential all the same: judged by its shape. Only a value that is a token, or a
    // scheme and a token, is one: a Referer whose query names an id_token, an ETag or baggage that happens to hold
    // one present nothing (and no header but the rewrite's own reaches the platform)
    if (name === 'authorization' || name === 'cookie') continue;
    const value = headers[name];
    if (value === undefined) continue;
    if (Array.isArray(value) ? value.some(isTokenValue) : isTokenValue(value)) return 'a header carrying a token';
  }
  const cookie = headers.cookie;
  if (cookie !== undefined) {
    const text = Array.isArray(cookie) ? cookie.join(';') : cookie;
    if (CREDENTIAL_COOKIE_RE.test(text) || JWT_SHAPED.test(text)) return 'a cookie carrying a token';
  }
  return null;
}

/** Count Authorization headers on the raw request: a second credential is refused, not ignored. */
export function countAuthorization(rawHeaders: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < rawHeaders.length; i += 2) if (rawHeaders[i]!.length === 13 && rawHeaders[i]!.toLowerCase() === 'authorization') n++;
  return n;
}

export class Authenticator {
  private readonly cache = new Map<string, CacheEntry>();
  private readonly algorithms: string[];

  constructor(
    private readonly cfg: AuthConfig,
    private readonly keys: KeyStore,
    private readonly now: () => number = Date.now,
  ) {
    this.algorithms = [...cfg.algorithms];
  }

  get cacheSize(): number {
    return this.cache.size;
  }

  clearCache(): void {
    this.cache.clear();
  }

  /** Extract the bearer token; `count` is the number of Authorization headers the client sent. */
  extract(header: string | undefined, count: number): { token: string } | { reason: DenyReason; detail: string } {
    if (count > 1) return { reason: 'token_invalid', detail: 'more than one Authorization header was sent; send exactly one bearer token' };
    if (header === undefined || header === '') return { reason: 'token_missing', detail: PROBLEM_MISSING };
    if (header.length > this.cfg.maxTokenBytes + 7) return { reason: 'token_invalid', detail: `the token is larger than ${this.cfg.maxTokenBytes} bytes` };
    // a token verified before needs no second look at its shape: the cache holds only tokens whose three segments are
    // canonical, non-empty base64url (precheck, and a signature that verified), exactly what BEARER_RE's group takes.
    if (header.startsWith('Bearer ')) {
      const token = header.slice(7);
      if (this.cache.get(cacheKey(token))?.raw === token) return { token };
    }
    const m = BEARER_RE.exec(header);
    if (!m) {
      const scheme = /^[^\s]*/.exec(header)![0];
      if (scheme.toLowerCase() !== 'bearer') return { reason: 'token_invalid', detail: 'only the Bearer scheme is accepted' };
      if (!header.startsWith(' ', scheme.length)) return { reason: 'token_invalid', detail: 'the Bearer scheme must be followed by one space and the token' };
      return { reason: 'token_invalid', detail: 'the bearer value is not a signed JWT (header.payload.signature); encrypted or malformed tokens are refused' };
    }
    return { token: m[1]! };
  }

  /**
   * The answer for a token verified before under the current key set, without waiting: null when the token is not
   * in the cache (verify() then checks its signature). Expiry, not-before and maximum age are checked on every hit.
   */
  verifyCached(token: string): AuthResult | null {
    const key = cacheKey(token);
    const hit = this.cache.get(key);
    if (hit === undefined || hit.raw !== token) return null;
    // verified under a key set that has since changed: verify again from scratch (the key may be gone)
    if (hit.generation !== this.keys.generation) {
      this.cache.delete(key);
      return null;
    }
    if (!this.keys.usable()) return deny('keys_unavailable', 'the identity provider\'s signing keys are unavailable or stale');
    const timeProblem = this.checkTimes(hit, this.now() / 1000);
    if (timeProblem) {
      this.cache.delete(key);
      return timeProblem;
    }
    return { ok: true, token: hit.token, cached: true };
  }

  async verify(token: string): Promise<AuthResult> {
    const cached = this.verifyCached(token);
    if (cached) return cached;
    const nowMs = this.now();

    const pre = this.precheck(token);
    if (pre) return pre;
    let payload: JWTPayload;
    let kid: string | undefined;
    try {
      const res = await jwtVerify(token, this.keys.resolve, {
        algorithms: this.algorithms,
        issuer: this.cfg.issuer,
        audience: this.cfg.audience,
        typ: this.cfg.typ,
        requiredClaims: this.cfg.requiredClaims,
        maxTokenAge: this.cfg.maxTokenAgeSec,
        clockTolerance: this.cfg.clockToleranceSec,
        currentDate: new Date(nowMs),
      });
      payload = res.payload;
      kid = res.protectedHeader.kid;
    } catch (err) {
      return mapVerifyError(err);
    }
    if (!this.cfg.allowMultipleAudiences && Array.isArray(payload.aud) && payload.aud.length !== 1) {
      return deny('audience_mismatch', 'the token names more than one audience; a token issued for this gateway alone is required');
    }
    if (typeof payload.exp !== 'number' || typeof payload.iat !== 'number') return deny('token_invalid', 'the token must carry numeric "exp" and "iat" claims');
    if (payload.exp > MAX_NUMERIC_DATE) return deny('token_invalid', 'the token\'s "exp" claim lies beyond the year 9999');
    // the payload is shared by every request that presents this token (cache): no later stage may change it
    const token_: VerifiedToken = { payload: deepFreeze(payload) as Record<string, unknown>, fingerprint: fingerprintOf(token) };
    if (kid !== undefined) token_.kid = kid;
    if (this.cfg.cacheSize > 0) {
      const key = cacheKey(token);
      // a token in another token's slot replaces it; otherwise a full cache gives up its oldest entry
      if (!this.cache.has(key) && this.cache.size >= this.cfg.cacheSize) {
        // drop the oldest insertion (Map keeps insertion order): bounded memory, no scans
        const first = this.cache.keys().next();
        if (!first.done) this.cache.delete(first.value);
      }
      this.cache.set(key, { raw: token, token: token_, generation: this.keys.generation, exp: payload.exp, nbf: payload.nbf, iat: payload.iat });
    }
    return { ok: true, token: token_, cached: false };
  }

  private checkTimes(e: CacheEntry, now: number): AuthResult | null {
    const tol = this.cfg.clockToleranceSec;
    if (e.exp <= now - tol) return deny('token_expired', 'the access token has expired; request a new token');
    if (e.nbf !== undefined && e.nbf > now + tol) return deny('token_not_yet_valid', 'the access token is not valid yet');
    if (now - e.iat - tol > this.cfg.maxTokenAgeSec) return deny('token_expired', `the access token is older than ${this.cfg.maxTokenAgeSec} s; request a new token`);
    // only reachable if the clock steps backwards; the same answer jose gives on the full path
    if (e.iat - now > tol) return deny('token_not_yet_valid', PROBLEM_IAT_FUTURE);
    return null;
  }

  /** Structural checks jose does not make: header parameters we never honour, kid shape, duplicate JSON keys. */
  private precheck(token: string): AuthResult | null {
    // extract() bounds the header already; verify() is also called directly (admin explain), so bound it here too
    if (token.length > this.cfg.maxTokenBytes) return deny('token_invalid', `the token is larger than ${this.cfg.maxTokenBytes} bytes`);
    const parts = token.split('.');
    if (parts.length !== 3) return deny('token_invalid', 'the token is not a signed JWT (header.payload.signature); encrypted or malformed tokens are refused');
    const [h, p, sig] = parts as [string, string, string];
    // one token, one text: a segment whose last character carries stray bits decodes like its canonical twin, so the
    // same signed token could be presented (and fingerprinted) in several spellings
    if (!canonicalBase64url(h) || !canonicalBase64url(p) || !canonicalBase64url(sig)) return deny('token_invalid', 'the token is not canonical base64url');
    let headerText: string;
    let payloadText: string;
    try {
      headerText = Buffer.from(h, 'base64url').toString('utf8');
      payloadText = Buffer.from(p, 'base64url').toString('utf8');
    } catch {
      return deny('token_invalid', 'the token is not valid base64url');
    }
    let header: Record<string, unknown>;
    let payload: unknown;
    try {
      header = JSON.parse(headerText) as Record<string, unknown>;
      payload = JSON.parse(payloadText);
    } catch {
      return deny('token_invalid', 'the token header or payload is not JSON');
    }
    if (!header || typeof header !== 'object' || Array.isArray(header)) return deny('token_invalid', 'the token header is not a JSON object');
    const hp = findKeyProblem(headerText);
    if (hp) return deny('token_invalid', `the token header is ambiguous: ${hp}`);
    const pp = findKeyProblem(payloadText);
    if (pp) return deny('token_invalid', `the token payload is ambiguous: ${pp}`);
    const np = findNumberProblem(headerText) ?? findNumberProblem(payloadText);
    if (np) return deny('token_invalid', `the token carries an ambiguous number: ${np}`);
    const tp = timeClaimProblem(payload);
    if (tp) return deny('token_invalid', tp);
    for (const name of FORBIDDEN_HEADER_PARAMS) {
      if (Object.hasOwn(header, name)) return deny('token_invalid', `the token header parameter "${name}" is not accepted`);
    }
    if (typeof header.alg !== 'string' || !this.algorithms.includes(header.alg)) return deny('token_invalid', `signing algorithm ${typeof header.alg === 'string' ? `${shown(header.alg, 16)} ` : ''}is not accepted`);
    if (header.kid !== undefined && (typeof header.kid !== 'string' || !KID_RE.test(header.kid))) return deny('token_invalid', 'the token\'s "kid" header is malformed');
    return null;
  }
}

/**
 * A token whose time claims contradict themselves is malformed, even where the clock leeway would let it pass: `exp`,
 * `iat` and `nbf` must be finite numbers (1e400 reads as Infinity), it must expire after it was issued, and it must
 * become valid before it expires. Whether a claim is present at all is jose's and the required-claims check's matter.
 */
function timeClaimProblem(payload: unknown): string | null {
  if (payload === null || typeof payload !== 'object' || Array.isArray(payload)) return null;
  const p = payload as Record<string, unknown>;
  for (const name of ['exp', 'iat', 'nbf']) {
    const v = p[name];
    if (typeof v === 'number' && !Number.isFinite(v)) return `the token's "${name}" claim is not a finite number`;
  }
  const { exp, iat, nbf } = p;
  if (typeof exp === 'number' && typeof iat === 'number' && exp <= iat) return 'the token expires before or when it was issued ("exp" is not after "iat")';
  if (typeof exp === 'number' && typeof nbf === 'number' && nbf >= exp) return 'the token is never valid ("nbf" is not before "exp")';
  return null;
}

const PROBLEM_MISSING = 'send an access token from the identity provider as "Authorization: Bearer <token>"';
const PROBLEM_IAT_FUTURE = 'the access token says it was issued in the future; check the clocks or request a new token';

/** Whether a base64url segment is the one spelling its bytes have (no padding, no stray bits in the last character). */
function canonicalBase64url(segment: string): boolean {
  return segment.length % 4 !== 1 && Buffer.from(segment, 'base64url').toString('base64url') === segment;
}

/**
 * The token's fingerprint: SHA-256 over its signed part (header.payload), hex, first 16 characters. Over the signed
 * part, not the whole text, because an ECDSA signature has a second valid form (s and n − s): one signed token, one
 * fingerprint, however its signature is written.
 */
export function fingerprintOf(token: string): string {
  return createHash('sha256').update(token.slice(0, token.lastIndexOf('.'))).digest('hex').slice(0, 16);
}

/** Freeze a parsed JSON value all the way down (it has no cycles). */
function deepFreeze<T>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    Object.freeze(v);
    for (const x of Object.values(v)) deepFreeze(x);
  }
  return v;
}

function mapVerifyError(err: unknown): AuthResult {
  if (err instanceof KeysUnavailableError) return deny('keys_unavailable', 'the identity provider\'s signing keys are unavailable or stale');
  if (err instanceof joseErrors.JWTExpired) {
    return err.claim === 'iat'
      ? deny('token_expired', 'the access token is older than the maximum token age; request a new token')
      : deny('token_expired', 'the access token has expired; request a new token');
  }
  if (err instanceof joseErrors.JWTClaimValidationFailed) {
    switch (err.claim) {
      case 'iss': return deny('issuer_mismatch', 'the token was not issued by the identity provider this gateway trusts');
      case 'aud': return deny('audience_mismatch', 'the token was not issued for this gateway');
      case 'typ': return deny('token_type_invalid', 'an access token (typ at+jwt) is required; ID tokens and other token types are refused');
      // jose says why: a future nbf (check_failed) is "not yet valid"; a non-numeric nbf is a malformed token
      case 'nbf': return err.reason === 'check_failed' ? deny('token_not_yet_valid', 'the access token is not valid yet') : deny('token_invalid', 'the token\'s "nbf" claim is not a number');
      // a future issue time is the same condition as a future nbf (clock skew or a pre-minted token), so the same
      // reason; a missing or non-numeric iat is a malformed token
      case 'iat': return err.reason === 'check_failed' ? deny('token_not_yet_valid', PROBLEM_IAT_FUTURE) : deny('token_invalid', 'the token\'s "iat" claim is missing or not a number');
      default: return deny('token_invalid', `the token's "${err.claim}" claim is missing or invalid`);
    }
  }
  if (err instanceof joseErrors.JWKSNoMatchingKey) return deny('token_invalid', 'the token was signed with a key the identity provider does not publish');
  if (err instanceof UnusableKeyError) return deny('token_invalid', 'the token was signed with a key the identity provider publishes in a form this gateway cannot use');
  if (err instanceof joseErrors.JWSSignatureVerificationFailed) return deny('token_invalid', 'the token signature is invalid');
  if (err instanceof joseErrors.JOSEAlgNotAllowed) return deny('token_invalid', 'the token\'s signing algorithm is not accepted');
  return deny('token_invalid', 'the token could not be verified');
}
