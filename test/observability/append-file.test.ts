// The audit trail's file (src/observability/append-file.ts): every append is complete when write() returns, a file
// that cannot be opened or written reports 'error' and takes nothing, reopen follows a rename, destroy ends it.

import { existsSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { AppendFile } from '../../src/observability/append-file.js';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'metagate-append-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const nextTick = () => new Promise((r) => process.nextTick(r));

describe('AppendFile', () => {
  test('creates missing directories, appends to what is there, and each write is in the file when it returns', () => {
    const file = join(dir, 'a', 'b', 'trail.jsonl');
    const f = new AppendFile(file);
    const written: number[] = [];
    f.on('write', (n: number) => written.push(n));
    expect(f.write('one\n')).toBe(true);
    expect(readFileSync(file, 'utf8')).toBe('one\n');
    // bytes, not UTF-16 units: 'é' is two bytes, '😀' four
    expect(f.write('é😀\n')).toBe(true);
    expect(written).toEqual([4, 7]);
    f.destroy();
    const g = new AppendFile(file);
    g.write('two\n');
    g.destroy();
    expect(readFileSync(file, 'utf8')).toBe('one\né😀\ntwo\n');
  });

  test('a large append arrives whole', () => {
    const file = join(dir, 'large.jsonl');
    const f = new AppendFile(file);
    const text = `${'x'.repeat(3 * 1024 * 1024)}\n`;
    expect(f.write(text)).toBe(true);
    f.destroy();
    expect(readFileSync(file, 'utf8')).toBe(text);
  });

  test('a path that cannot be opened: error on the next tick, and writes take nothing', async () => {
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const f = new AppendFile(join(blocker, 'trail.jsonl'));
    const errors: NodeJS.ErrnoException[] = [];
    f.on('error', (e: NodeJS.ErrnoException) => errors.push(e));
    expect(errors).toHaveLength(0);
    await nextTick();
    // mkdir finds a file where the directory should be
    expect(errors.map((e) => e.code)).toEqual(['EEXIST']);
    expect(f.fd).toBe(-1);
    expect(f.write('lost\n')).toBe(false);
    f.destroy();
  });

  test('a write the device refuses (ENOSPC) emits error and returns false', () => {
    if (!existsSync('/dev/full')) throw new Error('/dev/full is needed for this test');
    const f = new AppendFile('/dev/full');
    const errors: NodeJS.ErrnoException[] = [];
    f.on('error', (e: NodeJS.ErrnoException) => errors.push(e));
    const written: number[] = [];
    f.on('write', (n: number) => written.push(n));
    expect(f.write('record\n')).toBe(false);
    expect(errors.map((e) => e.code)).toEqual(['ENOSPC']);
    expect(written).toEqual([]);
    f.destroy();
  });

  test('reopen after a rename writes to a new file at the path', () => {
    const file = join(dir, 'rotate.jsonl');
    const f = new AppendFile(file);
    f.write('old\n');
    renameSync(file, `${file}.1`);
    f.write('still old\n');
    f.reopen();
    f.write('new\n');
    f.destroy();
    expect(readFileSync(`${file}.1`, 'utf8')).toBe('old\nstill old\n');
    expect(readFileSync(file, 'utf8')).toBe('new\n');
  });

  test('destroy closes the file, emits close once, and later writes throw', async () => {
    const file = join(dir, 'destroy.jsonl');
    const f = new AppendFile(file);
    let closes = 0;
    f.on('close', () => closes++);
    f.destroy();
    f.end();
    expect(f.destroyed).toBe(true);
    expect(f.fd).toBe(-1);
    expect(() => f.write('x\n')).toThrow(/closed/);
    await nextTick();
    expect(closes).toBe(1);
  });
});
