import { test } from 'node:test';
import assert from 'node:assert/strict';
import { lrSchedule } from '../../src/train/schedule.js';

const close = (a: number, b: number, what: string): void => assert.ok(Math.abs(a - b) < 1e-12, `${what}: ${a} vs ${b}`);

test('constant schedule', () => {
  const f = lrSchedule({ kind: 'constant', lr: 0.05, totalSteps: 10 });
  for (const s of [0, 5, 9, 20]) assert.equal(f(s), 0.05);
});

test('cosine starts at lr, halves midway and reaches 0 at totalSteps', () => {
  const f = lrSchedule({ kind: 'cosine', lr: 0.1, totalSteps: 100 });
  close(f(0), 0.1, 'step 0');
  close(f(50), 0.05, 'midway');
  close(f(100), 0, 'end');
  for (let s = 1; s <= 100; s++) assert.ok(f(s) <= f(s - 1), `not decreasing at ${s}`);
});

test('linear warm-up then cosine over the remaining steps', () => {
  const f = lrSchedule({ kind: 'cosine', lr: 0.2, totalSteps: 110, warmupSteps: 10 });
  close(f(0), 0.02, 'first warm-up step');
  close(f(4), 0.1, 'warm-up midway');
  close(f(10), 0.2, 'peak after warm-up');
  close(f(60), 0.1, 'cosine midway');
  close(f(110), 0, 'end');
});

test('step schedule multiplies by gamma at each milestone, after warm-up', () => {
  const f = lrSchedule({ kind: 'step', lr: 1, totalSteps: 100, gamma: 0.5, milestones: [30, 60], warmupSteps: 5 });
  close(f(0), 0.2, 'warm-up');
  close(f(29), 1, 'before the first milestone');
  close(f(30), 0.5, 'first milestone');
  close(f(60), 0.25, 'second milestone');
});

test('bad schedule options throw naming the option', () => {
  assert.throws(() => lrSchedule({ lr: 0.1, totalSteps: 0 }), /totalSteps/);
  assert.throws(() => lrSchedule({ lr: NaN, totalSteps: 5 }), /lr/);
  assert.throws(() => lrSchedule({ lr: 0.1, totalSteps: 5, warmupSteps: -1 }), /warmupSteps/);
});
