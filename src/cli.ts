#!/usr/bin/env node
// Command line: serve, check-config, demo, audit verify, and admin commands for network admins.

// Heavy modules (the whole gateway: fastify, undici, jose, ajv, ioredis) are loaded only by the commands that use
// them, so `metagate admin …` — run by hand during incidents — starts in a fraction of the time.
import { runAdminCommand, ADMIN_USAGE } from './admin/cli.js';
import { VERSION } from './version.js';

const USAGE = `metagate ${VERSION} — metadata-only access gateway

usage:
  metagate serve [--config PATH]          start the gateway (PATH or $METAGATE_CONFIG)
  metagate check-config [--config PATH]   validate a configuration and list every problem
  metagate demo                           embedded demo on loopback (dev issuer, demo platform, in-memory state)
  metagate audit verify FILE [FILE...]    check the audit trail's hash chain; names the first broken link
  metagate demo-platform [--host H] [--port P]           trial helper: the demo metadata platform (NOT FOR PRODUCTION)
  metagate demo-issuer --issuer URL --audience AUD [--host H] [--port P] [--jwks-out FILE]
                                          trial helper: the dev token issuer (NOT FOR PRODUCTION)
${ADMIN_USAGE}`;

function configPath(args: string[]): string | undefined {
  const i = args.indexOf('--config');
  if (i !== -1) return args[i + 1];
  const eq = args.find((a) => a.startsWith('--config='));
  if (eq !== undefined) return eq.slice('--config='.length);
  return process.env.METAGATE_CONFIG;
}

/** serve and check-config take only --config PATH (or --config=PATH): anything else is a mistake, not a no-op. */
function unknownArgs(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--config') i++;
    else if (!args[i]!.startsWith('--config=')) out.push(args[i]!);
  }
  return out;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...args] = argv;
  switch (cmd) {
    case 'serve':
    case 'check-config': {
      const unknown = unknownArgs(args);
      if (unknown.length > 0) {
        process.stderr.write(`unknown argument${unknown.length > 1 ? 's' : ''}: ${unknown.map((a) => JSON.stringify(a)).join(' ')}\nusage: metagate ${cmd} [--config PATH]\n`);
        return 2;
      }
      const path = configPath(args);
      if (!path) {
        process.stderr.write('no configuration: pass --config PATH or set METAGATE_CONFIG\n');
        return 2;
      }
      const { ConfigError, loadConfigFile } = await import('./config/load.js');
      let runtime;
      try {
        runtime = loadConfigFile(path);
      } catch (err) {
        if (err instanceof ConfigError) {
          process.stderr.write(`${err.message}\n`);
          return 1;
        }
        throw err;
      }
      if (cmd === 'check-config') {
        process.stdout.write(`configuration ${path} is valid: ${runtime.routes.rules.length} rules, config hash ${runtime.hash}\n`);
        return 0;
      }
      const { startGateway } = await import('./server.js');
      try {
        await startGateway(runtime, { configPath: path, signals: true });
      } catch (err) {
        // startGateway has closed what it opened; exit now so nothing half-started (a Redis reconnect timer, an
        // open file) keeps the process alive
        process.stderr.write(`metagate failed to start: ${(err as Error).message}\n`);
        process.exit(1);
      }
      return -1; // keep running
    }
    case 'demo': {
      if (configPath(args) !== undefined) {
        process.stderr.write('demo mode runs on embedded defaults only and cannot be combined with --config or METAGATE_CONFIG\n');
        return 2;
      }
      const { startDemo, demoBanner } = await import('./demo/demo.js');
      let demo;
      try {
        demo = await startDemo();
      } catch (err) {
        process.stderr.write(`demo failed to start: ${(err as Error).message}\n(ports 8080 and 9090 must be free on 127.0.0.1)\n`);
        process.exit(1);
      }
      process.stdout.write(`${demoBanner(demo)}\n`);
      const stop = () => void demo.close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return -1;
    }
    case 'demo-platform':
    case 'demo-issuer': {
      // trial helpers for docker/compose.yaml: loopback by default, never part of a production configuration
      const opt = (name: string) => {
        const i = args.indexOf(name);
        return i === -1 ? undefined : args[i + 1];
      };
      const host = opt('--host') ?? '127.0.0.1';
      const port = Number(opt('--port') ?? (cmd === 'demo-platform' ? 8585 : 8081));
      if (!Number.isInteger(port) || port < 0 || port > 65535) {
        process.stderr.write('--port must be an integer between 0 and 65535\n');
        return 2;
      }
      let close: () => Promise<void>;
      if (cmd === 'demo-platform') {
        const { startDemoPlatform } = await import('./demo/platform.js');
        const platform = await startDemoPlatform({ host, port });
        process.stdout.write(`demo platform (NOT FOR PRODUCTION) listening on ${host}:${port}\n`);
        close = () => platform.close();
      } else {
        const issuerUrl = opt('--issuer');
        const audience = opt('--audience');
        if (!issuerUrl || !audience) {
          process.stderr.write('usage: metagate demo-issuer --issuer URL --audience AUD [--host H] [--port P] [--jwks-out FILE]\n');
          return 2;
        }
        const { createDevIssuer, startIssuerServer } = await import('./demo/issuer.js');
        const issuer = await createDevIssuer({ issuer: issuerUrl, audience });
        const jwksOut = opt('--jwks-out');
        if (jwksOut) {
          const { writeFileSync, renameSync } = await import('node:fs');
          writeFileSync(`${jwksOut}.tmp`, JSON.stringify(issuer.jwks)); // write then rename: no reader sees half a file
          renameSync(`${jwksOut}.tmp`, jwksOut);
        }
        const server = await startIssuerServer(issuer, { host, port });
        process.stdout.write(`dev token issuer (NOT FOR PRODUCTION) listening on ${host}:${port}; tokens at /token/<persona>${jwksOut ? `; JWKS written to ${jwksOut}` : ''}\n`);
        close = () => server.close();
      }
      const stop = () => void close().then(() => process.exit(0));
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
      return -1;
    }
    case 'audit': {
      if (args[0] !== 'verify' || args.length < 2) {
        process.stderr.write('usage: metagate audit verify FILE [FILE...]\n');
        return 2;
      }
      const { verifyAuditFiles } = await import('./observability/audit-verify.js');
      const report = await verifyAuditFiles(args.slice(1));
      process.stdout.write(`${report.message}\n`);
      return report.ok ? 0 : 1;
    }
    case 'admin':
      return runAdminCommand(args);
    case '--version':
    case 'version':
      process.stdout.write(`${VERSION}\n`);
      return 0;
    default:
      process.stdout.write(USAGE);
      return cmd === undefined || cmd === 'help' || cmd === '--help' ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => {
    if (code >= 0) process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`metagate: ${(err as Error).stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
