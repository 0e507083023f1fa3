import type { EpochMetrics, StepInfo } from '../train/loop.js';

/** Where progress goes: a stream that may be a terminal. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Formats seconds as `1m05s` / `12s`. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(m / 60)}h${String(m % 60).padStart(2, '0')}m`;
}

/**
 * Training progress: on a terminal, one line redrawn in place at most ~10 times a second
 * (epoch, step, loss, accuracy, samples/s, ETA); elsewhere, one plain line per epoch.
 */
export class Progress {
  private lastDraw = 0;
  private drawn = false;
  private readonly tty: boolean;

  constructor(
    private readonly out: ProgressStream,
    private readonly epochs: number,
    /** Milliseconds between redraws. */
    private readonly intervalMs = 100,
  ) {
    this.tty = out.isTTY === true;
  }

  step(info: StepInfo): void {
    if (!this.tty) return;
    const now = performance.now();
    const last = info.stepInEpoch === info.stepsPerEpoch - 1;
    if (!last && now - this.lastDraw < this.intervalMs) return;
    this.lastDraw = now;
    const rate = info.epochSamples / Math.max(info.epochSeconds, 1e-9);
    const stepsLeft = info.stepsPerEpoch - info.stepInEpoch - 1;
    const eta = (stepsLeft * info.epochSeconds) / (info.stepInEpoch + 1);
    const frac = (info.stepInEpoch + 1) / info.stepsPerEpoch;
    const width = 20;
    const filled = Math.round(frac * width);
    const bar = '█'.repeat(filled) + '░'.repeat(width - filled);
    let line =
      `epoch ${info.epoch + 1}/${this.epochs} ${bar} ${info.stepInEpoch + 1}/${info.stepsPerEpoch}` +
      ` loss ${info.epochLoss.toFixed(4)} acc ${(100 * info.epochAcc).toFixed(1)}% ${Math.round(rate)} samples/s ETA ${formatDuration(eta)}`;
    const cols = this.out.columns ?? 120;
    if (line.length > cols - 1) line = line.slice(0, cols - 1);
    this.out.write(`\r\x1b[2K${line}`);
    this.drawn = true;
  }

  epoch(m: EpochMetrics): void {
    if (this.drawn) {
      this.out.write('\r\x1b[2K');
      this.drawn = false;
    }
    const test = m.testAcc === null ? '' : ` test loss ${(m.testLoss as number).toFixed(4)} acc ${(100 * m.testAcc).toFixed(2)}%`;
    this.out.write(
      `epoch ${m.epoch}/${m.epochs} train loss ${m.trainLoss.toFixed(4)} acc ${(100 * m.trainAcc).toFixed(2)}%${test}` +
        ` lr ${m.lr.toPrecision(3)} ${Math.round(m.samplesPerSec)} samples/s ${formatDuration(m.epochSeconds)}\n`,
    );
  }
}
