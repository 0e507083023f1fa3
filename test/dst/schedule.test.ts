import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { dropFraction, isUpdateStep, tEndFromFraction } from '../../src/dst/schedule.js';

describe('isUpdateStep', () => {
  test('multiples of ΔT strictly between 0 and T_end', () => {
    const opts = { deltaT: 100, tEnd: 750 };
    const updates = Array.from({ length: 1001 }, (_, s) => s).filter((s) => isUpdateStep(s, opts));
    assert.deepEqual(updates, [100, 200, 300, 400, 500, 600, 700]);
  });
  test('ΔT defaults to 100 and T_end itself is excluded', () => {
    assert.equal(isUpdateStep(100, { tEnd: 1000 }), true);
    assert.equal(isUpdateStep(50, { tEnd: 1000 }), false);
    assert.equal(isUpdateStep(1000, { tEnd: 1000 }), false);
    assert.equal(isUpdateStep(0, { tEnd: 1000 }), false);
  });
  test('bad arguments', () => {
    assert.throws(() => isUpdateStep(-1, { tEnd: 10 }), /step must be a non-negative integer/);
    assert.throws(() => isUpdateStep(1, { tEnd: 10, deltaT: 0 }), /deltaT must be a positive integer/);
  });
});

describe('dropFraction', () => {
  test('cosine from α at 0 through α/2 at T_end/2 to 0 at T_end', () => {
    assert.equal(dropFraction(0, { tEnd: 1000 }), 0.3);
    assert.ok(Math.abs(dropFraction(500, { tEnd: 1000 }) - 0.15) < 1e-12);
    assert.ok(Math.abs(dropFraction(250, { alpha: 0.5, tEnd: 1000 }) - 0.25 * (1 + Math.SQRT1_2)) < 1e-12);
    assert.equal(dropFraction(1000, { tEnd: 1000 }), 0);
    assert.equal(dropFraction(5000, { tEnd: 1000 }), 0);
  });
  test('monotone non-increasing', () => {
    let prev = Infinity;
    for (let s = 0; s <= 300; s++) {
      const f = dropFraction(s, { tEnd: 300 });
      assert.ok(f <= prev);
      prev = f;
    }
  });
  test('alpha out of range', () => {
    assert.throws(() => dropFraction(0, { alpha: 1.5, tEnd: 10 }), /alpha must be in \[0, 1\]/);
  });
});

test('tEndFromFraction defaults to 75%', () => {
  assert.equal(tEndFromFraction(1000), 750);
  assert.equal(tEndFromFraction(999, 0.5), 499);
});
