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
    window --label TEXT --reason TEXT --start ISO --end ISO [--org ORG] [--id ID]
    cancel-window ID
    windows
    rate SUBJECT
    explain --target PATH [--method GET] (--token TOKEN | --claims JSON)
    reload
`;

/** What each command accepts: its positional arguments and its flags. Anything else is a usage error. */
const COMMANDS: Readonly<Record<string, { positional: string[]; flags: string[] }>> = {
  status: { positional: [], flags: [] },
  revocations: { positional: [], flags: [] },
  suspensions: { positional: [], flags: [] },
  windows: { positional: [], flags: [] },
  reload: { positional: [], flags: [] },
  revoke: { positional: ['subject|token', 'ID'], flags: ['reason', 'ttl'] },
  unrevoke: { positional: ['subject|token', 'ID'], flags: [] },
  suspend: { positional: [], flags: ['reason', 'org'] },
  resume: { positional: [], flags: ['org'] },
  window: { positional: [], flags: ['label', 'reason', 'start', 'end', 'org', 'id'] },
  'cancel-window': { positional: ['ID'], flags: [] },
  rate: { positional: ['SUBJECT'], flags: [] },
  explain: { positional: [], flags: ['target', 'method', 'token', 'claims'] },
};

class UsageError extends Error {}

/**
 * Strict parsing, because a forgiving one is dangerous here: `resume --org` with the value forgotten, or
 * `resume vendor` without `--org`, would otherwise lift the *global* kill switch instead of one organisation's.
 */
function parse(args: string[], allowed: readonly string[]): { positional: string[]; flags: Map<string, string> } {
  const positional: string[] = [];
  const flags = new Map<string, string>();
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    if (!a.startsWith('--')) {
      positional.push(a);
      continue;
    }
    const name = a.slice(2);
    if (!allowed.includes(name)) throw new UsageError(`unknown option ${a}`);
    const value = args[i + 1];
    if (value === undefined || value.startsWith('--')) throw new UsageError(`${a} needs a value`);
    if (flags.has(name)) throw new UsageError(`${a} given twice`);
    flags.set(name, value);
    i++;
  }
  return { positional, flags };
}

export async function runAdminCommand(argv: string[]): Promise<number> {
  let url = process.env.METAGATE_ADMIN_URL ?? 'http://127.0.0.1:9090';
  const args: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    if (argv[i] !== '--url') args.push(argv[i]!);
    else {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) return usage('--url needs a value');
      url = v;
    }
  }
  url = url.replace(/\/$/, '');
  const [cmd, ...rest] = args;
  if (!cmd) {
    process.stdout.write(ADMIN_USAGE);
    return 2;
  }
  const spec = COMMANDS[cmd];
  if (!spec) return usage(`unknown admin command "${cmd}"`);

  let method = 'GET';
  let path: string;
  let body: Record<string, unknown> | undefined;
  try {
    const { positional: pos, flags } = parse(rest, spec.flags);
    if (pos.length < spec.positional.length) throw new UsageError(`missing ${spec.positional[pos.length]}`);
    if (pos.length > spec.positional.length) throw new UsageError(`unexpected argument "${pos[spec.positional.length]}"`);
    const need = (name: string): string => {
      const v = flags.get(name);
      if (v === undefined) throw new UsageError(`missing --${name}`);
      return v;
    };
    const org = flags.get('org');
    switch (cmd) {
      case 'status': path = '/admin/status'; break;
      case 'revocations': path = '/admin/revocations'; break;
      case 'suspensions': path = '/admin/suspensions'; break;
      case 'windows': path = '/admin/windows'; break;
      case 'reload': method = 'POST'; path = '/admin/reload'; body = {}; break;
      case 'revoke': {
        const ttl = flags.get('ttl');
        if (ttl !== undefined && !/^[1-9][0-9]{0,9}$/.test(ttl)) throw new UsageError('--ttl must be a whole number of seconds');
        if (pos[0] !== 'subject' && pos[0] !== 'token') throw new UsageError('revoke needs "subject" or "token" first');
        method = 'POST'; path = '/admin/revocations';
        body = { kind: pos[0], id: pos[1], reason: need('reason'), ...(ttl ? { ttlSec: Number(ttl) } : {}) };
        break;
      }
      case 'unrevoke':
        if (pos[0] !== 'subject' && pos[0] !== 'token') throw new UsageError('unrevoke needs "subject" or "token" first');
        method = 'DELETE'; path = `/admin/revocations/${pos[0]}/${encodeURIComponent(pos[1]!)}`;
        break;
      case 'suspend':
        method = 'POST'; path = '/admin/suspend'; body = { reason: need('reason'), ...(org ? { org } : {}) };
        break;
      case 'resume':
        method = 'POST'; path = '/admin/resume'; body = org ? { org } : {};
        break;
      case 'window': {
        const id = flags.get('id');
        method = 'POST'; path = '/admin/windows';
        body = { label: need('label'), reason: need('reason'), start: need('start'), end: need('end'), ...(org ? { org } : {}), ...(id ? { id } : {}) };
        break;
      }
      case 'cancel-window': method = 'DELETE'; path = `/admin/windows/${encodeURIComponent(pos[0]!)}`; break;
      case 'rate': path = `/admin/rate-limits/${encodeURIComponent(pos[0]!)}`; break;
      case 'explain': {
        const claims = flags.get('claims');
        const tok = flags.get('token');
        if ((claims === undefined) === (tok === undefined)) throw new UsageError('explain needs exactly one of --token or --claims');
        method = 'POST'; path = '/admin/explain';
        body = { target: need('target'), method: flags.get('method') ?? 'GET', ...(tok ? { token: tok } : {}), ...(claims ? { claims: parseClaims(claims) } : {}) };
        break;
      }
      default:
        throw new UsageError(`unknown admin command "${cmd}"`);
    }
  } catch (err) {
    if (err instanceof UsageError) return usage(err.message);
    throw err;
  }

  const token = process.env.METAGATE_ADMIN_TOKEN;
  if (!token) {
    process.stderr.write('set METAGATE_ADMIN_TOKEN to an admin token\n');
    return 2;
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

function parseClaims(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new UsageError('--claims must be a JSON object');
  }
}

function usage(message: string): number {
  process.stderr.write(`${message}\n${ADMIN_USAGE}`);
  return 2;
}
