// Review 9 (F70): the file path appends synchronously (append-file.ts). A destination path that is a pipe — a FIFO, or
// /dev/stdout given as a path — then blocked the event loop for as long as the pipe's reader was slow; stdout is
// written asynchronously for exactly that reason.

import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect, test } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');

test('a destination path that is a full pipe does not block the event loop', () => {
  const dir = mkdtempSync(join(tmpdir(), 'metagate-audit-pipe-'));
  try {
    const script = join(dir, 'pipe.mts');
    writeFileSync(
      script,
      [
        `const { AuditTrail } = await import(${JSON.stringify(join(ROOT, 'src/observability/audit.ts'))});`,
        `const trail = new AuditTrail({ destination: '/dev/stdout' });`,
        `let last = Date.now(); let maxLag = 0;`,
        `const iv = setInterval(() => { const n = Date.now(); maxLag = Math.max(maxLag, n - last - 10); last = n; }, 10);`,
        `for (let turn = 0; turn < 20; turn++) {`,
        `  for (let i = 0; i < 20; i++) trail.write({ turn, i, pad: 'x'.repeat(1000) });`,
        `  await new Promise((r) => setImmediate(r));`,
        `}`,
        `await new Promise((r) => setTimeout(r, 100));`,
        `clearInterval(iv);`,
        `process.stderr.write(String(maxLag));`,
        `process.exit(0);`,
      ].join('\n'),
    );
    // the pipe's reader does not read for 2 s; 400 KB of records do not fit in a pipe
    const r = spawnSync('bash', ['-c', `"$0" --import tsx "$1" | (sleep 2; cat > /dev/null)`, process.execPath, script], { cwd: ROOT, encoding: 'utf8', timeout: 20_000 });
    expect(Number(r.stderr.trim()), r.stderr).toBeLessThan(500);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

// A named pipe cannot be read back: opening one to find where the chain left off waited for a writer, so a start with
// a FIFO as the destination hung before the gateway ever listened.
test('a named pipe as the destination: the start does not wait for the pipe, and the chain starts at genesis', () => {
  const dir = mkdtempSync(join(tmpdir(), 'metagate-audit-fifo-'));
  try {
    const fifo = join(dir, 'audit.fifo');
    expect(spawnSync('mkfifo', [fifo]).status).toBe(0);
    const script = join(dir, 'fifo.mts');
    writeFileSync(
      script,
      [
        `const { AuditTrail } = await import(${JSON.stringify(join(ROOT, 'src/observability/audit.ts'))});`,
        `const trail = new AuditTrail({ destination: ${JSON.stringify(fifo)} });`,
        `process.stdout.write(JSON.stringify({ from: trail.resumedFrom, seq: trail.head.seq }));`,
        `process.exit(0);`,
      ].join('\n'),
    );
    const r = spawnSync(process.execPath, ['--import', 'tsx', script], { cwd: ROOT, encoding: 'utf8', timeout: 10_000 });
    expect(r.status, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({ from: null, seq: 0 });
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
