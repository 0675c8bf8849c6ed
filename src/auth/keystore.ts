// The IdP's signing keys: a local JWKS file or a remote JWKS fetched with a timeout, cached with bounded staleness.

import { readFile } from 'node:fs/promises';
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, errors as joseErrors, type JSONWebKeySet, type JWK, type JWTHeaderParameters, type FlattenedJWSInput, type CryptoKey } from 'jose';
import { SIGNATURE_ALGORITHMS } from '../config/schema.js';
import type { JwksConfig } from '../config/types.js';

export class KeysUnavailableError extends Error {
  override readonly name = 'KeysUnavailableError';
}

/** The token names a kid the IdP publishes, but its key was dropped at load (see UnusableKey). */
export class UnusableKeyError extends Error {
  override readonly name = 'UnusableKeyError';
}

/** A published key that was dropped at load because no configured algorithm can verify with it. Never key material. */
export interface UnusableKey {
  kid: string | undefined;
  kty: string;
  /** true: the key is broken (incomplete, does not import, too short); false: it is simply not for auth.algorithms */
  broken: boolean;
  reason: string;
}

export interface KeyStoreStatus {
  ok: boolean;
  source: 'file' | 'url';
  /** keys in use */
  keyCount: number;
  /** published keys dropped at load because none of auth.algorithms can use them */
  unusableKeyCount: number;
  generation: number;
  /** epoch ms of the last successful load, 0 if never */
  lastSuccessAt: number;
  lastError?: string;
}

export interface KeyStoreOptions {
  now?: () => number;
  /** resolves the host's addresses before connecting (the sovereignty guard plugs in here) */
  lookup?: http.RequestOptions['lookup'];
  onRefresh?: (result: 'success' | 'failure' | 'unchanged') => void;
  /** the algorithms tokens may be signed with (auth.algorithms): a key none of them can use is dropped at load */
  algorithms?: readonly string[];
  /** called once for each key dropped from a newly loaded set (a set loaded again unchanged is not looked at again) */
  onUnusableKey?: (key: UnusableKey) => void;
}

type Resolver = (header: JWTHeaderParameters, input: FlattenedJWSInput) => Promise<CryptoKey>;

const MAX_JWKS_BYTES = 256 * 1024;
const ALLOWED_KTY = new Set(['EC', 'RSA', 'OKP']);

/** Keep only public signature keys; a served private key or an encryption key is dropped. */
export function sanitizeJwks(value: unknown): JSONWebKeySet {
  if (!value || typeof value !== 'object' || !Array.isArray((value as { keys?: unknown }).keys)) {
    throw new Error('JWKS must be an object with a "keys" array');
  }
  const keys = (value as { keys: unknown[] }).keys.filter((k): k is Record<string, unknown> => {
    if (!k || typeof k !== 'object') return false;
    const r = k as Record<string, unknown>;
    return typeof r.kty === 'string' && ALLOWED_KTY.has(r.kty) && !('d' in r) && (r.use === undefined || r.use === 'sig');
  });
  return { keys: keys as unknown as JSONWebKeySet['keys'] };
}

/**
 * Why no configured algorithm can verify with this key, or null when one can. Asked of jose the way the verifier asks
 * it (a one-key createLocalJWKSet, per algorithm), so a key kept here is one the verify path can use: a kty, crv, alg,
 * use or key_ops that fits no algorithm is "not for us"; key material that does not import is broken.
 */
async function unusableBecause(jwk: JWK, algorithms: readonly string[]): Promise<Omit<UnusableKey, 'kid' | 'kty'> | null> {
  // jose matches a key without a curve to no algorithm at all: say what is wrong with it rather than "fits none"
  if ((jwk.kty === 'EC' || jwk.kty === 'OKP') && typeof jwk.crv !== 'string') return { broken: true, reason: 'it has no "crv" (curve)' };
  const one = createLocalJWKSet({ keys: [jwk] });
  let problem = { broken: false, reason: `its kty, crv, alg, use or key_ops fit none of auth.algorithms (${algorithms.join(', ')})` };
  for (const alg of algorithms) {
    try {
      const key = await one({ alg });
      // jose checks an RSA modulus only as it verifies: a short key would be kept and then fail every token
      const bits = (key.algorithm as { modulusLength?: number }).modulusLength;
      if (bits !== undefined && bits < 2048) {
        problem = { broken: true, reason: `its RSA modulus has ${bits} bits; at least 2048 are required` };
        continue;
      }
      return null;
    } catch (err) {
      if (err instanceof joseErrors.JWKSNoMatchingKey) continue;
      // WebCrypto's and jose's messages name the problem, never the key material
      problem = { broken: true, reason: `it does not import as ${alg}: ${(err instanceof Error ? err.message : String(err)).slice(0, 200)}` };
    }
  }
  return problem;
}

