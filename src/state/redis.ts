// Redis StateStore for several replicas: the checks of one event-loop turn in one Lua call, pub/sub change notices, fail
// closed on any error.

import { randomUUID } from 'node:crypto';
import type { Cidr } from '../sovereignty/cidr.js';
import { sovereignDnsLookup, sovereignNatMap, sovereignRedisConnector } from '../sovereignty/redis.js';
import { Cluster, Redis, type ClusterOptions, type RedisOptions } from 'ioredis';
import {
  StateUnavailableError,
  type CheckCallback,
  type CheckInput,
  type CheckResult,
  type RateLimitOutcome,
  type RateLimitPolicy,
  type Revocation,
  type StateStore,
  type StoreHealth,
  type Suspension,
  type SuspensionWindow,
} from './store.js';
import {
  assertTime,
  compareRevocations,
  compareSuspensions,
  compareWindows,
  fixedWindow,
  normalizeRevocation,
  normalizeSuspension,
  normalizeWindow,
  notifyListeners,
  rateLimitOutcome,
  rateLimitSnapshot,
  suspensionInForce,
  validateRateLimitPolicy,
  windowInForce,
  type RateLimitDecision,
} from './memory.js';

export interface RedisNode {
  host: string;
  port: number;
}

/** How to reach Redis. Passwords are used only to authenticate and never appear in errors or health details. */
export type RedisConnectionOptions =
  | { mode: 'single'; url: string }
  | { mode: 'sentinel'; sentinels: RedisNode[]; name: string; password?: string; sentinelPassword?: string }
  | { mode: 'cluster'; nodes: RedisNode[]; password?: string };

export interface RedisStoreOptions {
  rateLimit: RateLimitPolicy;
  /** prepended verbatim to every key and the channel; must not contain `{` or `}` (the hash tag is `{mg}`) */
  keyPrefix: string;
  connection: RedisConnectionOptions;
  /** a command without a reply after this long fails, and the request with it */
  commandTimeoutMs: number;
  /** time allowed to establish a connection (default DEFAULT_CONNECT_TIMEOUT_MS) */
  connectTimeoutMs?: number;
  /** upper bound of the reconnect back-off (default DEFAULT_MAX_RECONNECT_DELAY_MS) */
  maxReconnectDelayMs?: number;
  /** sovereignty.allowedRanges: every Redis address (configured, or handed out by Sentinel/Cluster) is checked on every connect */
  allowedRanges?: readonly Cidr[];
}

export const DEFAULT_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_MAX_RECONNECT_DELAY_MS = 2_000;
export const DEFAULT_READY_TIMEOUT_MS = 10_000;
const RECONNECT_BASE_DELAY_MS = 50;
/** A revocation key outlives its `expiresAt` by this much, so clock skew between replicas never drops it early. */
const REVOCATION_TTL_GRACE_MS = 60_000;
/** keys per list-revocations script call */
const LIST_BATCH = 500;
const QUIT_TIMEOUT_MS = 1_000;

const HASH_TAG = '{mg}';
const KILL_SWITCH_FIELD = 'global';
const ORG_FIELD_PREFIX = 'org:';

// ---------------------------------------------------------------------------------------------------------------
// Lua. All keys of one store share the `{mg}` hash tag, so every script touches a single Cluster slot. Scripts
// receive every key they touch in KEYS. Mutations publish their change notice inside the script, so a change and
// its notice are one atomic step.
// ---------------------------------------------------------------------------------------------------------------

/**
 * The checks of every request that arrived in one turn of the event loop, in one script call: one command, one reply
 * and one round trip however many requests there are (under load ≈ 12–40 a turn). Each request is checked exactly as
 * if it were alone, in arrival order: its increments count before the next one is read, so a batch never lets more
 * through than separate calls would. What the requests read is read once per call (a revocation, an organisation's
 * suspension, the windows, a counter) and each counter is written once, after the last request: under load most
 * requests of a call share a shape, and Redis then does a few commands per call instead of six or more per request.
 *
 * Requests of one turn mostly come from few callers, so their keys are sent once per *shape* (subject, token id,
 * organisation and rate-limit window) and each request names its shape: under load that is a few bytes per request
 * instead of nine arguments, and one reply value instead of seven (ioredis encodes and decodes every one of them, and
 * Redis converts every one from Lua: ≈ 1 µs of its time per request for four values, sixteenth pass). The requests
 * themselves go in one argument, not two each: ioredis's cost grows with the arguments of a command (≈ 0.3 µs of the
 * gateway's CPU per request for two arguments each, nineteenth pass).
 *
 * KEYS: 1 revocation index, 2 suspensions hash, 3 windows hash, 4 epoch; then for shape s (from 0) at 4 + 4s:
 *       +1 subject revocation, +2 token revocation, +3 subject counter, +4 global counter
 * ARGV: 1 a new epoch ('lost:…'), 2 perSubject, 3 global ceiling (0 = none), 4 the epoch the store knows ('' none),
 *       5 the number of shapes S; then for shape s at 5 + 4s: +1 has jti (1/0), +2 has org (1/0), +3 org, +4 counter
 *       TTL ms; then at 6 + 4S the requests, in order, as one text: for each, its shape s and its now (decimal numbers
 *       as JavaScript writes them) joined by a space, the requests joined by ','
 * Returns { 0 when the epoch is the one the store knows, else the epoch now (ARGV[1] when it was missing and this call
 *           set it), then one value per request: its subject count (an integer) when it passed with nothing restricting
 *           it, else { decision 'ok'|'subject'|'global'|'error', subject count, '' when nothing restricts it or else a
 *           JSON array of four strings: subject revocation JSON | '', token revocation JSON | '', suspension JSON | '',
 *           window JSON | '' } }
 *           where the count is after the request when it consumed a unit and unchanged otherwise. The epoch key is set
 *           ('start:…') by a store that reaches Redis and finds none; a check that finds it missing sets it ('lost:…')
 *           and reports the loss, and a store that finds another epoch than it knows learns it (see noteEpoch).
 */
