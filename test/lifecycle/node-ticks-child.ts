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

const first = holdTickObjectShape();
const firstRef = first === undefined ? undefined : new WeakRef(first);
const symbols = first === undefined ? [] : Object.getOwnPropertySymbols(first).map((s) => s.description);
const keys = first === undefined ? [] : Object.keys(first);
// nothing here keeps the entry but the module: the test's own reference is weak
const before = first === undefined ? false : sameMap(await freshTickObject(), first);
fullCollections();
const again = holdTickObjectShape();
const retained = firstRef !== undefined && firstRef.deref() === again;
const after = again === undefined ? false : sameMap(await freshTickObject(), again);
process.stdout.write(`${JSON.stringify({ symbols, keys, before, retained, after })}\n`);