export class KeyStore {
  private jwks: JSONWebKeySet | null = null;
  private serialized = '';
  private local: Resolver | null = null;
  private unusableKids = new Set<string>();
  private unusableCount = 0;
  private generationNo = 0;
  private lastSuccessAt = 0;
  private lastAttemptAt = 0;
  private lastError: string | undefined;
  private inflight: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly now: () => number;
  private readonly ca: Buffer | undefined;
  private readonly algorithms: readonly string[];

  constructor(
    private readonly cfg: JwksConfig,
    private readonly opts: KeyStoreOptions = {},
  ) {
    this.now = opts.now ?? Date.now;
    this.ca = cfg.caFile ? readFileSync(cfg.caFile) : undefined;
    this.algorithms = opts.algorithms ?? SIGNATURE_ALGORITHMS;
  }

  get generation(): number {
    return this.generationNo;
  }

  /** Load once; a remote source that fails is retried in the background rather than failing start-up. */
  async start(): Promise<void> {
    await this.refresh();
    if (this.cfg.url) this.schedule();
  }

  private schedule(): void {
    // Refresh at least twice per maxStalenessSec: keys refreshed only every refreshIntervalSec would go stale between
    // two successful loads whenever maxStalenessSec is the shorter, and a healthy IdP would see requests refused.
    const interval = Math.min(this.cfg.refreshIntervalSec, this.cfg.maxStalenessSec / 2);
    const delay = (this.lastError ? Math.min(this.cfg.cooldownSec, interval) : interval) * 1000;
    this.timer = setTimeout(() => {
      void this.refresh().finally(() => this.schedule());
    }, delay);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }

  status(): KeyStoreStatus {
    const s: KeyStoreStatus = {
      ok: this.usable(),
      source: this.cfg.url ? 'url' : 'file',
      keyCount: this.jwks?.keys.length ?? 0,
      unusableKeyCount: this.unusableCount,
      generation: this.generationNo,
      lastSuccessAt: this.lastSuccessAt,
    };
    if (this.lastError) s.lastError = this.lastError;
    return s;
  }

  /**
   * Keys are usable until they are older than the maximum staleness (a local file never goes stale). A key set with
   * no usable public signing key is loaded (it replaces the old keys: an IdP that withdraws every key must stop them
   * working here too) but is reported unusable, so requests get 503 keys_unavailable and readiness goes false. Keys
   * that do not import for auth.algorithms count as no key (F55): a well-formed set of only broken keys is such a set.
   */
  usable(): boolean {
    if (!this.local || !this.jwks || this.jwks.keys.length === 0) return false;
    if (!this.cfg.url) return true;
    return this.now() - this.lastSuccessAt <= this.cfg.maxStalenessSec * 1000;
  }

  /** Reload now (file or URL); concurrent callers share one attempt. */
  refresh(): Promise<void> {
    if (this.inflight) return this.inflight;
    this.lastAttemptAt = this.now();
    this.inflight = this.load()
      .then(async (jwks) => {
        const serialized = JSON.stringify(jwks);
        const changed = serialized !== this.serialized;
        if (changed) {
          // imported here, once per new set, not per request: the verifier's own cache imports each kept key on
          // first use, as before
          const { usable, unusable, unusableKids } = await this.importable(jwks);
          this.jwks = usable;
          this.serialized = serialized;
          this.local = createLocalJWKSet(usable) as Resolver;
          this.unusableKids = unusableKids;
          this.unusableCount = unusable.length;
          this.generationNo++;
          for (const k of unusable) this.opts.onUnusableKey?.(k);
        }
        this.lastSuccessAt = this.now();
        this.lastError = undefined;
        this.opts.onRefresh?.(changed ? 'success' : 'unchanged');
      })
      .catch((err: unknown) => {
        this.lastError = err instanceof Error ? err.message : String(err);
        this.opts.onRefresh?.('failure');
      })
      .finally(() => {
        this.inflight = null;
      });
    return this.inflight;
  }