const CHECK_LUA = `
local out = { 0 }
local epoch = redis.call('GET', KEYS[4])
if not epoch then
  redis.call('SET', KEYS[4], ARGV[1])
  out[1] = ARGV[1]
elseif epoch ~= ARGV[4] then
  out[1] = epoch
end
local per_subject = tonumber(ARGV[2])
local ceiling = tonumber(ARGV[3])
local shapes = tonumber(ARGV[5])
local kill = redis.call('HGET', KEYS[2], '${KILL_SWITCH_FIELD}')

-- What the requests of this call read, read once: nothing else runs while the script does, so the second request of
-- a shape finds what the first found, less what the script itself changed (which the tables below track). Counter
-- increments are added up here and written after the last request, each counter once.
local revocations = {} -- key -> raw JSON | false (absent or deleted by this call)
local expiries = {} -- key -> the revocation's expiresAt | false (none, or unreadable: returned as it is)
local org_suspensions = {} -- org -> raw JSON | false
local windows = nil -- the windows hash, decoded: { id, raw, record } per window
local counts = {} -- counter key -> its value, with this call's increments
local added, expire_ms, written = {}, {}, {} -- counter key -> increments; -> TTL to set; counter keys in order
local plain = {} -- shape -> { subject counter key, global counter key, TTL } once nothing can restrict it in this call

local function live_revocation(key, now)
  local raw = revocations[key]
  if raw == nil then
    raw = redis.call('GET', key)
    revocations[key] = raw
    local ok, rec = false, nil
    if raw then ok, rec = pcall(cjson.decode, raw) end
    -- an unreadable record is returned as it is: the store refuses that request's check
    if ok and type(rec) == 'table' and type(rec['expiresAt']) == 'number' then expiries[key] = rec['expiresAt'] else expiries[key] = false end
  end
  if not raw then return '' end
  local expires = expiries[key]
  if expires and expires <= now then
    redis.call('DEL', key)
    redis.call('SREM', KEYS[1], key)
    revocations[key] = false
    return ''
  end
  return raw
end

local function all_windows()
  if windows == nil then
    local list = {}
    local all = redis.call('HGETALL', KEYS[3])
    for i = 1, #all, 2 do list[#list + 1] = { all[i], all[i + 1], cjson.decode(all[i + 1]) } end
    windows = list
  end
  return windows
end

-- a counter INCR could not add to ('1.5', ' 5', '007': tonumber reads them) fails the request here, before any
-- write; so does one with more than 18 digits, which the increments of one call could take past INCRBY's range
local function count(key)
  local v = counts[key]
  if v ~= nil then return v end
  local raw = redis.call('GET', key)
  if not raw then
    v = 0
  else
    local digits = raw
    if string.sub(raw, 1, 1) == '-' then digits = string.sub(raw, 2) end
    if not ((raw == '0' or string.match(raw, '^%-?[1-9]%d*$')) and #digits <= 18) then error('counter is not an integer') end
    v = tonumber(raw)
  end
  counts[key] = v
  return v
end

local function increment(key, ttl)
  local v = counts[key] + 1
  counts[key] = v
  if added[key] == nil then
    added[key] = 0
    written[#written + 1] = key
  end
  added[key] = added[key] + 1
  -- as INCR then PEXPIRE when INCR answered 1 would have
  if v == 1 then expire_ms[key] = ttl end
  return v
end

-- the rate-limit decision on the counters as they stand, and the request counted when it passes and nothing else
-- refuses it (free)
local function rate_limit(subject_key, global_key, ttl, free)
  local sc, gc = count(subject_key), 0
  if ceiling > 0 then gc = count(global_key) end
  local decision = 'ok'
  if sc >= per_subject then decision = 'subject' elseif ceiling > 0 and gc >= ceiling then decision = 'global' end
  if decision == 'ok' and free then
    sc = increment(subject_key, ttl)
    if ceiling > 0 then gc = increment(global_key, ttl) end
  end
  return decision, sc
end

-- one request of shape s at time now: keys from KEYS[k + 1], the shape's arguments from ARGV[a + 1]. Counters are
-- incremented last, only when it passes.
local function check_one(s, now)
  local k, a = 4 + 4 * s, 5 + 4 * s
  if s == nil or now == nil or s < 0 or s >= shapes then error('bad request arguments') end

  local subj = live_revocation(KEYS[k + 1], now)
  local tok = ''
  if ARGV[a + 1] == '1' then tok = live_revocation(KEYS[k + 2], now) end

  local has_org = ARGV[a + 2] == '1'
  local org = ARGV[a + 3]
  local susp = kill
  if not susp and has_org then
    susp = org_suspensions[org]
    if susp == nil then
      susp = redis.call('HGET', KEYS[2], '${ORG_FIELD_PREFIX}' .. org)
      org_suspensions[org] = susp
    end
  end
  if not susp then susp = '' end

  local win = ''
  if susp == '' then
    local best_start, best_id
    for _, entry in ipairs(all_windows()) do
      local id, raw, w = entry[1], entry[2], entry[3]
      local w_org = w['org']
      if w['start'] <= now and now < w['end'] and (w_org == nil or (has_org and w_org == org)) then
        if win == '' or w['start'] < best_start or (w['start'] == best_start and id < best_id) then
          win, best_start, best_id = raw, w['start'], id
        end
      end
    end
  end

  local ttl = tonumber(ARGV[a + 4])
  local decision, sc = rate_limit(KEYS[k + 3], KEYS[k + 4], ttl, subj == '' and tok == '' and susp == '' and win == '')
  local restricted = ''
  if subj ~= '' or tok ~= '' or susp ~= '' or win ~= '' then
    restricted = cjson.encode({ subj, tok, susp, win })
  elseif #windows == 0 then
    -- nothing restricts this shape, and nothing can later in this call: its revocations are absent (or deleted above),
    -- so are the kill switch and its organisation's suspension, and there is no window that could begin. Its next
    -- requests need only its counters, read above.
    plain[s] = { KEYS[k + 3], KEYS[k + 4], ttl }
  end
  return { decision, sc, restricted }
end

if #ARGV ~= 6 + 4 * shapes then error('bad arguments') end
for s_text, now_text in string.gmatch(ARGV[6 + 4 * shapes], '([^ ,]+) ([^ ,]+)') do
  local s, now = tonumber(s_text), tonumber(now_text)
  local p = nil
  if s ~= nil and now ~= nil then p = plain[s] end
  local n = #out
  if p then
    -- what check_one does for this shape, less what cannot change (its counters are read: count cannot fail)
    local decision, sc = rate_limit(p[1], p[2], p[3], true)
    if decision == 'ok' then out[n + 1] = sc else out[n + 1] = { decision, sc, '' } end
  else
    -- a request whose state cannot be read (a corrupt counter or window) fails alone, as it would on its own
    local ok, res = pcall(check_one, s, now)
    if not ok then res = { 'error', 0, '' } end
    if res[1] == 'ok' and res[3] == '' then out[n + 1] = res[2] else out[n + 1] = res end
  end
end
for _, key in ipairs(written) do
  redis.call('INCRBY', key, added[key])
  if expire_ms[key] then redis.call('PEXPIRE', key, expire_ms[key]) end
end
return out
`;

