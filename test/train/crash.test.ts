import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { latestCheckpoint, listCheckpoints, readCheckpoint } from '../../src/io/checkpoint.js';
import { readSafetensors } from '../../src/io/safetensors.js';
import { Rng } from '../../src/tensor/rng.js';
import { repoRoot, SUBSET } from '../paths.js';

const CLI = join(repoRoot(), 'dist', 'src', 'cli', 'main.js');
/** 128 examples in batches of 16 for 30 epochs: 240 steps, a checkpoint every 3, SRigL updates every 5. */
const RUN = ['train', '--data', SUBSET, '--limit-train', '128', '--limit-test', '32', '--batch-size', '16', '--epochs', '30', '--method', 'srigl', '--delta-t', '5', '--seed', '4'];
const OPS = ['--checkpoint-every', '3', '--keep-checkpoints', '2', '--quiet', '--threads', '1'];
const LANES = Number(process.env.CRASH_LANES ?? 10);
const KILLS_PER_LANE = Number(process.env.CRASH_KILLS ?? 5);

function start(args: string[]): { child: ChildProcess; exited: Promise<number | null>; stderr: () => string } {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr?.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, exited, stderr: () => err };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Every checkpoint file in `dir` reads back whole; returns the newest step (0 when none). */
function checkAll(dir: string): number {
  const list = listCheckpoints(dir);
  for (const c of list) readCheckpoint(c.path);
  return list.at(-1)?.step ?? 0;
}

/**
 * One lane: start the run, and KILLS_PER_LANE times SIGKILL it at a random moment (mostly just
 * after a new checkpoint appeared, sometimes anywhere from start-up on; the first run always
 * after its first checkpoint), each time checking that
 * every checkpoint left behind loads and that the next `--resume` picks up from the newest.
 * Then let a resume finish. Returns the kills delivered.
 */
async function lane(dir: string, rng: Rng): Promise<number> {
  let kills = 0;
  let last = 0;
  for (let i = 0; i < KILLS_PER_LANE; i++) {
    const p = start(i === 0 ? [...RUN, '--out', dir, ...OPS] : ['train', '--resume', dir, ...OPS]);
    let done = false;
    p.exited.then(() => (done = true));
    if (i > 0 && rng.uniform() < 0.25) {
      await sleep(rng.int(1500));
    } else {
      // Wait for a checkpoint newer than the last one, then a little more.
      while (!done && (listCheckpoints(dir).at(-1)?.step ?? 0) <= last) await sleep(5);
      await sleep(rng.int(200));
    }
    if (done) {
      assert.equal(await p.exited, 0, `lane ${dir}: run exited early:\n${p.stderr()}`);
      break;
    }
    p.child.kill('SIGKILL');
    await p.exited;
    kills++;
    const newest = checkAll(dir);
    assert.ok(newest >= last, `the newest checkpoint went back from ${last} to ${newest}`);
    if (newest > 0) assert.equal(latestCheckpoint(dir, (m) => assert.fail(m))?.step, newest);
    assert.ok(newest > 0, 'a checkpoint exists after the first kill');
    last = newest;
  }
  const finish = start(['train', '--resume', dir, ...OPS]);
  assert.equal(await finish.exited, 0, `the final resume failed:\n${finish.stderr()}`);
  // metrics.jsonl holds every epoch once, in order, and wall time counts across the sessions.
  const logged = readFileSync(join(dir, 'metrics.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as { epoch: number; wallSeconds: number });
  assert.deepEqual(logged.map((m) => m.epoch), Array.from({ length: 30 }, (_, i) => i + 1), `lane ${dir}: epochs logged`);
  for (let e = 1; e < logged.length; e++) {
    assert.ok(logged[e].wallSeconds > logged[e - 1].wallSeconds, `lane ${dir}: wallSeconds went from ${logged[e - 1].wallSeconds} at epoch ${e} to ${logged[e].wallSeconds} at epoch ${e + 1} (a resume restarted the clock)`);
  }
  // The curves plot every epoch, those of earlier sessions included.
  const curve = /<polyline points="([^"]*)"/.exec(readFileSync(join(dir, 'curves.svg'), 'utf8'));
  assert.equal(curve?.[1].split(' ').length, 30);
  return kills;
}

test(`crash safety: ${LANES * KILLS_PER_LANE} SIGKILLs of \`srigl train\` at random moments; every checkpoint loads, resumes continue, and the result is bit-identical to an uninterrupted run`, async (t) => {
  if (!existsSync(CLI)) return t.skip(`${CLI} is missing; build with \`npx tsc -p tsconfig.json\` first`);
  const root = mkdtempSync(join(tmpdir(), 'srigl-crash-'));
  try {
    const seed = Number(process.env.SRIGL_TEST_SEED ?? Date.now() % 100000);
    t.diagnostic(`seed ${seed} (SRIGL_TEST_SEED to repeat)`);
    const straight = start([...RUN, '--out', join(root, 'straight'), ...OPS]);
    const lanes = await Promise.all(Array.from({ length: LANES }, (_, i) => lane(join(root, `lane${i}`), new Rng(seed + i))));
    assert.equal(await straight.exited, 0, straight.stderr());
    const kills = lanes.reduce((a, k) => a + k, 0);
    assert.ok(kills >= 50, `only ${kills} kills landed before the runs finished`);
    const reference = readSafetensors(join(root, 'straight', 'model.safetensors')).tensors;
    for (let i = 0; i < LANES; i++) {
      const got = readSafetensors(join(root, `lane${i}`, 'model.safetensors')).tensors;
      assert.deepEqual([...got.keys()], [...reference.keys()]);
      for (const [name, ref] of reference) {
        const a = Buffer.from(ref.data.buffer, ref.data.byteOffset, ref.data.byteLength);
        const g = got.get(name)!.data;
        assert.ok(a.equals(Buffer.from(g.buffer, g.byteOffset, g.byteLength)), `lane ${i}: ${name} differs from the uninterrupted run`);
      }
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
