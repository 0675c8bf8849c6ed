// The process keeps one nextTick entry, so V8 keeps the map every entry shares through full garbage collections.

import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHILD = fileURLToPath(new URL('./node-ticks-child.ts', import.meta.url));

function runChild(): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    execFile(
      process.execPath,
      ['--allow-natives-syntax', '--expose-gc', '--import', 'tsx', CHILD],
      { cwd: ROOT, timeout: 60_000 },
      (err, stdout, stderr) => {
        if (err) return reject(new Error(`child failed: ${err.message}\n${stderr}`));
        resolve(JSON.parse(stdout.trim()) as Record<string, unknown>);
      },
    );
  });
}

describe('holdTickObjectShape', () => {
  it('holds a real nextTick entry for the life of the process, and new entries keep its map through full collections', async () => {
    const r = await runChild();
    // the entry Node builds in process.nextTick (Node 24 adds its async context frame)
    expect(r.symbols).toEqual(expect.arrayContaining(['async_id_symbol', 'trigger_async_id_symbol']));
    expect(r.keys).toEqual(['callback', 'args']);
    expect(r.before).toBe(true);
    // the module still holds the same object after three full collections in which only a weak reference pointed to it
    expect(r.retained).toBe(true);
    expect(r.after).toBe(true);
  }, 60_000);
});
