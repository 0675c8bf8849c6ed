// JSON schema of the configuration file, with the defaults; unknown keys are errors everywhere.

/** The signature algorithms `auth.algorithms` may name (asymmetric only: a shared secret is never accepted). */
export const SIGNATURE_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

const str = { type: 'string', minLength: 1 } as const;
const port = { type: 'integer', minimum: 0, maximum: 65535 } as const;
const posInt = (def: number, max = 2 ** 31 - 1) => ({ type: 'integer', minimum: 1, maximum: max, default: def });
const nonNegInt = (def: number) => ({ type: 'integer', minimum: 0, default: def });
const obj = (properties: Record<string, unknown>, required: string[] = [], extra: Record<string, unknown> = {}) => ({
  type: 'object',
  additionalProperties: false,
  properties,
  required,
  ...extra,
});

const secret = {
  oneOf: [obj({ env: { type: 'string', pattern: '^[A-Z_][A-Z0-9_]*$' } }, ['env']), obj({ file: str }, ['file'])],
};

const tls = obj(
  {
    certFile: str,
    keyFile: str,
    clientCaFile: str,
    requireClientCert: { type: 'boolean', default: false },
    requireCertificateBoundTokens: { type: 'boolean', default: false },
  },
  ['certFile', 'keyFile'],
);

const querySpec = {
  type: 'object',
  additionalProperties: false,
  properties: {
    enum: { type: 'array', items: str, minItems: 1, uniqueItems: true },
    list: { type: 'array', items: str, minItems: 1, uniqueItems: true },
    max: { type: 'integer', minimum: 1 },
    int: obj({ min: { type: 'integer' }, max: { type: 'integer' } }, ['min', 'max']),
    pattern: str,
    bool: { const: true },
    required: { type: 'boolean' },
  },
  minProperties: 1,
};

export const filterSchema = obj(
  { mode: { enum: ['deny', 'allow'] }, fields: { type: 'array', items: str, uniqueItems: true } },
  ['mode', 'fields'],
);

export const ruleSchema = obj(
  {
    id: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$' },
    method: { const: 'GET' },
    path: { type: 'string', pattern: '^/' },
    category: { enum: ['catalogue', 'lineage', 'usage'] },
    query: { type: 'object', additionalProperties: querySpec, propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_.-]{0,63}$' } },
    filter: str,
  },
  ['id', 'method', 'path', 'category', 'filter'],
);

const paramsSchema = { type: 'object', additionalProperties: str, propertyNames: { pattern: '^[A-Za-z][A-Za-z0-9_]*$' } };

export const profileSchema = obj(
  {
    profile: str,
    description: { type: 'string' },
    params: paramsSchema,
    filters: { type: 'object', additionalProperties: filterSchema },
    rules: { type: 'array', items: ruleSchema },
  },
  ['profile', 'rules'],
);

const hostPort = obj({ host: str, port }, ['host', 'port']);
// defaults inside oneOf are not applied by the validator; load.ts fills them (DEFAULT_REDIS_*)
const redisCommon = { keyPrefix: { type: 'string', pattern: '^[A-Za-z0-9:_-]{1,64}$' }, commandTimeoutMs: { type: 'integer', minimum: 1, maximum: 60000 } };

