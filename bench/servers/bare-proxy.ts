// Benchmark reference: a bare Fastify 5 + @fastify/http-proxy with no checks at all.

import Fastify from 'fastify';
import httpProxy from '@fastify/http-proxy';

const upstream = process.argv[2]!;
const app = Fastify({ logger: false });
await app.register(httpProxy, { upstream, httpMethods: ['GET'] });
await app.listen({ host: '127.0.0.1', port: 0 });
const a = app.server.address() as { port: number };
process.stdout.write(`READY ${a.port}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
