// Keeps one of Node's own process.nextTick entries alive for the life of the process, so that V8 never forgets the
// hidden class (map) all of them share and never falls back to its slow path for creating them.
//
// Why (docs/performance.md, fourteenth pass): Node builds every nextTick entry with an object literal whose first
// keys are symbols ({ [async_id_symbol]: …, [trigger_async_id_symbol]: …, callback, args }). V8 records, per literal,
// the one map it saw each symbol key added to. Maps are held weakly: when a full garbage collection finds no entry
// alive (the queue is empty most of the time) the maps die, the next entry builds new ones, and V8 marks that literal
// megamorphic for good — from then on every nextTick in the process (Node's streams call it several times per
// request) adds its keys through the runtime, ≈ 3–7 % of the CPU of a proxy under load. Whether that happens, and when,
// depends on where the first few full collections fall: one of several identical processes pays it and the others do
// not. Holding one real entry keeps its map, and the chain of maps back to the plain object's, alive.

import { createHook } from 'node:async_hooks';

let held: object | undefined;

function noop(): void {}

/**
 * Captures one nextTick entry (once per process) through an async_hooks init hook that is enabled only around a
 * single process.nextTick call, and keeps it. Returns the entry; undefined when this Node does not report one (the
 * gateway works the same either way). Safe to call more than once.
 */
export function holdTickObjectShape(): object | undefined {
  if (held !== undefined) return held;
  const hook = createHook({
    init(_asyncId, type, _triggerAsyncId, resource) {
      if (type === 'TickObject' && held === undefined) held = resource as object;
    },
  });
  hook.enable();
  try {
    process.nextTick(noop);
  } finally {
    hook.disable();
  }
  return held;
}
