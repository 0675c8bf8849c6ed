// Benchmark reference: the floor of a buffering, re-serialising gateway on this stack — Fastify 5 + an undici pool,
// the upstream answer read whole, JSON.parse + JSON.stringify, no checks, no audit, no metrics.

import Fastify from 'fastify';
import { Pool } from 'undici';

const pool = new Pool(process.argv[2]!, { connections: 128 });
const app = Fastify({ logger: false });
app.get('/*', async (request, reply) => {
  const res = await pool.request({ method: 'GET', path: request.url, headers: { accept: 'application/json' } });
  const chunks: Buffer[] = [];
  for await (const c of res.body) chunks.push(c as Buffer);
  reply.code(res.statusCode).type('application/json; charset=utf-8');
  return JSON.stringify(JSON.parse(Buffer.concat(chunks).toString('utf8')));
});
await app.listen({ host: '127.0.0.1', port: 0 });
const a = app.server.address() as { port: number };
process.stdout.write(`READY ${a.port}\n`);
process.once('SIGTERM', () => void app.close().then(() => process.exit(0)));
