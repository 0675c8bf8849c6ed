// Counts of security cases run per threat class and of generated inputs, shared across vitest worker processes.
//
// Each test file runs in a worker forked from the vitest main process, so every worker appends to one JSON-lines
// file named after its parent's pid; whoever prints the summary (in the main process, e.g. a global teardown) reads
// it with readSummary(process.pid). Appends are single small writes, so lines from parallel workers do not mix.

import { appendFileSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface SummaryLine {
  kind: 'cases' | 'generated';
  className?: string;
  n: number;
  /** the worker that wrote the line */
  pid: number;
}

export interface Summary {
  /** cases run per threat class name, e.g. { '1 path confusion': 87 } */
  cases: Record<string, number>;
  /** generated inputs (property tests) */
  generated: number;
  /** total of all cases */
  totalCases: number;
}

/** The summary file of the vitest run whose main process has id `pid` (a worker's parent by default). */
export function summaryFile(pid: number = process.ppid): string {
  return join(tmpdir(), `metagate-security-summary-${pid}.jsonl`);
}

function append(line: SummaryLine): void {
  if (!Number.isInteger(line.n) || line.n < 0) throw new Error(`summary: count must be a non-negative integer, got ${line.n}`);
  appendFileSync(summaryFile(), JSON.stringify(line) + '\n');
}

/** Record that `n` cases of a threat class ran (call it where the cases run, not where they are declared). */
export function recordCases(className: string, n: number): void {
  append({ kind: 'cases', className, n, pid: process.pid });
}

/** Record that `n` generated inputs were checked by a property test. */
export function recordGenerated(n: number): void {
  append({ kind: 'generated', n, pid: process.pid });
}

/** Sum the lines written for the run whose main process is `pid` (defaults to the caller's own pid). */
export function readSummary(pid: number = process.pid): Summary {
  let text = '';
  try {
    text = readFileSync(summaryFile(pid), 'utf8');
  } catch {
    return { cases: {}, generated: 0, totalCases: 0 };
  }
  const out: Summary = { cases: {}, generated: 0, totalCases: 0 };
  for (const raw of text.split('\n')) {
    if (!raw) continue;
    let line: SummaryLine;
    try {
      line = JSON.parse(raw) as SummaryLine;
    } catch {
      continue; // a torn line from a crashed worker is not worth failing the summary for
    }
    if (line.kind === 'generated') out.generated += line.n;
    else if (line.kind === 'cases' && typeof line.className === 'string') {
      out.cases[line.className] = (out.cases[line.className] ?? 0) + line.n;
      out.totalCases += line.n;
    }
  }
  return out;
}

/** Remove the summary file of a run (the printer calls this after printing). */
export function clearSummary(pid: number = process.pid): void {
  rmSync(summaryFile(pid), { force: true });
}

/** Threat class names as used by the security tests (DESIGN §6), so printed counts line up. */
export const CLASS = Object.freeze({
  path: '1 path confusion',
  method: '2 method confusion',
  header: '3 header tricks',
  smuggling: '4 smuggling and parser edge cases',
  token: '5 token attacks',
  claim: '6 claim attacks',
  responseLeaks: '7 response leaks',
  authenticateUnit: 'unit: authenticate',
  claimsUnit: 'unit: claims',
  canonicaliseUnit: 'unit: canonicalise',
  matchUnit: 'unit: match',
  screenUnit: 'unit: screen',
});
