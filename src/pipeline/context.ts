// The typed per-request scope every stage reads and writes (declared on FastifyRequest, never loose properties).

import type { CanonicalTarget } from './canonicalise.js';
import type { CompiledRule } from './match.js';
import type { Identity } from '../policy/claims.js';
import type { DenyReason } from '../policy/reasons.js';
import type { VerifiedToken } from './authenticate.js';
import type { RateLimitOutcome } from '../state/store.js';
import type { Runtime } from '../config/load.js';
import type { AuditTrail } from '../observability/audit.js';
import type { Metrics } from '../observability/metrics.js';

/** Where a request's audit record and metric updates go. */
export interface AuditDeps {
  audit: AuditTrail;
  metrics: Metrics;
}

export type InternalRoute = 'whoami';

export interface RequestContext {
  /** process.hrtime.bigint() at arrival */
  start: bigint;
  /** the client's address, read at arrival: once the client has hung up its socket no longer knows it */
  ip?: string;
  /** the runtime (config) this request was decided with: a reload never changes it mid-request */
  runtime: Runtime;
  target?: CanonicalTarget;
  /** what the record shows of a request target that was never canonicalised (recordedTarget in audit.ts) */
  original?: string;
  rule?: CompiledRule;
  internal?: InternalRoute;
  /** upstream path and query exactly as decided (canonical path, accepted query only) */
  upstreamPath?: string;
  upstreamQuery?: string;
  token?: VerifiedToken;
  identity?: Identity;
  decision: 'allow' | 'deny';
  reasons: DenyReason[];
  detail?: string;
  rateLimit?: RateLimitOutcome;
  upstreamStatus?: number;
  upstreamStart?: bigint;
  upstreamMs?: number;
  fieldsRemoved?: ReadonlyMap<string, number>;
  responseBytes?: number;
  audited: boolean;
  /** the gateway's trail and metrics: the answer's record is written through them just before it is sent */
  recorder?: AuditDeps;
}

declare module 'fastify' {
  interface FastifyRequest {
    mg: RequestContext;
  }
}

export function newContext(runtime: Runtime, recorder?: AuditDeps): RequestContext {
  const ctx: RequestContext = { start: process.hrtime.bigint(), runtime, decision: 'deny', reasons: [], audited: false };
  if (recorder) ctx.recorder = recorder;
  return ctx;
}
