import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { integerText } from '../../src/observability/number-text.js';

describe('integerText', () => {
  it.each([
    0, -0, 1, 9, 10, 99, 100, 999, 1000, 1001, 1010, 1100, 9999, 10000, 100000, 999999, 1000000, 1000001, 7567974,
    123456789, 1e9, 1e12 - 1, 1e12, 2 ** 31 - 1, 2 ** 31, 2 ** 32, Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER - 999,
  ])('writes %d as String() does', (n) => {
    expect(integerText(n)).toBe(String(n));
  });

  it.each([-1, -1000, -7567974, 0.5, 1.25, 1e-7, 2 ** 53, 2 ** 53 + 2, 1e21, 1.5e300, Number.NaN, Infinity, -Infinity, Number.MIN_VALUE])(
    'writes %d, not a safe integer ≥ 0, as String() does',
    (n) => {
      expect(integerText(n)).toBe(String(n));
    },
  );

  it('agrees with String() on generated numbers', () => {
    fc.assert(
      fc.property(fc.oneof(fc.maxSafeNat(), fc.nat({ max: 2_000_000 }), fc.integer(), fc.double()), (n) => {
        expect(integerText(n)).toBe(String(n));
      }),
      { numRuns: 5000 },
    );
  });
});
