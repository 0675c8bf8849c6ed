// The configuration's shape after defaults are applied (what the schema in schema.ts accepts).

import type { Category } from '../policy/reasons.js';

export type Secret = { env: string } | { file: string };

export interface TlsListenerConfig {
  certFile: string;
  keyFile: string;
  /** CA bundle for client certificates (mTLS) */
  clientCaFile?: string;
  requireClientCert: boolean;
  /** RFC 8705: token cnf["x5t#S256"] must equal the client certificate's SHA-256 thumbprint */
  requireCertificateBoundTokens: boolean;
}

export interface ListenerConfig {
  host: string;
  port: number;
  tls?: TlsListenerConfig;
}

export interface VendorListenerConfig extends ListenerConfig {
  maxHeaderBytes: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxPathLength: number;
  maxQueryLength: number;
  maxQueryParams: number;
  shutdownGraceMs: number;
  /** an answer the client has not taken within this long is abandoned (src/pipeline/unread.ts) */
  sendTimeoutMs: number;
  /** bytes of answers not yet taken by their clients, all together, above which new answers wait */
  maxUnreadBytes: number;
  /** answers not yet taken that one subject may have before its new ones wait */
  maxUnreadAnswersPerSubject: number;
}

export interface AdminTokenConfig {
  name: string;
  secret: Secret;
}

export interface AdminConfig extends ListenerConfig {
  tokens: AdminTokenConfig[];
}

export interface UpstreamConfig {
  url: string;
  credential?: { header: string; value: Secret };
  connectTimeoutMs: number;
  responseTimeoutMs: number;
  maxResponseBytes: number;
  maxJsonDepth: number;
  connections: number;
  forwardHeaders: string[];
  identityHeaders: boolean;
  /** origins removed from allowed answers besides the upstream's own (src/filters/origins.ts) */
  hiddenOrigins: string[];
  caFile?: string;
}

export interface JwksConfig {
  url?: string;
  file?: string;
  caFile?: string;
  refreshIntervalSec: number;
  maxStalenessSec: number;
  cooldownSec: number;
  timeoutMs: number;
}

export interface AuthConfig {
  issuer: string;
  audience: string;
  algorithms: string[];
  typ: string;
  requiredClaims: string[];
  maxTokenAgeSec: number;
  clockToleranceSec: number;
  maxTokenBytes: number;
  allowMultipleAudiences: boolean;
  cacheSize: number;
  jwks: JwksConfig;
}

export type ArrayPolicy = 'reject' | 'all' | 'any';

export interface PolicyConfig {
  claims: { subject: string; nationality: string; clearance: string; clearanceExpiresAt: string; org: string };
  nationality: { allowed: string[]; arrayPolicy: ArrayPolicy; caseInsensitive: boolean };
  clearance: { scale: string[]; acceptRanks: boolean };
  categories: Record<Category, { minClearance: string }>;
  orgs: { required: boolean; allowed: string[] };
}

export type QuerySpec =
  | { enum: string[] }
  | { list: string[]; max?: number }
  | { int: { min: number; max: number } }
  | { pattern: string }
  | { bool: true };

export interface QueryParamConfig {
  required?: boolean;
}

export interface FilterConfig {
  mode: 'deny' | 'allow';
  fields: string[];
}

export interface RuleConfig {
  id: string;
  method: 'GET';
  path: string;
  category: Category;
  query?: Record<string, QuerySpec & QueryParamConfig>;
  filter: string;
}

export interface ProfileConfig {
  profile: string;
  description?: string;
  params?: Record<string, string>;
  filters?: Record<string, FilterConfig>;
  rules: RuleConfig[];
}

export interface RoutesConfig {
  profiles: string[];
  exclude: string[];
  params: Record<string, string>;
  filters: Record<string, FilterConfig>;
  rules: RuleConfig[];
}

export type RedisConfig =
  | { mode: 'single'; url: string; keyPrefix: string; commandTimeoutMs: number }
  | { mode: 'sentinel'; sentinels: Array<{ host: string; port: number }>; name: string; password?: Secret; keyPrefix: string; commandTimeoutMs: number }
  | { mode: 'cluster'; nodes: Array<{ host: string; port: number }>; password?: Secret; keyPrefix: string; commandTimeoutMs: number };

export interface StateConfig {
  backend: 'memory' | 'redis';
  redis?: RedisConfig;
  rateLimit: { perSubject: number; global: number; windowSec: number };
}

export interface AuditConfig {
  /** 'stdout' or a file path */
  destination: string;
  failClosed: boolean;
}

export interface SovereigntyConfig {
  /** CIDR ranges every outbound address (upstream, JWKS, Redis) must fall in; empty = guard off */
  allowedRanges: string[];
}

export interface MetagateConfig {
  vendor: VendorListenerConfig;
  admin: AdminConfig;
  upstream: UpstreamConfig;
  auth: AuthConfig;
  policy: PolicyConfig;
  routes: RoutesConfig;
  state: StateConfig;
  audit: AuditConfig;
  sovereignty: SovereigntyConfig;
  log: { level: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent' };
}
