import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { claim, parseSweepArgs, sweepConfigs } from '../../bench/accuracy.js';

function tmp(): string {
  return mkdtempSync(join(tmpdir(), 'srigl-sweep-'));
}

test('claim: the first claim wins, a live holder is reported, a lock is released by removal', () => {
  const dir = tmp();
  try {
    const lock = join(dir, 'x.lock');
    assert.equal(claim(lock), null);
    const held = JSON.parse(readFileSync(lock, 'utf8')) as { pid: number; host: string };
    assert.equal(held.pid, process.pid);
    assert.equal(held.host, hostname());
    // This process is alive, so a second claim (as another worker would make) is refused.
    const again = claim(lock);
    assert.match(again ?? '', new RegExp(`pid ${process.pid} on `));
    rmSync(lock);
    assert.equal(claim(lock), null);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('claim: a lock left by a dead process on this host is taken over; one from another host is not', () => {
  const dir = tmp();
  try {
    const lock = join(dir, 'y.lock');
    // pid_max on Linux is at most 2^22, so this pid cannot exist.
    writeFileSync(lock, JSON.stringify({ pid: 2 ** 22 + 7, host: hostname(), since: 'earlier' }));
    assert.equal(claim(lock), null);
    assert.equal((JSON.parse(readFileSync(lock, 'utf8')) as { pid: number }).pid, process.pid);
    writeFileSync(lock, JSON.stringify({ pid: 1, host: 'some-other-machine', since: 'earlier' }));
    assert.match(claim(lock) ?? '', /some-other-machine/);
    // A garbled lock (a writer killed mid-write) is stale, not a reason to skip forever.
    writeFileSync(lock, '{"pid": 12');
    assert.equal(claim(lock), null);
    assert.ok(existsSync(lock));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

test('sweep options: --jobs is parsed and validated; the grid has 25 configurations per model', () => {
  const o = parseSweepArgs(['--models', 'cnn', '--jobs', '2', '--threads', '1']);
  assert.equal(o.jobs, 2);
  assert.equal(o.threads, 1);
  assert.equal(parseSweepArgs([]).jobs, 1);
  assert.throws(() => parseSweepArgs(['--jobs', '0']), /--jobs: bad value 0/);
  const grid = sweepConfigs(o);
  // dense + 5 methods × 4 sparsities for seed 0, then dense + 5 methods at 0.9 for seed 1.
  assert.equal(grid.length, 1 + 20 + 1 + 5);
  assert.equal(new Set(grid.map((c) => c.id)).size, grid.length);
  assert.ok(grid.every((c) => c.id.startsWith('cnn_') && c.id.endsWith('_w1')));
});
