// Finds duplicate and prototype-polluting object keys in raw JSON text, which JSON.parse silently accepts.

import { shown } from '../errors.js';

/**
 * Returns a description of the first problem — a key repeated within one object (after unescaping, so "a" and
 * "\u0061" collide) or a "__proto__" key — or null when there is none. Assumes the text is otherwise parseable JSON
 * (the caller parses it too); on malformed text it returns a problem rather than guessing.
 */
export function findKeyProblem(text: string): string | null {
  const stack: Array<Set<string> | null> = []; // a Set per open object, null per open array
  let i = 0;
  const n = text.length;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      let escaped = false;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) {
          escaped = true;
          j += 2;
          continue;
        }
        if (d === 0x22) break;
        j++;
      }
      if (j >= n) return 'unterminated string';
      let k = j + 1;
      while (k < n && isWs(text.charCodeAt(k))) k++;
      if (text.charCodeAt(k) === 0x3a /* : */) {
        const keys = stack[stack.length - 1];
        if (!keys) return 'key outside an object';
        let key: string;
        try {
          key = escaped ? (JSON.parse(text.slice(i, j + 1)) as string) : text.slice(i + 1, j);
        } catch {
          return 'malformed key';
        }
        if (key === '__proto__') return 'a "__proto__" key';
        if (keys.has(key)) return `the key ${shown(key, 64)} appears twice`;
        keys.add(key);
      }
      i = j + 1;
      continue;
    }
    if (c === 0x7b /* { */) stack.push(new Set());
    else if (c === 0x5b /* [ */) stack.push(null);
    else if (c === 0x7d || c === 0x5d) {
      if (stack.length === 0) return 'unbalanced brackets';
      stack.pop();
    }
    i++;
  }
  return stack.length === 0 ? null : 'unbalanced brackets';
}

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0a || c === 0x0d;
}

const PLAIN_INTEGER_RE = /^-?\d+$/;

/**
 * Returns a description of the first number in raw JSON text that JSON.parse would turn into a whole number other
 * than the one written — a whole number written with a fraction or an exponent (`2.0`, `1e3`, and
 * `1.9999999999999999`, which parses to 2) or an integer beyond ±2^53, which it rounds — or null. Integer claims
 * (times, clearance ranks) must mean exactly what the token says. Assumes parseable JSON, like findKeyProblem.
 */
export function findNumberProblem(text: string): string | null {
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c = text.charCodeAt(i);
    if (c === 0x22 /* " */) {
      let j = i + 1;
      while (j < n) {
        const d = text.charCodeAt(j);
        if (d === 0x5c) {
          j += 2;
          continue;
        }
        if (d === 0x22) break;
        j++;
      }
      i = j + 1;
      continue;
    }
    if (c === 0x2d /* - */ || (c >= 0x30 && c <= 0x39)) {
      let j = i + 1;
      while (j < n && isNumberChar(text.charCodeAt(j))) j++;
      const literal = text.slice(i, j);
      const value = Number(literal);
      if (Number.isInteger(value) && !(PLAIN_INTEGER_RE.test(literal) && Number.isSafeInteger(value))) {
        return `${shown(literal, 32)} is read as ${Number.isSafeInteger(value) ? value : 'a rounded number'}; write integers as plain digits within ±2^53`;
      }
      i = j;
      continue;
    }
    i++;
  }
  return null;
}

function isNumberChar(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || c === 0x2e || c === 0x65 || c === 0x45 || c === 0x2b || c === 0x2d;
}
