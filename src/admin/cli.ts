// `metagate admin …`: a small client of the admin API for network admins (token from $METAGATE_ADMIN_TOKEN).

export const ADMIN_USAGE = `  metagate admin [--url URL] COMMAND      talk to the admin API (default URL http://127.0.0.1:9090,
                                          token from $METAGATE_ADMIN_TOKEN)
    status
    revoke subject|token ID --reason TEXT [--ttl SECONDS]
    unrevoke subject|token ID
    revocations
    suspend --reason TEXT [--org ORG]     kill switch (all vendor access, or one organisation)
    resume [--org ORG]
    suspensions
    window --label TEXT --reason TEXT --start ISO --end ISO [--org ORG]
    cancel-window ID
    windows
    rate SUBJECT
    explain --target PATH [--method GET] (--token TOKEN | --claims JSON)
    reload
`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(`--${name}`);
  return i === -1 ? undefined : args[i + 1];
}

export async function runAdminCommand(argv: string[]): Promise<number> {
  const url = (flag(argv, 'url') ?? process.env.METAGATE_ADMIN_URL ?? 'http://127.0.0.1:9090').replace(/\/$/, '');
  const args = argv.filter((a, i) => a !== '--url' && argv[i - 1] !== '--url');
  const token = process.env.METAGATE_ADMIN_TOKEN;
  const [cmd, ...rest] = args;
  if (!cmd) {
    process.stdout.write(ADMIN_USAGE);
    return 2;
  }
  if (!token) {
    process.stderr.write('set METAGATE_ADMIN_TOKEN to an admin token\n');
    return 2;
  }
  let method = 'GET';
  let path: string;
  let body: Record<string, unknown> | undefined;
  const need = (v: string | undefined, what: string): string => {
    if (v === undefined) throw new UsageError(`missing ${what}`);
    return v;
  };
  try {
    switch (cmd) {
      case 'status': path = '/admin/status'; break;
      case 'revocations': path = '/admin/revocations'; break;
      case 'suspensions': path = '/admin/suspensions'; break;
      case 'windows': path = '/admin/windows'; break;
      case 'revoke': {
        const ttl = flag(rest, 'ttl');
        method = 'POST'; path = '/admin/revocations';
        body = { kind: need(rest[0], 'subject|token'), id: need(rest[1], 'ID'), reason: need(flag(rest, 'reason'), '--reason'), ...(ttl ? { ttlSec: Number(ttl) } : {}) };
        break;
      }
      case 'unrevoke':
        method = 'DELETE'; path = `/admin/revocations/${encodeURIComponent(need(rest[0], 'subject|token'))}/${encodeURIComponent(need(rest[1], 'ID'))}`;
        break;
      case 'suspend': {
        const org = flag(rest, 'org');
        method = 'POST'; path = '/admin/suspend'; body = { reason: need(flag(rest, 'reason'), '--reason'), ...(org ? { org } : {}) };
        break;
      }
      case 'resume': {
        const org = flag(rest, 'org');
        method = 'POST'; path = '/admin/resume'; body = org ? { org } : {};
        break;
      }
      case 'window': {
        const org = flag(rest, 'org');
        method = 'POST'; path = '/admin/windows';
        body = { label: need(flag(rest, 'label'), '--label'), reason: need(flag(rest, 'reason'), '--reason'), start: need(flag(rest, 'start'), '--start'), end: need(flag(rest, 'end'), '--end'), ...(org ? { org } : {}) };
        break;
      }
      case 'cancel-window': method = 'DELETE'; path = `/admin/windows/${encodeURIComponent(need(rest[0], 'ID'))}`; break;
      case 'rate': path = `/admin/rate-limits/${encodeURIComponent(need(rest[0], 'SUBJECT'))}`; break;
      case 'explain': {
        const claims = flag(rest, 'claims');
        const tok = flag(rest, 'token');
        method = 'POST'; path = '/admin/explain';
        body = { target: need(flag(rest, 'target'), '--target'), method: flag(rest, 'method') ?? 'GET', ...(tok ? { token: tok } : {}), ...(claims ? { claims: JSON.parse(claims) as unknown } : {}) };
        break;
      }
      case 'reload': method = 'POST'; path = '/admin/reload'; body = {}; break;
      default:
        throw new UsageError(`unknown admin command "${cmd}"`);
    }
  } catch (err) {
    if (err instanceof UsageError || err instanceof SyntaxError) {
      process.stderr.write(`${err.message}\n${ADMIN_USAGE}`);
      return 2;
    }
    throw err;
  }
  let res: Response;
  try {
    res = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(10_000),
    });
  } catch (err) {
    process.stderr.write(`cannot reach the admin API at ${url}: ${(err as Error).message}\n`);
    return 1;
  }
  const text = await res.text();
  try {
    process.stdout.write(`${JSON.stringify(JSON.parse(text), null, 2)}\n`);
  } catch {
    process.stdout.write(`${text}\n`);
  }
  return res.ok ? 0 : 1;
}

class UsageError extends Error {}
