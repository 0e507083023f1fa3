/**
 * Latency as the demo measures it, in the browser, and as the browser tests measure the same
 * file in Node (so the two numbers come from the same code): methods interleaved round by round,
 * each round a run of calls sized to ~`sampleMs` (browsers coarsen performance.now() to 5–100 µs),
 * medians after a warm-up — the method of src/cli/timing.ts, which imports Node's os module and so
 * cannot enter the browser bundle.
 */

/** Options for `medianLatency`. Defaults: 15 rounds, 5 ms samples, 50 ms warm-up per method. */
export interface LatencyOptions {
  rounds?: number;
  sampleMs?: number;
  warmupMs?: number;
}

export function median(xs: readonly number[]): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Median µs per call of each method, timed interleaved. */
export function medianLatency<K extends string>(methods: Record<K, () => void>, opts: LatencyOptions = {}): Record<K, number> {
  const rounds = opts.rounds ?? 15;
  const sampleMs = opts.sampleMs ?? 5;
  const warmupMs = opts.warmupMs ?? 50;
  const names = Object.keys(methods) as K[];
  const reps = {} as Record<K, number>;
  for (const n of names) {
    let calls = 0;
    const w0 = performance.now();
    while (performance.now() - w0 < warmupMs || calls < 2) {
      methods[n]();
      calls++;
    }
    reps[n] = Math.max(1, Math.round((sampleMs * calls) / Math.max(performance.now() - w0, 1e-3)));
  }
  const times = Object.fromEntries(names.map((n) => [n, [] as number[]])) as Record<K, number[]>;
  for (let r = 0; r < rounds; r++) {
    for (const n of names) {
      methods[n]();
      const t0 = performance.now();
      for (let i = 0; i < reps[n]; i++) methods[n]();
      times[n].push(((performance.now() - t0) * 1e3) / reps[n]);
    }
  }
  return Object.fromEntries(names.map((n) => [n, median(times[n])])) as Record<K, number>;
}
