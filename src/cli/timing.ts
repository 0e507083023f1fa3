/**
 * Timing for comparisons measured in one run on a shared, noisy machine: methods interleaved
 * round by round, medians (and minima: load only ever adds time) after warm-up.
 */
import { cpus, totalmem } from 'node:os';

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median and minimum µs per call of one method over the timed rounds. */
export interface Timing {
  median: number;
  min: number;
  rounds: number;
}

/** Options for `interleaved`. Defaults: 15 rounds, ~5 ms samples, ~50 ms warm-up per method. */
export interface InterleavedOptions {
  rounds?: number;
  sampleMs?: number;
  warmupMs?: number;
}

/**
 * µs per call of each method: a warm-up (so the JIT has tiered up the JS around the kernels),
 * repetitions sized to ~`sampleMs`, then `rounds` rounds that time every method once in turn.
 * Each round starts with one untimed call, so a multi-threaded method is timed as a stream of
 * calls (its workers awake), not as the first call after the other methods' rounds.
 */
export function interleaved(methods: Record<string, () => void>, opts: InterleavedOptions = {}): Record<string, Timing> {
  const rounds = opts.rounds ?? 15;
  const sampleMs = opts.sampleMs ?? 5;
  const warmupMs = opts.warmupMs ?? 50;
  const names = Object.keys(methods);
  const reps: Record<string, number> = {};
  for (const n of names) {
    for (let w0 = performance.now(); performance.now() - w0 < warmupMs; ) methods[n]();
    const t0 = performance.now();
    methods[n]();
    reps[n] = Math.max(1, Math.round(sampleMs / Math.max(performance.now() - t0, 0.001)));
  }
  const times: Record<string, number[]> = Object.fromEntries(names.map((n) => [n, []]));
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      methods[n]();
      const t0 = performance.now();
      for (let i = 0; i < reps[n]; i++) methods[n]();
      times[n].push(((performance.now() - t0) * 1e3) / reps[n]);
    }
  }
  return Object.fromEntries(names.map((n) => [n, { median: median(times[n]), min: Math.min(...times[n]), rounds }]));
}

/** The machine line every measurement is printed with: CPU, cores, memory, Node. */
export function machineLine(): string {
  const cpu = (cpus()[0]?.model ?? 'unknown CPU').replace(/\s+/g, ' ').trim();
  return `${cpu}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}`;
}
