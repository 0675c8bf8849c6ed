// The StateStore contract: every backend runs this suite and must give the same answers.

import { afterEach, describe, expect, it } from 'vitest';
import type { RateLimitPolicy, Revocation, StateStore, Suspension, SuspensionWindow } from '../../src/state/store.js';

/** Creates a fresh, empty store with the given policy; stores from one call must not see each other's state. */
export type MakeStore = (policy: RateLimitPolicy) => Promise<StateStore>;

/** A realistic epoch-ms instant aligned on every window size used here. */
export const T0 = 1_700_000_040_000;
const MINUTE = 60_000;
const ROOMY: RateLimitPolicy = { perSubject: 1_000, global: 0, windowMs: MINUTE };

function revocation(kind: Revocation['kind'], id: string, extra: Partial<Revocation> = {}): Revocation {
  return { kind, id, reason: `${kind} ${id} revoked`, by: 'operator@ministry', createdAt: T0, ...extra };
}

function suspension(org?: string, extra: Partial<Suspension> = {}): Suspension {
  return { ...(org === undefined ? {} : { org }), reason: org ? `${org} suspended` : 'kill switch', by: 'soc@ministry', createdAt: T0, ...extra };
}

function window(id: string, start: number, end: number, extra: Partial<SuspensionWindow> = {}): SuspensionWindow {
  return { id, label: `exercise ${id}`, start, end, reason: `exercise ${id} in progress`, by: 'planner@ministry', createdAt: T0, ...extra };
}

