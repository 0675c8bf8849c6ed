// Vitest global setup: after the whole run, print the security suite's summary (cases per threat class, generated
// inputs) from the counts the security tests recorded. Every case asserts no leak, no forbidden upstream hit and no
// wrong allow; one violation fails its test and the run, so a green run printing this summary had zero of each.

import { clearSummary, readSummary } from './security/summary.js';

export function setup(): void {
  clearSummary(process.pid);
}

export function teardown(): void {
  const s = readSummary(process.pid);
  const lines = Object.entries(s.cases).sort(([a], [b]) => a.localeCompare(b));
  const width = Math.max(10, ...lines.map(([k]) => k.length));
  process.stdout.write('\nSecurity suite summary (DESIGN §6 classes)\n');
  for (const [k, n] of lines) process.stdout.write(`  ${k.padEnd(width)}  ${String(n).padStart(6)} cases\n`);
  process.stdout.write(`  ${'total'.padEnd(width)}  ${String(s.totalCases).padStart(6)} cases, ${s.generated} generated inputs\n`);
  process.stdout.write('  leaks, forbidden upstream hits, wrong allows: each case asserts none (a violation fails the run)\n\n');
  clearSummary(process.pid);
}