export const configSchema = obj(
  {
    vendor: obj(
      {
        host: { type: 'string', minLength: 1, default: '0.0.0.0' },
        port: { ...port, default: 8080 },
        tls,
        maxHeaderBytes: posInt(16384, 1 << 20),
        headersTimeoutMs: posInt(10000),
        requestTimeoutMs: posInt(30000),
        keepAliveTimeoutMs: posInt(5000),
        maxPathLength: posInt(2048, 65536),
        maxQueryLength: posInt(2048, 65536),
        maxQueryParams: posInt(16, 256),
        shutdownGraceMs: posInt(10000),
        sendTimeoutMs: posInt(30000),
        maxUnreadBytes: posInt(64 * 1024 * 1024),
        maxUnreadAnswersPerSubject: posInt(8, 10000),
      },
      [],
      { default: {} },
    ),
    admin: obj(
      {
        host: { type: 'string', minLength: 1, default: '127.0.0.1' },
        port: { ...port, default: 9090 },
        tls,
        tokens: { type: 'array', items: obj({ name: { type: 'string', pattern: '^[A-Za-z0-9._@-]{1,64}$' }, secret }, ['name', 'secret']), default: [] },
      },
      [],
      { default: {} },
    ),
    upstream: obj(
      {
        url: { type: 'string', pattern: '^https?://' },
        credential: obj({ header: { type: 'string', pattern: '^[A-Za-z0-9-]+$' }, value: secret }, ['header', 'value']),
        connectTimeoutMs: posInt(2000),
        responseTimeoutMs: posInt(10000),
        maxResponseBytes: posInt(4 * 1024 * 1024, 256 * 1024 * 1024),
        maxJsonDepth: posInt(64, 1000),
        connections: posInt(64, 4096),
        forwardHeaders: { type: 'array', items: { type: 'string', pattern: '^[a-z0-9-]+$' }, default: ['accept-language'] },
        identityHeaders: { type: 'boolean', default: false },
        hiddenOrigins: { type: 'array', items: { type: 'string' }, maxItems: 32, default: [] },
        caFile: str,
      },
      ['url'],
    ),
    auth: obj(
      {
        issuer: str,
        audience: str,
        algorithms: { type: 'array', items: { enum: SIGNATURE_ALGORITHMS }, minItems: 1, uniqueItems: true, default: ['ES256', 'RS256'] },
        typ: { type: 'string', default: 'at+jwt' },
        requiredClaims: { type: 'array', items: str, uniqueItems: true, default: ['sub', 'exp', 'iat'] },
        maxTokenAgeSec: posInt(3600),
        clockToleranceSec: { type: 'integer', minimum: 0, maximum: 300, default: 30 },
        maxTokenBytes: posInt(8192, 65536),
        allowMultipleAudiences: { type: 'boolean', default: false },
        cacheSize: nonNegInt(10000),
        jwks: obj(
          {
            url: { type: 'string', pattern: '^https?://' },
            file: str,
            caFile: str,
            refreshIntervalSec: posInt(300),
            maxStalenessSec: posInt(3600),
            cooldownSec: posInt(30),
            timeoutMs: posInt(5000),
          },
          [],
        ),
      },
      ['issuer', 'audience', 'jwks'],
    ),
    policy: obj(
      {
        claims: obj(
          {
            subject: { type: 'string', default: 'sub' },
            nationality: { type: 'string', default: 'nationality' },
            clearance: { type: 'string', default: 'clearance' },
            clearanceExpiresAt: { type: 'string', default: 'clearance_expires_at' },
            org: { type: 'string', default: 'org' },
          },
          [],
          { default: {} },
        ),
        nationality: obj(
          {
            allowed: { type: 'array', items: { type: 'string', pattern: '^[A-Z]{2}$' }, minItems: 1, uniqueItems: true, default: ['NL'] },
            arrayPolicy: { enum: ['reject', 'all', 'any'], default: 'reject' },
            caseInsensitive: { type: 'boolean', default: false },
          },
          [],
          { default: {} },
        ),
        clearance: obj(
          {
            scale: { type: 'array', items: { type: 'string', pattern: '^[A-Z][A-Z0-9_]*$' }, minItems: 1, default: ['DEPARTEMENTAAL_VERTROUWELIJK', 'STG_CONFIDENTIEEL', 'STG_GEHEIM', 'STG_ZEER_GEHEIM'] },
            acceptRanks: { type: 'boolean', default: false },
          },
          [],
          { default: {} },
        ),
        categories: obj(
          {
            catalogue: obj({ minClearance: str }, ['minClearance']),
            lineage: obj({ minClearance: str }, ['minClearance']),
            usage: obj({ minClearance: str }, ['minClearance']),
          },
          ['catalogue', 'lineage', 'usage'],
        ),
        orgs: obj(
          { required: { type: 'boolean', default: false }, allowed: { type: 'array', items: str, uniqueItems: true, default: [] } },
          [],
          { default: {} },
        ),
      },
      ['categories'],
    ),
    routes: obj(
      {
        profiles: { type: 'array', items: str, uniqueItems: true, default: [] },
        exclude: { type: 'array', items: str, uniqueItems: true, default: [] },
        params: { ...paramsSchema, default: {} },
        filters: { type: 'object', additionalProperties: filterSchema, default: {} },
        rules: { type: 'array', items: ruleSchema, default: [] },
      },
      [],
      { default: {} },
    ),
    state: obj(
      {
        backend: { enum: ['memory', 'redis'], default: 'memory' },
        redis: {
          oneOf: [
            obj({ mode: { const: 'single' }, url: { type: 'string', pattern: '^rediss?://' }, ...redisCommon }, ['mode', 'url']),
            obj({ mode: { const: 'sentinel' }, sentinels: { type: 'array', items: hostPort, minItems: 1 }, name: str, password: secret, ...redisCommon }, ['mode', 'sentinels', 'name']),
            obj({ mode: { const: 'cluster' }, nodes: { type: 'array', items: hostPort, minItems: 1 }, password: secret, ...redisCommon }, ['mode', 'nodes']),
          ],
        },
        rateLimit: obj(
          { perSubject: posInt(600), global: nonNegInt(0), windowSec: posInt(60, 86400) },
          [],
          { default: {} },
        ),
      },
      [],
      { default: {} },
    ),
    audit: obj(
      { destination: { type: 'string', minLength: 1, default: 'stdout' }, failClosed: { type: 'boolean', default: true } },
      [],
      { default: {} },
    ),
    sovereignty: obj(
      { allowedRanges: { type: 'array', items: str, uniqueItems: true, default: [] } },
      [],
      { default: {} },
    ),
    log: obj({ level: { enum: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], default: 'info' } }, [], { default: {} }),
  },
  ['upstream', 'auth', 'policy'],
);
