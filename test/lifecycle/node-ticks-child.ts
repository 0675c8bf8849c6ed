// Child process of node-ticks.test.ts, run with --allow-natives-syntax --expose-gc: prints what it found as JSON.

import { executionAsyncResource } from 'node:async_hooks';
import { holdTickObjectShape } from '../../src/node-ticks.js';

// V8 intrinsics are only parsed with --allow-natives-syntax, so they are compiled here, at run time
const sameMap = new Function('a', 'b', 'return %HaveSameMap(a, b)') as (a: object, b: object) => boolean;
const gc = (globalThis as { gc?: () => void }).gc;
if (gc === undefined) throw new Error('run with --expose-gc');

/** the entry process.nextTick made for the callback that is running (sets a flag in Node that only this child pays for) */
function freshTickObject(): Promise<object> {
  return new Promise((resolve) => process.nextTick(() => resolve(executionAsyncResource())));
}

function fullCollections(): void {
  for (let i = 0; i < 3; i++) {
    // garbage in both generations, so that every collection has something to free
    let junk: object[] = [];
    for (let j = 0; j < 50_000; j++) junk.push({ j });
    junk = [];
    gc!();
  }
}

/** the first call, in a frame of its own: afterwards only the module (and a weak reference) can keep the entry */
async function firstLook(): Promise<{ ref?: WeakRef<object>; symbols: (string | undefined)[]; keys: string[]; before: boolean }> {
  const first = holdTickObjectShape();
  if (first === undefined) return { symbols: [], keys: [], before: false };
  return {
    ref: new WeakRef(first),
    symbols: Object.getOwnPropertySymbols(first).map((s) => s.description),
    keys: Object.keys(first),
    before: sameMap(await freshTickObject(), first),
  };
}

const { ref, symbols, keys, before } = await firstLook();
fullCollections();
// cleared by the collections unless the module kept the entry
const survivor = ref?.deref();
const again = holdTickObjectShape();
const retained = survivor !== undefined && survivor === again;
const after = again === undefined ? false : sameMap(await freshTickObject(), again);
process.stdout.write(`${JSON.stringify({ symbols, keys, before, retained, after })}\n`);
