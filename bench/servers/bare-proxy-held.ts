// Benchmark reference: the bare Fastify 5 + @fastify/http-proxy, given the one start-up line metagate has that any
// Node server could have: it keeps one nextTick entry alive (src/node-ticks.ts, docs/performance.md fourteenth pass).
// Measured beside the bare proxy as shipped, it shows how much of metagate's ratio that line accounts for.

import Fastify from 'fastify';
import httpProxy from '@fastify/http-proxy';
import { holdTickObjectShape } from '../../src/node-ticks.js';

holdTickObjectShape();
const upstream = process.argv[2]!;
const app = Fastify({ logger: false });
await app.register(httpProxy, { upstream, httpMethods: ['GET'] });
await app.listen({ host: '127.0.0.1', port: 0 });
const a = app.server.address() as { port: number };
process.stdout.write(`READY ${a.port}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
