// Builds the configured state store: in-memory (one instance) or Redis (several replicas).

import type { Runtime } from '../config/load.js';
import { MemoryStore } from './memory.js';
import { RedisStore, type RedisConnectionOptions } from './redis.js';
import type { StateStore } from './store.js';

export function createStore(runtime: Runtime): StateStore {
  const s = runtime.config.state;
  const rateLimit = { perSubject: s.rateLimit.perSubject, global: s.rateLimit.global, windowMs: s.rateLimit.windowSec * 1000 };
  if (s.backend === 'memory' || !s.redis) return new MemoryStore({ rateLimit });
  const r = s.redis;
  const pw = runtime.secrets.redisPassword;
  let connection: RedisConnectionOptions;
  if (r.mode === 'single') connection = { mode: 'single', url: r.url };
  else if (r.mode === 'sentinel') connection = { mode: 'sentinel', sentinels: r.sentinels, name: r.name, ...(pw ? { password: pw } : {}) };
  else connection = { mode: 'cluster', nodes: r.nodes, ...(pw ? { password: pw } : {}) };
  return new RedisStore({
    rateLimit,
    keyPrefix: r.keyPrefix,
    connection,
    commandTimeoutMs: r.commandTimeoutMs,
    ...(runtime.allowedRanges.length > 0 ? { allowedRanges: runtime.allowedRanges } : {}),
  });
}