/** Requests checked in one script call at most (a larger turn is split): bounds the script's time and its reply. */
export const MAX_CHECK_BATCH = 64;

/** KEYS: 1 revocation, 2 index. ARGV: 1 JSON, 2 TTL ms (0 = none), 3 channel, 4 notice. */
const REVOKE_LUA = `
if ARGV[2] == '0' then
  redis.call('SET', KEYS[1], ARGV[1])
else
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
end
redis.call('SADD', KEYS[2], KEYS[1])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;

/** KEYS: 1 revocation, 2 index. ARGV: 1 channel, 2 notice. Returns 1 when a revocation existed. */
const UNREVOKE_LUA = `
local n = redis.call('DEL', KEYS[1])
redis.call('SREM', KEYS[2], KEYS[1])
if n > 0 then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return n
`;

/** KEYS: 1 hash. ARGV: 1 field, 2 JSON, 3 channel, 4 notice. */
const HASH_SET_LUA = `
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
`;

/** KEYS: 1 hash. ARGV: 1 field, 2 channel, 3 notice. Returns 1 when the field existed. */
const HASH_DEL_LUA = `
local n = redis.call('HDEL', KEYS[1], ARGV[1])
if n > 0 then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return n
`;

/** KEYS: 1 index, 2.. revocation keys. ARGV: 1 now. Returns the live revocations' JSON; prunes the rest. */
const LIST_REVOCATIONS_LUA = `
local now = tonumber(ARGV[1])
local out = {}
for i = 2, #KEYS do
  local raw = redis.call('GET', KEYS[i])
  if not raw then
    redis.call('SREM', KEYS[1], KEYS[i])
  else
    local exp = cjson.decode(raw)['expiresAt']
    if type(exp) == 'number' and exp <= now then
      redis.call('DEL', KEYS[i])
      redis.call('SREM', KEYS[1], KEYS[i])
    else
      out[#out + 1] = raw
    end
  end
end
return out
`;

/** KEYS: 1 windows hash. ARGV: 1 now. Returns windows that have not ended; prunes ended ones. */
const LIST_WINDOWS_LUA = `
local now = tonumber(ARGV[1])
local out = {}
local all = redis.call('HGETALL', KEYS[1])
for i = 1, #all, 2 do
  if cjson.decode(all[i + 1])['end'] <= now then
    redis.call('HDEL', KEYS[1], all[i])
  else
    out[#out + 1] = all[i + 1]
  end
end
return out
`;

type Arg = string | number;
type ScriptFn = (...args: Arg[]) => Promise<unknown>;

/** The commands `defineCommand` adds at run time (ioredis cannot type them). */
interface ScriptCommands {
  /** dynamic key count, every argument in one array (ioredis flattens it): the number of keys, the keys, ARGV */
  metagateCheck: (args: readonly Arg[]) => Promise<unknown>;
  metagateRevoke: ScriptFn;
  metagateUnrevoke: ScriptFn;
  metagateHashSet: ScriptFn;
  metagateHashDel: ScriptFn;
  /** dynamic key count: first argument is the number of keys */
  metagateListRevocations: ScriptFn;
  metagateListWindows: ScriptFn;
}

type Client = Redis | Cluster;

/** A request's check waiting for the end of the turn. */
interface PendingCheck {
  input: CheckInput;
  /** its rate-limit window and the time left in it */
  index: number;
  resetMs: number;
  done: CheckCallback;
}

interface ChangeNotice {
  /** the instance that made the change; it has already told its own listeners */
  o: string;
  /** what changed, for debugging with `redis-cli subscribe` */
  e: string;
}

/** Every check of a batch answered with one error. */
function answerAll(batch: readonly PendingCheck[], err: Error): void {
  for (const c of batch) answer(c, err);
}

/**
 * One check answered. A callback must not throw; one that does leaves no other check unanswered, and its error is
 * thrown again on its own (an uncaught exception, as a throwing promise reaction's would be), never hidden.
 */
function answer(c: PendingCheck, outcome: CheckResult | Error): void {
  try {
    c.done(outcome);
  } catch (err) {
    queueMicrotask(() => {
      throw err;
    });
  }
}

// ---------------------------------------------------------------------------------------------------------------

export class RedisStore implements StateStore {
  readonly backend = 'redis' as const;

  private readonly policy: Readonly<RateLimitPolicy>;
  private readonly base: string;
  private readonly channel: string;
  /** the keys every check script call begins with (CHECK_LUA's KEYS[1–4]), made once */
  private readonly checkKeys: readonly string[];
  private readonly instanceId = randomUUID();
  private readonly client: Client;
  private readonly subscriber: Client;
  private readonly scripts: ScriptCommands;
  private readonly listeners = new Set<() => void>();
  private readonly subscribed: Promise<void>;
  private subscriberWasReady = false;
  private readonly lostListeners = new Set<() => void>();
  private lastError: string | undefined;
  private closed = false;

  constructor(opts: RedisStoreOptions) {
    this.policy = validateRateLimitPolicy(opts.rateLimit);
    validateRedisOptions(opts);
    this.base = `${opts.keyPrefix}${HASH_TAG}:`;
    this.channel = `${this.base}changes`;
    this.checkKeys = [this.key('rev:index'), this.key('susp'), this.key('win'), this.key('epoch')];

    const connectTimeout = opts.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
    const retryStrategy = backoff(opts.maxReconnectDelayMs ?? DEFAULT_MAX_RECONNECT_DELAY_MS);

    // Commands fail fast: no offline queue, no resend after a reconnect, a reply deadline. A check that cannot be
    // answered now is refused now (503), never parked until Redis returns.
    this.client = openConnection(opts.connection, opts.allowedRanges, {
      connectTimeout,
      retryStrategy,
      commandTimeout: opts.commandTimeoutMs,
      maxRetriesPerRequest: 0,
      enableOfflineQueue: false,
      autoResendUnfulfilledCommands: false,
      // A demoted master (Sentinel failover) answers writes with READONLY: reconnect to find the new master. The
      // failed command is not resent; that one request is refused.
      reconnectOnError: (err) => /READONLY/.test(err.message),
      connectionName: 'metagate',
      // no auto-pipelining: the store already sends the checks of one event-loop turn as one command (sendChecks),
      // and ioredis's would hold that command back for one more turn
      enableAutoPipelining: false,
    });
    // The subscriber may wait: SUBSCRIBE is queued until connected and re-issued after every reconnect.
    this.subscriber = openConnection(opts.connection, opts.allowedRanges, {
      connectTimeout,
      retryStrategy,
      maxRetriesPerRequest: null,
      enableOfflineQueue: true,
      autoResubscribe: true,
      connectionName: 'metagate-sub',
    });

    this.client.defineCommand('metagateCheck', { lua: CHECK_LUA });
    this.client.defineCommand('metagateRevoke', { lua: REVOKE_LUA, numberOfKeys: 2 });
    this.client.defineCommand('metagateUnrevoke', { lua: UNREVOKE_LUA, numberOfKeys: 2 });
    this.client.defineCommand('metagateHashSet', { lua: HASH_SET_LUA, numberOfKeys: 1 });
    this.client.defineCommand('metagateHashDel', { lua: HASH_DEL_LUA, numberOfKeys: 1 });
    this.client.defineCommand('metagateListRevocations', { lua: LIST_REVOCATIONS_LUA });
    this.client.defineCommand('metagateListWindows', { lua: LIST_WINDOWS_LUA, numberOfKeys: 1 });
    this.scripts = this.client as unknown as ScriptCommands;

    // Without an 'error' listener ioredis prints connection errors to the console; keep only a short cause here.
    this.client.on('error', (err: unknown) => {
      this.lastError = errorCode(err);
    });
    this.client.on('ready', () => {
      this.lastError = undefined;
      // The state starts when this store first reaches Redis, unless another replica (or an earlier run) started it.
      // Not on a reconnect: a Redis that comes back empty has lost the state, and the first check must find that out.
      if (this.epoch === null) this.startEpoch().catch(() => undefined);
    });
    this.subscriber.on('error', () => {
      // Visible through health().detail via the subscriber's status; nothing to log here.
    });
    this.subscriber.on('message', (channel: string, message: string) => this.onNotice(channel, message));
    this.subscriber.on('ready', () => {
      // Notices sent while the subscriber was away are lost; a reconnect is itself a "state may have changed".
      if (this.subscriberWasReady && !this.closed) notifyListeners(this.listeners);
      this.subscriberWasReady = true;
    });
    this.subscribed = this.subscriber.subscribe(this.channel).then(
      () => undefined,
      () => undefined, // only fails when the store is closed before Redis was ever reached
    );
  }

  /** the epoch of the state this store works with, once it has set or read it (null: not yet) */
  private epoch: string | null = null;

  /** Start the state on an empty Redis (a new deployment), or learn the epoch another replica or run started. */
  private async startEpoch(): Promise<void> {
    const key = this.key('epoch');
    await this.client.set(key, `start:${new Date().toISOString()}:${this.instanceId}`, 'NX');
    const value = await this.client.get(key);
    // a check may have learned it in between
    if (this.epoch === null && value !== null) this.epoch = value;
  }

  /**
   * A check found another epoch than this store knows. The state was lost — reported — when this check found the key
   * missing and set it (`fresh`), or when a store started a new state since ('start:…'; a replica started on the
   * emptied Redis before any check saw it missing, so nobody has reported it). A 'lost:…' epoch was set by another
   * gateway's check, which reported the loss: this store only learns it. Either way, what it knew may have changed.
   */
  private noteEpoch(value: string, fresh: string): void {
    const known = this.epoch;
    this.epoch = value;
    if (this.closed) return;
    if (value === fresh || (known !== null && value.startsWith('start:'))) notifyListeners(this.lostListeners);
    if (known !== null || value === fresh) notifyListeners(this.listeners);
  }

  onStateLost(listener: () => void): void {
    this.lostListeners.add(listener);
  }

  /** Resolves once commands can run and change notices are subscribed; rejects with StateUnavailableError. */
  async ready(timeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new StateUnavailableError(`redis not ready after ${timeoutMs} ms (${this.client.status})`)),
        timeoutMs,
      );
    });
    const clientReady =
      this.client.status === 'ready' ? Promise.resolve() : new Promise<void>((resolve) => this.client.once('ready', resolve));
    try {
      await Promise.race([Promise.all([clientReady, this.subscribed]), deadline]);
      // the state starts here unless another replica (or an earlier run) started it: see CHECK_LUA
      await Promise.race([this.run('start the state epoch', () => this.startEpoch()), deadline]);
    } finally {
      clearTimeout(timer);
    }
    if (this.closed) throw new StateUnavailableError('redis store is closed');
  }

  check(input: CheckInput): Promise<CheckResult> {
    return new Promise<CheckResult>((resolve, reject) => {
      this.checkLater(input, (outcome) => (outcome instanceof Error ? reject(outcome) : resolve(outcome)));
    });
  }

  checkLater(input: CheckInput, done: CheckCallback): void {
    assertTime(input.now);
    if (this.closed) throw new StateUnavailableError('redis store is closed');
    const { index, resetMs } = fixedWindow(input.now, this.policy.windowMs);
    this.pendingChecks.push({ input, index, resetMs, done });
    if (!this.checksQueued) {
      this.checksQueued = true;
      // at the end of this turn of the event loop, with the checks of every request that arrived in it
      setImmediate(this.sendQueuedChecks);
    }
  }

  /** Checks waiting for the end of this turn (one script call for all of them, see CHECK_LUA). */
  private pendingChecks: PendingCheck[] = [];
  private checksQueued = false;

  private readonly sendQueuedChecks = (): void => {
    this.checksQueued = false;
    const all = this.pendingChecks;
    // already sent ahead of an operation made in the same turn (run())
    if (all.length === 0) return;
    this.pendingChecks = [];
    for (let at = 0; at < all.length; at += MAX_CHECK_BATCH) this.sendChecks(all.length <= MAX_CHECK_BATCH ? all : all.slice(at, at + MAX_CHECK_BATCH));
  };

  private sendChecks(batch: PendingCheck[]): void {
    let args: Arg[];
    let fresh: string;
    try {
      fresh = `lost:${new Date().toISOString()}:${this.instanceId}`;
      const keys: Arg[] = [...this.checkKeys];
      const shapeArgs: Arg[] = [];
      // "shape now" per request, ','-separated (CHECK_LUA): one argument for all of them
      let requests = '';
      const shapes = new Map<string, number>();
      let last: PendingCheck | undefined;
      let shape = -1;
      for (const c of batch) {
        const { input } = c;
        // most requests of a turn have the shape of the one before them: no lookup then
        if (last !== undefined && c.index === last.index && input.subject === last.input.subject && input.jti === last.input.jti && input.org === last.input.org) {
          requests += `,${shape} ${input.now}`;
          continue;
        }
        last = c;
        // claims hold no control character (isRecordableClaim): NUL cannot make two shapes one
        const id = `${c.index}\0${input.jti === undefined ? '-' : `+${input.jti}`}\0${input.org === undefined ? '-' : `+${input.org}`}\0${input.subject}`;
        const known = shapes.get(id);
        if (known !== undefined) shape = known;
        else {
          shape = shapes.size;
          shapes.set(id, shape);
          keys.push(
            this.revocationKey('subject', input.subject),
            // a key is always passed so every shape has four; without a jti the script never reads it
            this.revocationKey('token', input.jti ?? ''),
            this.subjectCounterKey(c.index, input.subject),
            this.globalCounterKey(c.index),
          );
          // PEXPIRE takes whole milliseconds. A counter lives for the rest of its window plus one window, counted from
          // the shape's first request of the turn (the others of the turn came milliseconds later)
          shapeArgs.push(input.jti !== undefined ? '1' : '0', input.org !== undefined ? '1' : '0', input.org ?? '', Math.ceil(c.resetMs + this.policy.windowMs));
        }
        requests += requests === '' ? `${shape} ${input.now}` : `,${shape} ${input.now}`;
      }
      args = [keys.length, ...keys, fresh, this.policy.perSubject, this.policy.global, this.epoch ?? '', shapes.size, ...shapeArgs, requests];
    } catch (err) {
      // nothing may escape a timer callback, and no check is ever left unanswered
      answerAll(batch, new StateUnavailableError('redis check could not be prepared', { cause: err }));
      return;
    }
    this.run('check', () => this.scripts.metagateCheck(args)).then(
      (reply) => this.settleChecks(batch, reply, fresh),
      (err: unknown) => answerAll(batch, err instanceof Error ? err : new StateUnavailableError('redis check failed')),
    );
  }

  /** Every check of the batch is settled, each on its own part of the reply; a reply of the wrong shape fails them all. */
  private settleChecks(batch: PendingCheck[], reply: unknown, fresh: string): void {
    if (!Array.isArray(reply) || reply.length !== 1 + batch.length) {
      answerAll(batch, new StateUnavailableError('redis check returned an unexpected reply'));
      return;
    }
    if (reply[0] !== 0) this.noteEpoch(String(reply[0]), fresh);
    for (let r = 0; r < batch.length; r++) {
      const c = batch[r]!;
      let outcome: CheckResult | Error;
      try {
        outcome = this.checkResult(reply[1 + r], c.resetMs);
      } catch (err) {
        outcome = err instanceof Error ? err : new StateUnavailableError('redis check returned an unexpected reply');
      }
      answer(c, outcome);
    }
  }

  /**
   * One request's result from its value of the script's reply: its subject count when it passed with nothing
   * restricting it, else its decision, subject count and restrictions.
   */
  private checkResult(value: unknown, resetMs: number): CheckResult {
    if (typeof value === 'number') {
      // a count the script wrote for a request it let through (INCRBY's integer: a counter set below zero by hand is
      // counted up from there, as a lone INCR would; one of 18 digits is read as the nearest double, as before)
      if (!Number.isInteger(value)) throw new StateUnavailableError('redis check returned an unexpected reply');
      return { rateLimit: rateLimitOutcome(this.policy, 'ok', value, resetMs) };
    }
    if (!Array.isArray(value) || value.length !== 3) throw new StateUnavailableError('redis check returned an unexpected reply');
    const decision: unknown = value[0];
    if (decision === 'error') throw new StateUnavailableError('redis check failed: the shared state of this request could not be read');
    if (decision !== 'ok' && decision !== 'subject' && decision !== 'global') {
      throw new StateUnavailableError('redis check returned an unexpected reply');
    }
    const count: unknown = value[1];
    if (!Number.isInteger(count)) throw new StateUnavailableError('redis check returned an unexpected reply');
    const result: CheckResult = {
      rateLimit: rateLimitOutcome(this.policy, decision satisfies RateLimitDecision, count as number, resetMs),
    };
    const restricted: unknown = value[2];
    if (restricted === '') return result;
    const [subjRaw, tokRaw, suspRaw, winRaw] = restrictions(restricted);
    if (subjRaw !== '') result.subjectRevoked = parseRecord(subjRaw, normalizeRevocation);
    if (tokRaw !== '') result.tokenRevoked = parseRecord(tokRaw, normalizeRevocation);
    if (suspRaw !== '') result.suspended = suspensionInForce(parseRecord(suspRaw, normalizeSuspension));
    else if (winRaw !== '') result.suspended = windowInForce(parseRecord(winRaw, normalizeWindow));
    return result;
  }

  async revoke(r: Revocation): Promise<void> {
    const record = normalizeRevocation(r);
    await this.run('revoke', () =>
      this.scripts.metagateRevoke(
        this.revocationKey(record.kind, record.id),
        this.key('rev:index'),
        JSON.stringify(record),
        revocationTtlMs(record),
        this.channel,
        this.notice('revoke'),
      ),
    );
    notifyListeners(this.listeners);
  }

  async unrevoke(kind: Revocation['kind'], id: string): Promise<boolean> {
    const n = await this.run('unrevoke', () =>
      this.scripts.metagateUnrevoke(this.revocationKey(kind, id), this.key('rev:index'), this.channel, this.notice('unrevoke')),
    );
    return this.changedIf(n);
  }

  async listRevocations(now: number): Promise<Revocation[]> {
    assertTime(now);
    const index = this.key('rev:index');
    const members = await this.run('list revocations', () => this.client.smembers(index));
    const out: Revocation[] = [];
    for (let i = 0; i < members.length; i += LIST_BATCH) {
      const batch = members.slice(i, i + LIST_BATCH);
      const raws = await this.run('list revocations', () =>
        this.scripts.metagateListRevocations(batch.length + 1, index, ...batch, now),
      );
      for (const raw of asArray(raws)) out.push(parseRecord(raw, normalizeRevocation));
    }
    return out.sort(compareRevocations);
  }

  async suspend(s: Suspension): Promise<void> {
    const record = normalizeSuspension(s);
    await this.run('suspend', () =>
      this.scripts.metagateHashSet(this.key('susp'), suspensionField(record.org), JSON.stringify(record), this.channel, this.notice('suspend')),
    );
    notifyListeners(this.listeners);
  }

  async resume(org?: string): Promise<boolean> {
    const n = await this.run('resume', () =>
      this.scripts.metagateHashDel(this.key('susp'), suspensionField(org), this.channel, this.notice('resume')),
    );
    return this.changedIf(n);
  }

  async listSuspensions(): Promise<Suspension[]> {
    const raws = await this.run('list suspensions', () => this.client.hvals(this.key('susp')));
    return raws.map((raw) => parseRecord(raw, normalizeSuspension)).sort(compareSuspensions);
  }

  async scheduleWindow(w: SuspensionWindow): Promise<void> {
    const record = normalizeWindow(w);
    await this.run('schedule window', () =>
      this.scripts.metagateHashSet(this.key('win'), record.id, JSON.stringify(record), this.channel, this.notice('schedule')),
    );
    notifyListeners(this.listeners);
  }

  async cancelWindow(id: string): Promise<boolean> {
    const n = await this.run('cancel window', () => this.scripts.metagateHashDel(this.key('win'), id, this.channel, this.notice('cancel')));
    return this.changedIf(n);
  }

  async listWindows(now: number): Promise<SuspensionWindow[]> {
    assertTime(now);
    const raws = await this.run('list windows', () => this.scripts.metagateListWindows(this.key('win'), now));
    return asArray(raws)
      .map((raw) => parseRecord(raw, normalizeWindow))
      .sort(compareWindows);
  }

  async rateLimitState(subject: string, now: number): Promise<{ subject: RateLimitOutcome; global: RateLimitOutcome }> {
    assertTime(now);
    const { index, resetMs } = fixedWindow(now, this.policy.windowMs);
    const [s, g] = await this.run('rate-limit state', () =>
      this.client.mget(this.subjectCounterKey(index, subject), this.globalCounterKey(index)),
    );
    return rateLimitSnapshot(this.policy, Number(s ?? 0), Number(g ?? 0), resetMs);
  }

  health(): StoreHealth {
    if (this.closed) return { ok: false, backend: 'redis', detail: 'store closed' };
    const status = this.client.status;
    if (status !== 'ready') {
      return { ok: false, backend: 'redis', detail: `redis connection ${status}${this.lastError ? ` (${this.lastError})` : ''}` };
    }
    // check() never depends on notices (nothing is cached), so a lost subscriber degrades only onChange.
    if (this.subscriber.status !== 'ready') {
      return { ok: true, backend: 'redis', detail: `change notices unavailable (subscriber ${this.subscriber.status})` };
    }
    return { ok: true, backend: 'redis' };
  }

  onChange(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.listeners.clear();
    await Promise.all([shutdown(this.client), shutdown(this.subscriber)]);
  }

  /** PING, within the command timeout (a hung server, a paused client or a black-holed network fails it). */
  async probe(): Promise<void> {
    await this.run('probe', () => this.client.ping());
  }

  // -------------------------------------------------------------------------------------------------------------

  /** Runs one Redis operation; every failure becomes StateUnavailableError so the gateway fails closed. */
  private async run<T>(op: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) throw new StateUnavailableError('redis store is closed');
    // checks made before this operation go to Redis before it: an unrevoke never overtakes a check made earlier
    if (op !== 'check' && this.checksQueued) this.sendQueuedChecks();
    try {
      return await fn();
    } catch (err) {
      throw new StateUnavailableError(`redis ${op} failed: ${failureKind(err)}`, { cause: err });
    }
  }

  private changedIf(n: unknown): boolean {
    const changed = Number(n) > 0;
    if (changed) notifyListeners(this.listeners);
    return changed;
  }

  private onNotice(channel: string, message: string): void {
    if (channel !== this.channel || this.closed) return;
    let notice: Partial<ChangeNotice>;
    try {
      notice = JSON.parse(message) as Partial<ChangeNotice>;
    } catch {
      notice = {};
    }
    // Our own changes were announced to our listeners when they completed.
    if (notice.o === this.instanceId) return;
    notifyListeners(this.listeners);
  }

  private notice(event: string): string {
    return JSON.stringify({ o: this.instanceId, e: event } satisfies ChangeNotice);
  }

  private key(suffix: string): string {
    return this.base + suffix;
  }

  private revocationKey(kind: Revocation['kind'], id: string): string {
    return this.key(`rev:${kind}:${id}`);
  }

  private subjectCounterKey(windowIndex: number, subject: string): string {
    return this.key(`rl:${windowIndex}:s:${subject}`);
  }

  private globalCounterKey(windowIndex: number): string {
    return this.key(`rl:${windowIndex}:g`);
  }
}

/** Creates a RedisStore and waits until it is ready; closes it and rejects with StateUnavailableError otherwise. */
export async function createRedisStore(opts: RedisStoreOptions, readyTimeoutMs = DEFAULT_READY_TIMEOUT_MS): Promise<RedisStore> {
  const store = new RedisStore(opts);
  try {
    await store.ready(readyTimeoutMs);
  } catch (err) {
    await store.close();
    throw err instanceof StateUnavailableError ? err : new StateUnavailableError('redis not ready', { cause: err });
  }
  return store;
}

// ---------------------------------------------------------------------------------------------------------------

type ConnectionTuning = Pick<
  RedisOptions,
  | 'connectTimeout'
  | 'retryStrategy'
  | 'commandTimeout'
  | 'maxRetriesPerRequest'
  | 'enableOfflineQueue'
  | 'autoResubscribe'
  | 'autoResendUnfulfilledCommands'
  | 'reconnectOnError'
  | 'connectionName'
  | 'enableAutoPipelining'
>;

function openConnection(conn: RedisConnectionOptions, ranges: readonly Cidr[] | undefined, tuning: ConnectionTuning): Client {
  const guard = ranges && ranges.length > 0 ? ranges : undefined;
  switch (conn.mode) {
    case 'single':
      return new Redis(conn.url, { ...tuning, ...(guard ? { Connector: sovereignRedisConnector(guard) } : {}) });
    case 'sentinel':
      return new Redis({
        ...tuning,
        // the master address a sentinel answers is checked before the gateway connects to it
        ...(guard ? { natMap: sovereignNatMap(guard) } : {}),
        sentinels: conn.sentinels.map(({ host, port }) => ({ host, port })),
        name: conn.name,
        ...(conn.password === undefined ? {} : { password: conn.password }),
        ...(conn.sentinelPassword === undefined ? {} : { sentinelPassword: conn.sentinelPassword }),
      });
    case 'cluster': {
      const { retryStrategy, enableOfflineQueue, enableAutoPipelining, ...perNode } = tuning;
      const options: ClusterOptions = {
        clusterRetryStrategy: retryStrategy ?? null,
        enableOfflineQueue: enableOfflineQueue ?? true,
        enableAutoPipelining: enableAutoPipelining ?? false,
        redisOptions: { ...perNode, ...(conn.password === undefined ? {} : { password: conn.password }), ...(guard ? { Connector: sovereignRedisConnector(guard) } : {}) },
        ...(guard ? { dnsLookup: sovereignDnsLookup(guard) } : {}),
      };
      return new Cluster(
        conn.nodes.map(({ host, port }) => ({ host, port })),
        options,
      );
    }
  }
}

/** Exponential back-off from 50 ms, capped, with jitter so replicas do not reconnect in lockstep. Never gives up. */
function backoff(maxDelayMs: number): (times: number) => number {
  return (times) => Math.min(RECONNECT_BASE_DELAY_MS * 2 ** Math.min(times - 1, 16), maxDelayMs) + Math.floor(Math.random() * 50);
}

async function shutdown(conn: Client): Promise<void> {
  if (conn.status === 'ready') {
    const timer = new Promise<'timeout'>((resolve) => setTimeout(() => resolve('timeout'), QUIT_TIMEOUT_MS).unref());
    const outcome = await Promise.race([conn.quit().then(() => 'ok' as const, () => 'failed' as const), timer]);
    if (outcome === 'ok') return;
  }
  conn.disconnect();
}

function validateRedisOptions(opts: RedisStoreOptions): void {
  const problems: string[] = [];
  if (typeof opts.keyPrefix !== 'string' || opts.keyPrefix.length === 0 || /[{}\s]/.test(opts.keyPrefix)) {
    problems.push('redis.keyPrefix must be a non-empty string without braces or whitespace');
  }
  if (!Number.isSafeInteger(opts.commandTimeoutMs) || opts.commandTimeoutMs <= 0) {
    problems.push('redis.commandTimeoutMs must be a positive integer');
  }
  for (const name of ['connectTimeoutMs', 'maxReconnectDelayMs'] as const) {
    const v = opts[name];
    if (v !== undefined && (!Number.isSafeInteger(v) || v <= 0)) problems.push(`redis.${name} must be a positive integer`);
  }
  const conn = opts.connection;
  switch (conn.mode) {
    case 'single': {
      let protocol: string | undefined;
      try {
        protocol = new URL(conn.url).protocol;
      } catch {
        protocol = undefined;
      }
      // The URL may carry a password: never echo it.
      if (protocol !== 'redis:' && protocol !== 'rediss:') problems.push('redis.connection.url must be a redis:// or rediss:// URL');
      break;
    }
    case 'sentinel':
      if (conn.sentinels.length === 0) problems.push('redis.connection.sentinels must list at least one sentinel');
      if (conn.name.length === 0) problems.push('redis.connection.name must name the master group');
      nodeProblems(conn.sentinels, 'redis.connection.sentinels', problems);
      break;
    case 'cluster':
      if (conn.nodes.length === 0) problems.push('redis.connection.nodes must list at least one node');
      nodeProblems(conn.nodes, 'redis.connection.nodes', problems);
      break;
    default:
      problems.push('redis.connection.mode must be "single", "sentinel" or "cluster"');
  }
  if (problems.length > 0) throw new RangeError(problems.join('; '));
}

function nodeProblems(nodes: RedisNode[], path: string, problems: string[]): void {
  nodes.forEach((n, i) => {
    if (typeof n.host !== 'string' || n.host.length === 0) problems.push(`${path}[${i}].host must be a non-empty string`);
    if (!Number.isInteger(n.port) || n.port < 1 || n.port > 65535) problems.push(`${path}[${i}].port must be a TCP port`);
  });
}

function suspensionField(org: string | undefined): string {
  return org === undefined ? KILL_SWITCH_FIELD : ORG_FIELD_PREFIX + org;
}

/**
 * The key's TTL only collects garbage; `expiresAt` decides. It must never fire before `expiresAt` on the wall clock,
 * so it covers both the remaining real time and the revocation's intended duration, plus a margin for clock skew.
 */
function revocationTtlMs(r: Revocation): number {
  if (r.expiresAt === undefined) return 0;
  const remaining = Math.max(r.expiresAt - Date.now(), r.expiresAt - r.createdAt, 0);
  return Math.ceil(remaining) + REVOCATION_TTL_GRACE_MS;
}

/** The four records a check script reply names for a restricted request (a JSON array of four strings). */
function restrictions(raw: unknown): [string, string, string, string] {
  let value: unknown;
  try {
    value = typeof raw === 'string' ? JSON.parse(raw) : undefined;
  } catch {
    value = undefined;
  }
  if (!Array.isArray(value) || value.length !== 4 || !value.every((v) => typeof v === 'string')) {
    throw new StateUnavailableError('redis check returned an unexpected reply');
  }
  return value as [string, string, string, string];
}

function parseRecord<T>(raw: unknown, normalize: (value: T) => T): T {
  try {
    if (typeof raw !== 'string') throw new TypeError('not a string');
    const value: unknown = JSON.parse(raw);
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new TypeError('not an object');
    return normalize(value as T);
  } catch (err) {
    // A record we cannot read is not "absent": refuse rather than guess.
    throw new StateUnavailableError('redis holds an unreadable state record', { cause: err });
  }
}

function asArray(reply: unknown): unknown[] {
  if (!Array.isArray(reply)) throw new StateUnavailableError('redis returned an unexpected reply');
  return reply;
}

/** A short, secret-free description of why a command failed. */
function failureKind(err: unknown): string {
  const message = err instanceof Error ? err.message : '';
  if (/timed out/i.test(message)) return 'command timed out';
  if (err instanceof Error && err.name === 'MaxRetriesPerRequestError') return 'connection lost';
  if (/writeable|Connection is closed|enableOfflineQueue|not connected/i.test(message)) return 'not connected';
  if (/NOSCRIPT|ERR|WRONGTYPE|READONLY|LOADING|CLUSTERDOWN|MOVED|ASK|NOAUTH|WRONGPASS|NOPERM/.test(message)) {
    return `server error ${message.split(' ')[0]}`;
  }
  return 'command failed';
}

function errorCode(err: unknown): string {
  if (err && typeof err === 'object' && 'code' in err && typeof err.code === 'string') return err.code;
  return err instanceof Error ? err.name : 'error';
}
