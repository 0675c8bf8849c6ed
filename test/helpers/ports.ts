// Free loopback ports for tests that must name a port before something listens on it (a child process, a config).

import net from 'node:net';

/** One free loopback port. */
export async function freePort(): Promise<number> {
  const [port] = await freePorts(1);
  return port!;
}

/**
 * `n` different free loopback ports. All are held open until every one is bound: ports asked for one after the other
 * can come back equal, since the kernel may hand a port out again once its listener has closed.
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers: net.Server[] = [];
  try {
    for (let i = 0; i < n; i++) {
      const s = net.createServer();
      servers.push(s);
      await new Promise<void>((ok, fail) => {
        s.once('error', fail);
        s.listen(0, '127.0.0.1', () => ok());
      });
    }
    return servers.map((s) => (s.address() as net.AddressInfo).port);
  } finally {
    await Promise.all(servers.map((s) => new Promise<void>((ok) => (s.listening ? s.close(() => ok()) : ok()))));
  }
}
