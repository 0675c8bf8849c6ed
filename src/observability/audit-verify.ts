// `metagate audit verify`: re-compute the hash chain over one or more audit files and name the first broken link.

import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { CHAIN_MARKER, GENESIS, chainHash, chainOf } from './audit.js';

export interface VerifyReport {
  ok: boolean;
  records: number;
  message: string;
  /** 1-based line of the first problem, with its file */
  firstBroken?: { file: string; line: number; problem: string };
  /** sequence number of the first verified record (1 when the files start at genesis) */
  firstSeq?: number;
  /** chain position of the last verified record: compare it with an anchor kept elsewhere to detect truncation */
  last?: { seq: number; hash: string };
}

/** Files are verified in the order given, as one chain (a rotated trail is passed oldest first). */
export async function verifyAuditFiles(files: string[]): Promise<VerifyReport> {
  let prev: string | null = null;
  let prevSeq = 0;
  let firstSeq: number | undefined;
  let records = 0;
  const position = () => ({ ...(firstSeq !== undefined ? { firstSeq } : {}), ...(prev !== null ? { last: { seq: prevSeq, hash: prev } } : {}) });
  for (const file of files) {
    let lineNo = 0;
    const rl = createInterface({ input: createReadStream(file, 'utf8'), crlfDelay: Infinity });
    try {
      for await (const line of rl) {
        lineNo++;
        if (line.length === 0) continue;
        const fail = (problem: string): VerifyReport => ({
          ok: false,
          records,
          message: `BROKEN at ${file}:${lineNo}: ${problem} (${records} records verified before it)`,
          firstBroken: { file, line: lineNo, problem },
          ...position(),
        });
        const at = line.lastIndexOf(CHAIN_MARKER);
        if (at === -1) return fail('record has no chain fields');
        const chain = chainOf(line);
        if (!chain) return fail('chain fields are not valid JSON');
        const body = line.slice(0, at);
        try {
          JSON.parse(`${body}}`);
        } catch {
          return fail('record is not valid JSON');
        }
        if (prev === null) {
          // the first record of the first file: genesis, or the continuation of an older (rotated) segment
          if (chain.seq === 1 && chain.prev !== GENESIS) return fail('first record claims sequence 1 but does not start from genesis');
          if (chain.prev === GENESIS && chain.seq !== 1) return fail(`record starts from genesis but claims sequence ${chain.seq}`);
          firstSeq = chain.seq;
        } else {
          if (chain.prev !== prev) return fail(`previous-hash link broken: a record before this one was removed, inserted or altered (expected prev ${prev.slice(0, 12)}…)`);
          if (chain.seq !== prevSeq + 1) return fail(`sequence jumps from ${prevSeq} to ${chain.seq}: records are missing`);
        }
        const expect = chainHash(chain.prev, chain.seq, body);
        if (expect !== chain.hash) return fail('record content does not match its hash: it was altered');
        prev = chain.hash;
        prevSeq = chain.seq;
        records++;
      }
    } catch (err) {
      return { ok: false, records, message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`, ...position() };
    } finally {
      rl.close();
    }
  }
  if (prev === null) return { ok: true, records: 0, message: 'OK: no records' };
  const span = `seq ${firstSeq}–${prevSeq}, last hash ${prev.slice(0, 16)}…`;
  const continues = firstSeq !== 1 ? `; the first record continues an earlier segment (not checked here: pass the older file(s) first to check that link)` : '';
  return { ok: true, records, message: `OK: ${records} records, chain intact (${span})${continues}`, ...position() };
}