export function runStoreContract(name: string, makeStore: MakeStore, cleanup?: () => Promise<void>): void {
  describe(`StateStore contract: ${name}`, () => {
    const opened: StateStore[] = [];

    async function open(policy: RateLimitPolicy = ROOMY): Promise<StateStore> {
      const store = await makeStore(policy);
      opened.push(store);
      return store;
    }

    afterEach(async () => {
      await Promise.all(opened.splice(0).map((s) => s.close()));
      if (cleanup) await cleanup();
    });

    describe('health', () => {
      it('reports ok for its own backend', async () => {
        const store = await open();
        const health = store.health();
        expect(health.ok).toBe(true);
        expect(health.backend).toBe(store.backend);
      });

      it('rejects invalid rate-limit policies at construction', async () => {
        await expect(makeStore({ perSubject: -1, global: 0, windowMs: MINUTE })).rejects.toThrow(/perSubject/);
        await expect(makeStore({ perSubject: 1, global: 0, windowMs: 0 })).rejects.toThrow(/windowMs/);
      });
    });

    describe('check on an empty store', () => {
      it('allows with nothing revoked or suspended and one unit consumed', async () => {
        const store = await open({ perSubject: 5, global: 0, windowMs: MINUTE });
        const result = await store.check({ subject: 'alice', jti: 't-1', org: 'acme', now: T0 });
        expect(result).toEqual({ rateLimit: { allowed: true, limit: 5, remaining: 4, resetMs: MINUTE } });
      });
    });

    describe('revocations', () => {
      it('a subject revocation refuses that subject only, until it is undone', async () => {
        const store = await open();
        const r = revocation('subject', 'alice');
        await store.revoke(r);

        expect((await store.check({ subject: 'alice', now: T0 + 1 })).subjectRevoked).toEqual(r);
        expect((await store.check({ subject: 'bob', now: T0 + 1 })).subjectRevoked).toBeUndefined();

        expect(await store.unrevoke('subject', 'alice')).toBe(true);
        expect((await store.check({ subject: 'alice', now: T0 + 2 })).subjectRevoked).toBeUndefined();
        expect(await store.unrevoke('subject', 'alice')).toBe(false);
      });

      it('a token revocation refuses requests carrying that jti only', async () => {
        const store = await open();
        const r = revocation('token', 'jti-123');
        await store.revoke(r);

        expect((await store.check({ subject: 'alice', jti: 'jti-123', now: T0 })).tokenRevoked).toEqual(r);
        expect((await store.check({ subject: 'bob', jti: 'jti-123', now: T0 })).tokenRevoked).toEqual(r);
        expect((await store.check({ subject: 'alice', jti: 'jti-999', now: T0 })).tokenRevoked).toBeUndefined();
        expect((await store.check({ subject: 'alice', now: T0 })).tokenRevoked).toBeUndefined();

        expect(await store.unrevoke('token', 'jti-123')).toBe(true);
        expect((await store.check({ subject: 'alice', jti: 'jti-123', now: T0 })).tokenRevoked).toBeUndefined();
      });

      it('keeps subject and token revocations apart even when the ids are equal', async () => {
        const store = await open();
        await store.revoke(revocation('subject', 'same-id'));

        const result = await store.check({ subject: 'other', jti: 'same-id', now: T0 });
        expect(result.tokenRevoked).toBeUndefined();
        expect(result.subjectRevoked).toBeUndefined();
        expect(await store.unrevoke('token', 'same-id')).toBe(false);
        expect(await store.unrevoke('subject', 'same-id')).toBe(true);
      });

      it('reports both revocations when subject and token are revoked', async () => {
        const store = await open();
        await store.revoke(revocation('subject', 'alice'));
        await store.revoke(revocation('token', 't-1'));
        const result = await store.check({ subject: 'alice', jti: 't-1', now: T0 });
        expect(result.subjectRevoked?.id).toBe('alice');
        expect(result.tokenRevoked?.id).toBe('t-1');
      });

      it('an expiring revocation is in force before expiresAt and absent (and pruned) from expiresAt on', async () => {
        const store = await open();
        const r = revocation('subject', 'alice', { expiresAt: T0 + 5_000 });
        await store.revoke(r);

        expect((await store.check({ subject: 'alice', now: T0 + 4_999 })).subjectRevoked).toEqual(r);
        expect(await store.listRevocations(T0 + 4_999)).toEqual([r]);

        expect((await store.check({ subject: 'alice', now: T0 + 5_000 })).subjectRevoked).toBeUndefined();
        expect(await store.listRevocations(T0 + 5_000)).toEqual([]);
        // pruned, not merely hidden: there is nothing left to undo
        expect(await store.unrevoke('subject', 'alice')).toBe(false);
      });

      it('an expired token revocation is absent', async () => {
        const store = await open();
        await store.revoke(revocation('token', 't-9', { expiresAt: T0 + 10 }));
        expect((await store.check({ subject: 'alice', jti: 't-9', now: T0 + 9 })).tokenRevoked?.id).toBe('t-9');
        expect((await store.check({ subject: 'alice', jti: 't-9', now: T0 + 10 })).tokenRevoked).toBeUndefined();
      });

      it('revoking again replaces the record, including removing an expiry', async () => {
        const store = await open();
        await store.revoke(revocation('subject', 'alice', { expiresAt: T0 + 1_000, reason: 'first' }));
        const second = revocation('subject', 'alice', { reason: 'second', createdAt: T0 + 10 });
        await store.revoke(second);

        const result = await store.check({ subject: 'alice', now: T0 + 2_000 });
        expect(result.subjectRevoked).toEqual(second);
        expect(await store.listRevocations(T0 + 2_000)).toEqual([second]);
      });

      it('lists revocations in force, of both kinds, ordered by creation, leaving out expired ones', async () => {
        const store = await open();
        const a = revocation('subject', 'alice', { createdAt: T0 + 3 });
        const b = revocation('token', 't-1', { createdAt: T0 + 1, expiresAt: T0 + 100_000 });
        const c = revocation('subject', 'carol', { createdAt: T0 + 2, expiresAt: T0 + 50 });
        await store.revoke(a);
        await store.revoke(b);
        await store.revoke(c);

        expect(await store.listRevocations(T0 + 10)).toEqual([b, c, a]);
        expect(await store.listRevocations(T0 + 50)).toEqual([b, a]);
      });

      it('stores exactly the record given, and hands out copies', async () => {
        const store = await open();
        const input = { ...revocation('subject', 'alice'), extra: 'not part of the record' } as Revocation;
        await store.revoke(input);
        input.reason = 'changed by the caller afterwards';

        const listed = await store.listRevocations(T0);
        expect(listed).toEqual([revocation('subject', 'alice')]);
        listed[0]!.reason = 'changed by a reader';
        const checked = await store.check({ subject: 'alice', now: T0 });
        expect(checked.subjectRevoked).toEqual(revocation('subject', 'alice'));
      });
    });

    describe('kill switch and organisation suspensions', () => {
      it('the global kill switch suspends everyone, with or without an organisation', async () => {
        const store = await open();
        await store.suspend(suspension(undefined, { reason: 'incident 42' }));

        for (const org of [undefined, 'acme', 'globex']) {
          const result = await store.check({ subject: 'alice', ...(org ? { org } : {}), now: T0 });
          expect(result.suspended).toEqual({ reason: 'incident 42', source: 'kill_switch' });
        }
        expect(await store.listSuspensions()).toEqual([suspension(undefined, { reason: 'incident 42' })]);

        expect(await store.resume()).toBe(true);
        expect((await store.check({ subject: 'alice', now: T0 })).suspended).toBeUndefined();
        expect(await store.resume()).toBe(false);
        expect(await store.listSuspensions()).toEqual([]);
      });

      it('an organisation suspension applies only to requests from that organisation', async () => {
        const store = await open();
        await store.suspend(suspension('acme'));

        expect((await store.check({ subject: 'alice', org: 'acme', now: T0 })).suspended).toEqual({
          reason: 'acme suspended',
          org: 'acme',
          source: 'kill_switch',
        });
        expect((await store.check({ subject: 'bob', org: 'globex', now: T0 })).suspended).toBeUndefined();
        expect((await store.check({ subject: 'carol', now: T0 })).suspended).toBeUndefined();
      });

      it('resuming an organisation leaves the global kill switch alone, and the reverse', async () => {
        const store = await open();
        await store.suspend(suspension());
        await store.suspend(suspension('acme'));
        expect(await store.listSuspensions()).toEqual([suspension(), suspension('acme')]);

        expect(await store.resume('acme')).toBe(true);
        expect((await store.check({ subject: 'alice', org: 'acme', now: T0 })).suspended?.source).toBe('kill_switch');
        expect((await store.check({ subject: 'alice', org: 'acme', now: T0 })).suspended?.org).toBeUndefined();

        await store.suspend(suspension('acme'));
        expect(await store.resume()).toBe(true);
        expect((await store.check({ subject: 'alice', org: 'acme', now: T0 })).suspended?.org).toBe('acme');
        expect((await store.check({ subject: 'bob', org: 'globex', now: T0 })).suspended).toBeUndefined();
      });

      it('an organisation named like an empty string cannot stand for the kill switch', async () => {
        const store = await open();
        await store.suspend(suspension());
        expect(await store.resume('')).toBe(false);
        expect((await store.check({ subject: 'alice', now: T0 })).suspended?.source).toBe('kill_switch');
      });

      it('the kill switch is reported before an organisation suspension and a window', async () => {
        const store = await open();
        await store.scheduleWindow(window('w1', T0 - 1_000, T0 + 1_000));
        await store.suspend(suspension('acme'));
        expect((await store.check({ subject: 'a', org: 'acme', now: T0 })).suspended).toEqual({
          reason: 'acme suspended',
          org: 'acme',
          source: 'kill_switch',
        });
        await store.suspend(suspension(undefined, { reason: 'everything off' }));
        expect((await store.check({ subject: 'a', org: 'acme', now: T0 })).suspended).toEqual({
          reason: 'everything off',
          source: 'kill_switch',
        });
      });

      it('suspending again replaces the reason', async () => {
        const store = await open();
        await store.suspend(suspension('acme', { reason: 'first' }));
        await store.suspend(suspension('acme', { reason: 'second' }));
        expect(await store.listSuspensions()).toEqual([suspension('acme', { reason: 'second' })]);
      });
    });

    describe('suspension windows', () => {
      it('is in force from start (inclusive) to end (exclusive)', async () => {
        const store = await open();
        const w = window('ex-1', T0 + 1_000, T0 + 2_000);
        await store.scheduleWindow(w);

        const at = async (now: number) => (await store.check({ subject: 'alice', org: 'acme', now })).suspended;
        expect(await at(T0 + 999)).toBeUndefined();
        expect(await at(T0 + 1_000)).toEqual({ reason: 'exercise ex-1 in progress', label: 'exercise ex-1', source: 'window' });
        expect(await at(T0 + 1_999)).toEqual({ reason: 'exercise ex-1 in progress', label: 'exercise ex-1', source: 'window' });
        expect(await at(T0 + 2_000)).toBeUndefined();
      });

      it('an organisation window applies only to that organisation', async () => {
        const store = await open();
        await store.scheduleWindow(window('ex-acme', T0, T0 + 1_000, { org: 'acme' }));

        expect((await store.check({ subject: 'alice', org: 'acme', now: T0 + 1 })).suspended).toEqual({
          reason: 'exercise ex-acme in progress',
          label: 'exercise ex-acme',
          org: 'acme',
          source: 'window',
        });
        expect((await store.check({ subject: 'bob', org: 'globex', now: T0 + 1 })).suspended).toBeUndefined();
        expect((await store.check({ subject: 'carol', now: T0 + 1 })).suspended).toBeUndefined();
      });

      it('reports the earliest-starting window in force when several overlap', async () => {
        const store = await open();
        await store.scheduleWindow(window('late', T0 + 500, T0 + 5_000));
        await store.scheduleWindow(window('early', T0, T0 + 5_000, { org: 'acme' }));
        expect((await store.check({ subject: 'a', org: 'acme', now: T0 + 600 })).suspended?.label).toBe('exercise early');
        expect((await store.check({ subject: 'a', org: 'globex', now: T0 + 600 })).suspended?.label).toBe('exercise late');
      });

      it('lists windows that have not ended, by start, and cancels by id', async () => {
        const store = await open();
        const past = window('past', T0 - 2_000, T0 - 1_000);
        const current = window('current', T0 - 500, T0 + 500, { org: 'acme' });
        const future = window('future', T0 + 10_000, T0 + 20_000);
        await store.scheduleWindow(future);
        await store.scheduleWindow(past);
        await store.scheduleWindow(current);

        expect(await store.listWindows(T0)).toEqual([current, future]);
        expect(await store.cancelWindow('current')).toBe(true);
        expect(await store.cancelWindow('current')).toBe(false);
        expect(await store.listWindows(T0)).toEqual([future]);
        expect((await store.check({ subject: 'a', org: 'acme', now: T0 })).suspended).toBeUndefined();
      });

      it('scheduling a window with an existing id replaces it', async () => {
        const store = await open();
        await store.scheduleWindow(window('ex', T0, T0 + 1_000));
        const moved = window('ex', T0 + 5_000, T0 + 6_000, { label: 'moved' });
        await store.scheduleWindow(moved);
        expect(await store.listWindows(T0)).toEqual([moved]);
        expect((await store.check({ subject: 'a', now: T0 + 10 })).suspended).toBeUndefined();
        expect((await store.check({ subject: 'a', now: T0 + 5_000 })).suspended?.label).toBe('moved');
      });
    });

    describe('rate limits', () => {
      it('counts per subject per fixed window with limit, remaining and resetMs', async () => {
        const store = await open({ perSubject: 3, global: 0, windowMs: 1_000 });
        const at = (subject: string, now: number) => store.check({ subject, now }).then((r) => r.rateLimit);

        expect(await at('alice', T0 + 100)).toEqual({ allowed: true, limit: 3, remaining: 2, resetMs: 900 });
        expect(await at('alice', T0 + 200)).toEqual({ allowed: true, limit: 3, remaining: 1, resetMs: 800 });
        expect(await at('alice', T0 + 300)).toEqual({ allowed: true, limit: 3, remaining: 0, resetMs: 700 });
        expect(await at('alice', T0 + 999)).toEqual({ allowed: false, scope: 'subject', limit: 3, remaining: 0, resetMs: 1 });
        // another subject has its own budget
        expect(await at('bob', T0 + 999)).toEqual({ allowed: true, limit: 3, remaining: 2, resetMs: 1 });
        // the next window starts afresh
        expect(await at('alice', T0 + 1_000)).toEqual({ allowed: true, limit: 3, remaining: 2, resetMs: 1_000 });
      });

      // The Redis store sends the checks of one event-loop turn as one script call: checks started together must be
      // decided one after another in the order they were made, each as if alone, on every backend.
      it('checks made together are decided in order, each as if alone: no more pass than one by one', async () => {
        const store = await open({ perSubject: 5, global: 8, windowMs: 1_000 });
        const subjects = ['alice', 'alice', 'bob', 'alice', 'alice', 'alice', 'alice', 'bob', 'carol', 'dave', 'bob', 'alice'];
        const results = await Promise.all(subjects.map((subject, k) => store.check({ subject, now: T0 + k })));
        const outcomes = results.map((r) => (r.rateLimit.allowed ? `ok:${r.rateLimit.remaining}` : r.rateLimit.scope));
        expect(outcomes).toEqual(['ok:4', 'ok:3', 'ok:4', 'ok:2', 'ok:1', 'ok:0', 'subject', 'ok:3', 'ok:4', 'global', 'global', 'subject']);
        for (const [k, r] of results.entries()) expect(r.rateLimit.resetMs, `check ${k}`).toBe(1_000 - k);
      });

      it('checks made together each get their own revocations and suspensions', async () => {
        const store = await open();
        await store.revoke(revocation('subject', 'mallory'));
        await store.revoke(revocation('token', 'stolen'));
        await store.suspend(suspension('rogue-org'));
        const [m, s, r, ok, ok2] = await Promise.all([
          store.check({ subject: 'mallory', now: T0 }),
          store.check({ subject: 'alice', jti: 'stolen', now: T0 }),
          store.check({ subject: 'bob', org: 'rogue-org', now: T0 }),
          store.check({ subject: 'carol', jti: 'fine', org: 'acme', now: T0 }),
          store.check({ subject: 'mallory-not', now: T0 }),
        ]);
        expect([m.subjectRevoked?.id, m.tokenRevoked, m.suspended]).toEqual(['mallory', undefined, undefined]);
        expect([s.subjectRevoked, s.tokenRevoked?.id, s.suspended]).toEqual([undefined, 'stolen', undefined]);
        expect([r.subjectRevoked, r.tokenRevoked, r.suspended?.org]).toEqual([undefined, undefined, 'rogue-org']);
        for (const x of [ok, ok2]) expect([x.subjectRevoked, x.tokenRevoked, x.suspended, x.rateLimit.allowed]).toEqual([undefined, undefined, undefined, true]);
      });

      it('many checks made together are all answered and all counted (more than one batch)', async () => {
        const store = await open({ perSubject: 150, global: 0, windowMs: 1_000 });
        const results = await Promise.all(Array.from({ length: 200 }, () => store.check({ subject: 'alice', now: T0 })));
        const remaining = results.filter((r) => r.rateLimit.allowed).map((r) => r.rateLimit.remaining);
        expect(remaining).toEqual(Array.from({ length: 150 }, (_, k) => 149 - k));
        expect(results.slice(150).every((r) => !r.rateLimit.allowed && r.rateLimit.scope === 'subject')).toBe(true);
      });

      it('enforces the global ceiling across subjects', async () => {
        const store = await open({ perSubject: 10, global: 3, windowMs: 1_000 });
        for (const subject of ['a', 'b', 'c']) {
          expect((await store.check({ subject, now: T0 })).rateLimit.allowed).toBe(true);
        }
        expect((await store.check({ subject: 'd', now: T0 + 250 })).rateLimit).toEqual({
          allowed: false,
          scope: 'global',
          limit: 3,
          remaining: 0,
          resetMs: 750,
        });
        expect((await store.check({ subject: 'a', now: T0 + 250 })).rateLimit.scope).toBe('global');
        expect((await store.check({ subject: 'd', now: T0 + 1_000 })).rateLimit.allowed).toBe(true);
      });

      it('reports the subject limit before the global ceiling', async () => {
        const store = await open({ perSubject: 1, global: 1, windowMs: 1_000 });
        expect((await store.check({ subject: 'a', now: T0 })).rateLimit.allowed).toBe(true);
        expect((await store.check({ subject: 'a', now: T0 })).rateLimit.scope).toBe('subject');
        expect((await store.check({ subject: 'b', now: T0 })).rateLimit.scope).toBe('global');
      });

      it('a global limit of 0 means no ceiling', async () => {
        const store = await open({ perSubject: 1, global: 0, windowMs: 1_000 });
        for (let i = 0; i < 20; i++) {
          expect((await store.check({ subject: `s${i}`, now: T0 })).rateLimit.allowed).toBe(true);
        }
        const state = await store.rateLimitState('s0', T0);
        expect(state.global).toEqual({ allowed: true, limit: 0, remaining: 0, resetMs: 1_000 });
      });

      it('a request refused by revocation or suspension consumes nothing', async () => {
        const store = await open({ perSubject: 2, global: 2, windowMs: 1_000 });
        await store.revoke(revocation('subject', 'alice'));
        await store.revoke(revocation('token', 'bad-token'));
        await store.suspend(suspension('acme'));
        await store.scheduleWindow(window('ex', T0, T0 + 1_000, { org: 'globex' }));

        for (let i = 0; i < 5; i++) {
          const refused = [
            await store.check({ subject: 'alice', now: T0 }),
            await store.check({ subject: 'bob', jti: 'bad-token', now: T0 }),
            await store.check({ subject: 'bob', org: 'acme', now: T0 }),
            await store.check({ subject: 'bob', org: 'globex', now: T0 }),
          ];
          for (const r of refused) {
            expect(r.subjectRevoked ?? r.tokenRevoked ?? r.suspended).toBeDefined();
            // what the limit would say, without counting this request
            expect(r.rateLimit).toEqual({ allowed: true, limit: 2, remaining: 2, resetMs: 1_000 });
          }
        }
        expect(await store.rateLimitState('alice', T0)).toEqual({
          subject: { allowed: true, limit: 2, remaining: 2, resetMs: 1_000 },
          global: { allowed: true, limit: 2, remaining: 2, resetMs: 1_000 },
        });
        expect(await store.rateLimitState('bob', T0)).toEqual({
          subject: { allowed: true, limit: 2, remaining: 2, resetMs: 1_000 },
          global: { allowed: true, limit: 2, remaining: 2, resetMs: 1_000 },
        });
      });

      it('a request refused by the rate limit consumes nothing either', async () => {
        const store = await open({ perSubject: 1, global: 3, windowMs: 1_000 });
        await store.check({ subject: 'alice', now: T0 });
        for (let i = 0; i < 5; i++) {
          expect((await store.check({ subject: 'alice', now: T0 })).rateLimit.allowed).toBe(false);
        }
        // alice's refused attempts did not eat the global budget
        expect((await store.rateLimitState('bob', T0)).global).toEqual({ allowed: true, limit: 3, remaining: 2, resetMs: 1_000 });
        expect((await store.check({ subject: 'bob', now: T0 })).rateLimit.allowed).toBe(true);
        expect((await store.check({ subject: 'carol', now: T0 })).rateLimit.allowed).toBe(true);
      });

      it('a revoked subject that is already over its limit is reported as such, still without consuming', async () => {
        const store = await open({ perSubject: 1, global: 0, windowMs: 1_000 });
        await store.check({ subject: 'alice', now: T0 });
        await store.revoke(revocation('subject', 'alice'));
        const result = await store.check({ subject: 'alice', now: T0 });
        expect(result.subjectRevoked?.id).toBe('alice');
        expect(result.rateLimit).toEqual({ allowed: false, scope: 'subject', limit: 1, remaining: 0, resetMs: 1_000 });
      });

      it('accepts a fractional now', async () => {
        const store = await open({ perSubject: 2, global: 2, windowMs: 1_000 });
        expect((await store.check({ subject: 'alice', now: T0 + 0.5 })).rateLimit).toEqual({
          allowed: true,
          limit: 2,
          remaining: 1,
          resetMs: 999.5,
        });
      });

      it('rateLimitState reports subject and global counters without consuming', async () => {
        const store = await open({ perSubject: 3, global: 5, windowMs: 1_000 });
        await store.check({ subject: 'alice', now: T0 + 400 });
        await store.check({ subject: 'alice', now: T0 + 400 });
        await store.check({ subject: 'bob', now: T0 + 400 });

        const expected = {
          subject: { allowed: true, limit: 3, remaining: 1, resetMs: 600 },
          global: { allowed: true, limit: 5, remaining: 2, resetMs: 600 },
        };
        expect(await store.rateLimitState('alice', T0 + 400)).toEqual(expected);
        expect(await store.rateLimitState('alice', T0 + 400)).toEqual(expected);
        expect(await store.rateLimitState('nobody', T0 + 400)).toEqual({
          subject: { allowed: true, limit: 3, remaining: 3, resetMs: 600 },
          global: expected.global,
        });

        await store.check({ subject: 'alice', now: T0 + 400 });
        expect((await store.rateLimitState('alice', T0 + 400)).subject).toEqual({
          allowed: false,
          scope: 'subject',
          limit: 3,
          remaining: 0,
          resetMs: 600,
        });
      });
    });

    describe('change notifications', () => {
      it('calls listeners after every mutation that changed something, with the change visible', async () => {
        const store = await open();
        let calls = 0;
        const seen: boolean[] = [];
        store.onChange(() => {
          calls++;
        });
        store.onChange(() => {
          // by the time a listener runs, a reader sees the new state
          void store.listSuspensions().then((s) => seen.push(s.length > 0));
        });

        await store.revoke(revocation('subject', 'alice'));
        expect(calls).toBe(1);
        await store.unrevoke('subject', 'alice');
        expect(calls).toBe(2);
        await store.suspend(suspension());
        expect(calls).toBe(3);
        await store.resume();
        expect(calls).toBe(4);
        await store.scheduleWindow(window('w', T0, T0 + 1));
        expect(calls).toBe(5);
        await store.cancelWindow('w');
        expect(calls).toBe(6);

        // nothing to undo: no change, no notification
        expect(await store.unrevoke('subject', 'alice')).toBe(false);
        expect(await store.resume('acme')).toBe(false);
        expect(await store.cancelWindow('w')).toBe(false);
        expect(calls).toBe(6);

        await expect.poll(() => seen.length).toBe(6);
        expect(seen[2]).toBe(true); // after suspend
        expect(seen[3]).toBe(false); // after resume
      });

      it('checks and listings are not mutations', async () => {
        const store = await open();
        let calls = 0;
        store.onChange(() => calls++);
        await store.check({ subject: 'alice', now: T0 });
        await store.listRevocations(T0);
        await store.listSuspensions();
        await store.listWindows(T0);
        await store.rateLimitState('alice', T0);
        expect(calls).toBe(0);
      });

      it('stops calling a listener after unsubscribe, and survives a throwing listener', async () => {
        const store = await open();
        let kept = 0;
        let dropped = 0;
        store.onChange(() => {
          throw new Error('broken listener');
        });
        store.onChange(() => kept++);
        const unsubscribe = store.onChange(() => dropped++);

        await store.suspend(suspension());
        unsubscribe();
        await store.resume();
        expect(kept).toBe(2);
        expect(dropped).toBe(1);
      });
    });

    describe('close', () => {
      it('after close, health is not ok and operations reject', async () => {
        const store = await makeStore(ROOMY);
        await store.close();
        expect(store.health().ok).toBe(false);
        await expect(store.check({ subject: 'alice', now: T0 })).rejects.toMatchObject({ name: 'StateUnavailableError' });
        await expect(store.revoke(revocation('subject', 'alice'))).rejects.toMatchObject({ name: 'StateUnavailableError' });
      });
    });
  });
}
