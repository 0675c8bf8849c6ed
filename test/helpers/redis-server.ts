// Starts a real, private redis-server on a free loopback port for one test file; it dies with the test process.

import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './ports.js';

export interface RedisServerHandle {
  port: number;
  url: string;
  /** SIGTERM and wait for exit */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit: Redis vanishes without closing anything politely */
  kill(): Promise<void>;
  /** start again on the same port (after stop or kill) and wait until it answers PING */
  restart(): Promise<void>;
}

const BINARY = process.env['REDIS_SERVER_BIN'] ?? 'redis-server';
const START_TIMEOUT_MS = 5_000;
const STOP_TIMEOUT_MS = 5_000;

export async function startRedisServer(): Promise<RedisServerHandle> {
  let lastError: unknown;
  // A port found free can be taken before redis binds it; try a few.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    try {
      return await launch(port);
    } catch (err) {
      if (err instanceof RedisMissingError) throw err;
      lastError = err;
    }
  }
  throw new Error(`could not start redis-server: ${String(lastError)}`);
}

class RedisMissingError extends Error {}

async function launch(port: number): Promise<RedisServerHandle> {
  let child = await spawnRedis(port);
  const handle: RedisServerHandle = {
    port,
    url: `redis://127.0.0.1:${port}`,
    stop: () => terminate(child, 'SIGTERM'),
    kill: () => terminate(child, 'SIGKILL'),
    async restart() {
      await terminate(child, 'SIGTERM');
      child = await spawnRedis(port);
    },
  };
  return handle;
}

const running = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  // A child process outlives a parent that exits without killing it; make sure no redis-server is left behind.
  process.once('exit', () => {
    for (const child of running) child.kill('SIGKILL');
  });
}

async function spawnRedis(port: number): Promise<ChildProcess> {
  installExitHook();
  const child = spawn(
    BINARY,
    ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--daemonize', 'no'],
    { stdio: ['ignore', 'pipe', 'pipe'], cwd: process.env['TMPDIR'] ?? '/tmp' },
  );
  running.add(child);
  let output = '';
  const collect = (chunk: Buffer): void => {
    if (output.length < 4_000) output += chunk.toString('utf8');
  };
  child.stdout?.on('data', collect);
  child.stderr?.on('data', collect);

  const failed = new Promise<never>((_, reject) => {
    child.once('error', (err: NodeJS.ErrnoException) => {
      running.delete(child);
      if (err.code === 'ENOENT') {
        reject(
          new RedisMissingError(
            `redis-server not found (tried "${BINARY}"). The Redis store tests need a real Redis: install it ` +
              '(apt-get install redis-server) or set REDIS_SERVER_BIN.',
          ),
        );
      } else {
        reject(err);
      }
    });
    child.once('exit', (code, signal) => {
      running.delete(child);
      reject(new Error(`redis-server on port ${port} exited during start (code ${code}, signal ${signal}):\n${output}`));
    });
  });
  failed.catch(() => undefined);

  await Promise.race([waitForPong(port, START_TIMEOUT_MS), failed]);
  return child;
}

async function terminate(child: ChildProcess, signal: 'SIGTERM' | 'SIGKILL'): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill(signal);
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
  await exited;
  clearTimeout(timer);
  running.delete(child);
}

async function waitForPong(port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ping(port)) return;
    if (Date.now() > deadline) throw new Error(`redis-server on port ${port} did not answer PING within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(500, () => done(false));
    socket.once('error', () => done(false));
    socket.once('connect', () => socket.write('PING\r\n'));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      if (reply.includes('\r\n')) done(reply.startsWith('+PONG'));
    });
  });
}

