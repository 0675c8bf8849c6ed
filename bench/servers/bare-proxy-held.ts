// Benchmark reference: the bare Fastify 5 + @fastify/http-proxy, given the one start-up line metagate has that any
// Node server could have: it keeps one nextTick entry alive (src/node-ticks.ts, docs/performance.md fourteenth pass).
// Measured beside the bare proxy as shipped, it shows how much of metagate's ratio that line accounts for.

import { holdTickObjectShape } from '../../src/node-ticks.js';

holdTickObjectShape();
// the same server as bare-proxy.ts (it reads the upstream from process.argv[2], as here)
await import('./bare-proxy.js');
