// Review 9 (F69): F61 for a freshly rotated file: a second start after a torn first write resumed at genesis instead of
// continuing the rotated segment's chain.

import { appendFileSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { expect, test } from 'vitest';
import { AuditTrail } from '../../src/observability/audit.js';

test('a second start after a torn first write into a freshly rotated file still continues the rotated chain', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'rev9-torn-rot-'));
  try {
    const file = join(dir, 'audit.jsonl');
    const t0 = new AuditTrail({ destination: file });
    for (let i = 0; i < 3; i++) t0.write({ i } as never);
    await t0.close();
    renameSync(file, `${file}.1`);
    // the first write into the new file was cut short (crash mid-append)
    appendFileSync(file, '{"@timestamp":"2026-01-01T00:00:00.000Z","event":{"ki');
    const t1 = new AuditTrail({ destination: file });
    const first = { from: t1.resumedFrom, seq: t1.head.seq };
    await t1.close();
    const t2 = new AuditTrail({ destination: file });
    const second = { from: t2.resumedFrom, seq: t2.head.seq };
    t2.write({ i: 99 } as never);
    await t2.close();
    expect(first.seq).toBe(3);
    expect(second.seq).toBe(3);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
