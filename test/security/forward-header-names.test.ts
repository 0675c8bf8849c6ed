// Which vendor headers may be configured to reach the platform (upstream.forwardHeaders). DESIGN §3 stage 5: the
// upstream request is built from scratch; X-Forwarded-*, Forwarded, X-Original-URL, X-Rewrite-URL, method overrides and
// hop-by-hop headers never pass, and the gateway's own headers (its request id, service credential, identity headers,
// Accept, User-Agent) are never the vendor's to set. The config check refused only three X-Forwarded-* names, and a
// listed name replaced the header the gateway itself writes: `X-Request-Id: <another request's id>` reached the
// platform in place of the id in the audit record (docs/faults.md F75).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, buildRuntime } from '../../src/config/load.js';
import { upstreamHeaders } from '../../src/pipeline/rewrite.js';
import { newContext } from '../../src/pipeline/context.js';
import { DEMO_TABLE_ID } from '../../src/demo/data.js';
import { minimalConfig } from '../helpers/config.js';
import { startHarness, type Harness } from '../helpers/harness.js';
import { request } from '../helpers/http.js';
import { CLASS, recordCases } from './summary.js';

const ENV = { METAGATE_ADMIN_TOKEN: 'x'.repeat(40), METAGATE_UPSTREAM_CREDENTIAL: 'Bearer svc' };

function problems(forwardHeaders: string[], credentialHeader?: string): string[] {
  const cfg = minimalConfig();
  cfg.upstream.forwardHeaders = forwardHeaders;
  if (credentialHeader) cfg.upstream.credential = { header: credentialHeader, value: { env: 'METAGATE_UPSTREAM_CREDENTIAL' } };
  try {
    buildRuntime(cfg, { env: ENV });
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

describe('upstream.forwardHeaders refuses every name the vendor must not set upstream', () => {
  const refused: Array<[string, string?]> = [
    // the gateway's own headers
    ['x-request-id'],
    ['accept'],
    ['user-agent'],
    ['x-metagate-subject'],
    ['x-metagate-clearance'],
    ['x-metagate-rule'],
    ['x-metagate-anything'],
    ['x-api-key', 'X-Api-Key'], // the service credential's header, when it is not Authorization
    // X-Forwarded-* (all of them), and the other client-address and rewrite headers
    ['x-forwarded-prefix'],
    ['x-forwarded-port'],
    ['x-forwarded-server'],
    ['x-forwarded-uri'],
    ['x-forwarded-ssl'],
    ['x-real-ip'],
    ['x-client-ip'],
    ['true-client-ip'],
    ['cf-connecting-ip'],
    ['fastly-client-ip'],
    ['x-cluster-client-ip'],
    // headers a platform's server may read as the scheme or host it was asked on (Jetty, IIS, Rails): its links would
    // carry an origin the gateway does not hide
    ['x-proxied-https'],
    ['front-end-https'],
    ['x-url-scheme'],
    ['x-host'],
    ['x-original-host'],
    ['x-original-uri'],
    ['x-rewrite-path'],
    // hop-by-hop (RFC 9110 §7.6.1) or refused by the upstream client itself
    ['keep-alive'],
    ['proxy-connection'],
    ['trailer'],
    ['expect'],
  ];
  it.each(refused)('%s', (name, credentialHeader) => {
    const p = problems(['accept-language', name], credentialHeader);
    expect(p.some((x) => x.startsWith(`upstream.forwardHeaders: "${name}" may never be forwarded`)), p.join('\n')).toBe(true);
    recordCases(CLASS.header, 1);
  });

  it('ordinary content-negotiation headers stay configurable', () => {
    expect(problems(['accept-language', 'x-correlation-hint'])).toEqual([]);
  });
});

describe('a forwarded header never replaces one the gateway writes (defence in depth behind the config check)', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(async () => {
    await h?.close();
  });

  it('vendor values for the gateway\'s own headers do not reach the platform, even if listed', async () => {
    // a runtime whose list names them anyway (a config check that missed one must not hand the header over)
    const rt = { ...h.runtime, config: { ...h.runtime.config, upstream: { ...h.runtime.config.upstream, forwardHeaders: ['accept-language', 'x-request-id', 'accept', 'user-agent', 'host', 'accept-encoding', 'authorization'] } } } as typeof h.runtime;
    const ctx = newContext(rt);
    const out = upstreamHeaders(
      { 'accept-language': 'nl', 'x-request-id': 'forged-id', accept: 'text/html', 'user-agent': 'evil', host: 'evil.example', 'accept-encoding': 'gzip', authorization: 'Bearer vendor' },
      ctx,
      rt,
      'the-real-id',
      'platform:8585',
    );
    expect(out).toMatchObject({ 'accept-language': 'nl', 'x-request-id': 'the-real-id', accept: 'application/json', 'user-agent': 'metagate', host: 'platform:8585', 'accept-encoding': 'identity', authorization: 'Bearer upstream-service-credential' });
    recordCases(CLASS.header, 1);
  });

  it('through the gateway: the platform sees the id of the audit record, whatever X-Request-Id the vendor sends', async () => {
    const before = h.upstream.requests.length;
    const res = await request(h.vendorUrl, `/api/v1/tables/${DEMO_TABLE_ID}`, { headers: { authorization: `Bearer ${await h.token('geheim')}`, 'x-request-id': 'forged-id', 'x-forwarded-prefix': '/evil' } });
    expect(res.status).toBe(200);
    const up = h.upstream.requests.slice(before);
    expect(up).toHaveLength(1);
    expect(up[0]!.headers['x-request-id']).not.toBe('forged-id');
    expect(up[0]!.headers['x-forwarded-prefix']).toBeUndefined();
    recordCases(CLASS.header, 1);
  });
});
