// Sovereignty for Redis: an ioredis connector and NAT map that check every address before a socket is opened.
//
// ioredis passes no `lookup` to net.connect for plain redis://, and Sentinel and Cluster hand out node addresses at
// run time, so the start-time check alone cannot hold. Wiring (src/state/redis.ts): single → `Connector`,
// cluster → `redisOptions.Connector` + `dnsLookup`, sentinel → `natMap` (the master address a sentinel answers).

import net, { isIP } from 'node:net';
import tls from 'node:tls';
import { AbstractConnector, type NatMap, type StandaloneConnectionOptions } from 'ioredis';
import type { Cidr } from './cidr.js';
import { assertAddressInRanges, guardedLookup, type LookupFunction, type Resolver } from './lookup.js';

type NetStream = Awaited<ReturnType<AbstractConnector['connect']>>;
type ConnectorClass = new (options: unknown) => AbstractConnector;
type DnsLookup = (hostname: string, callback: (err: NodeJS.ErrnoException | null, address: string, family?: number) => void) => void;

const DEFAULT_DISCONNECT_TIMEOUT_MS = 2000;

/** A connector like ioredis' StandaloneConnector whose host must be (or resolve) inside the ranges on every connect. */
export function sovereignRedisConnector(ranges: readonly Cidr[], resolver?: Resolver): ConnectorClass {
  const lookup = guardedLookup(ranges, resolver);
  return class SovereignRedisConnector extends AbstractConnector {
    private readonly options: StandaloneConnectionOptions;
    constructor(options: unknown) {
      const o = (options ?? {}) as StandaloneConnectionOptions;
      super(o.disconnectTimeout ?? DEFAULT_DISCONNECT_TIMEOUT_MS);
      this.options = o;
    }

    connect(): Promise<NetStream> {
      const o = this.options;
      this.connecting = true;
      return new Promise((resolve, reject) => {
        // like ioredis: connect on the next tick so a disconnect() in between wins
        process.nextTick(() => {
          if (!this.connecting) {
            reject(new Error('Connection is closed.'));
            return;
          }
          let stream: NetStream;
          try {
            if (o.path) {
              // a Unix socket is local to the pod/host: not an outbound network connection
              stream = net.createConnection({ path: o.path });
            } else {
              const host = o.host ?? 'localhost';
              const port = o.port ?? 6379;
              // node calls `lookup` for names only; an address literal is checked here
              const bare = host.replace(/^\[|\]$/g, '');
              if (isIP(bare)) assertAddressInRanges(host, bare, ranges);
              stream = o.tls
                ? tls.connect({ ...o.tls, host, port, lookup, ...(o.family ? { family: o.family } : {}) })
                : net.createConnection({ host, port, lookup, ...(o.family ? { family: o.family } : {}) });
            }
          } catch (err) {
            reject(err as Error);
            return;
          }
          this.stream = stream;
          stream.once('error', (err: Error) => {
            this.firstError = err;
          });
          resolve(stream);
        });
      });
    }
  };
}

/** For Sentinel: every master/replica address a sentinel answers is checked (literals now, names at connect). */
export function sovereignNatMap(ranges: readonly Cidr[], resolver?: Resolver): NatMap {
  const lookup: LookupFunction = guardedLookup(ranges, resolver);
  return (key: string) => {
    const i = key.lastIndexOf(':');
    const host = key.slice(0, i);
    const port = Number(key.slice(i + 1));
    const bare = host.replace(/^\[|\]$/g, '');
    // throwing makes ioredis treat this sentinel's answer as a failure and try the next sentinel
    if (isIP(bare)) {
      assertAddressInRanges(host, bare, ranges);
      return { host, port };
    }
    // SentinelConnector passes this object straight to net.connect, so the name is resolved through the guard
    return { host, port, lookup } as { host: string; port: number };
  };
}

/** For Cluster: ioredis resolves the configured node names with this before connecting. */
export function sovereignDnsLookup(ranges: readonly Cidr[], resolver?: Resolver): DnsLookup {
  const lookup = guardedLookup(ranges, resolver);
  return (hostname, callback) => lookup(hostname, {}, (err, address, family) => callback(err, typeof address === 'string' ? address : '', family));
}