  /** jose key resolver: an unknown kid triggers at most one refresh per cool-down period. */
  readonly resolve: Resolver = async (header, input) => {
    if (!this.usable()) throw new KeysUnavailableError('signing keys unavailable or stale');
    try {
      return await this.local!(header, input);
    } catch (err) {
      if (!(err instanceof joseErrors.JWKSNoMatchingKey)) throw err;
      if (!this.cfg.url || this.now() - this.lastAttemptAt < this.cfg.cooldownSec * 1000) throw this.noMatch(err, header);
      await this.refresh();
      if (!this.usable()) throw new KeysUnavailableError('signing keys unavailable or stale');
      return this.local!(header, input).catch((e: unknown) => {
        throw e instanceof joseErrors.JWKSNoMatchingKey ? this.noMatch(e, header) : e;
      });
    }
  };

  /** A kid the IdP does publish, but whose key was dropped at load, is not "a key the IdP does not publish". */
  private noMatch(err: Error, header: JWTHeaderParameters): Error {
    if (typeof header.kid === 'string' && this.unusableKids.has(header.kid)) return new UnusableKeyError(`key ${header.kid} is published but cannot be used`);
    return err;
  }

  /** Split a sanitised set into the keys some configured algorithm can verify with and the ones none can. */
  private async importable(jwks: JSONWebKeySet): Promise<{ usable: JSONWebKeySet; unusable: UnusableKey[]; unusableKids: Set<string> }> {
    const keys: JWK[] = [];
    const unusable: UnusableKey[] = [];
    const unusableKids = new Set<string>();
    for (const jwk of jwks.keys) {
      const problem = await unusableBecause(jwk, this.algorithms);
      if (!problem) {
        keys.push(jwk);
        continue;
      }
      // the kid comes from the IdP: shortened where it is reported, whole where tokens are matched against it
      if (typeof jwk.kid === 'string') unusableKids.add(jwk.kid);
      unusable.push({ kid: typeof jwk.kid === 'string' ? jwk.kid.slice(0, 128) : undefined, kty: String(jwk.kty), ...problem });
    }
    return { usable: { keys }, unusable, unusableKids };
  }

  private async load(): Promise<JSONWebKeySet> {
    if (this.cfg.file) return sanitizeJwks(JSON.parse(await readFile(this.cfg.file, 'utf8')));
    if (!this.cfg.url) throw new Error('no JWKS source configured');
    return sanitizeJwks(JSON.parse(await this.fetchText(this.cfg.url)));
  }

  private fetchText(url: string): Promise<string> {
    const u = new URL(url);
    const mod = u.protocol === 'https:' ? https : http;
    const timeoutMs = this.cfg.timeoutMs;
    return new Promise((resolve, reject) => {
      // Every way out goes through here, and every way out destroys the request: its socket never outlives the
      // attempt. An error answer used to be drained instead (res.resume()) with the deadline already cleared, so an
      // IdP that kept sending its body held the connection, and some CPU, for good — one more on every retry (F54).
      let settled = false;
      const settle = (err: Error | null, text = '') => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        req.destroy();
        if (err) reject(err);
        else resolve(text);
      };
      const req = mod.request(
        u,
        {
          method: 'GET',
          headers: { accept: 'application/json' },
          timeout: timeoutMs,
          ...(this.ca ? { ca: this.ca } : {}),
          ...(this.opts.lookup ? { lookup: this.opts.lookup } : {}),
          agent: false,
        },
        (res) => {
          // nothing of an error body is needed: close at once rather than read what the IdP may never stop sending
          if (res.statusCode !== 200) return settle(new Error(`JWKS endpoint answered HTTP ${res.statusCode}`));
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (c: Buffer) => {
            size += c.length;
            if (size > MAX_JWKS_BYTES) return settle(new Error('JWKS larger than 256 KiB'));
            chunks.push(c);
          });
          res.on('end', () => settle(null, Buffer.concat(chunks).toString('utf8')));
          res.on('error', settle);
        },
      );
      const timedOut = () => settle(new Error(`JWKS fetch timed out after ${timeoutMs} ms`));
      // `timeout` above is only a socket idle timer: a server that trickles a byte now and then would hold the
      // refresh (and, through `inflight`, every later one) open indefinitely. This is the whole-exchange deadline.
      const deadline = setTimeout(timedOut, timeoutMs);
      deadline.unref();
      req.on('timeout', timedOut);
      req.on('error', settle);
      // a connection that closes before the answer is complete is a failure, whatever node reports (or not) for it
      req.on('close', () => settle(new Error('JWKS connection closed before the answer was complete')));
      req.end();
    });
  }
}
