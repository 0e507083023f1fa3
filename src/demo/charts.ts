/**
 * The demo's live charts: uPlot line charts whose data grows as the worker reports, redrawn at
 * most once per animation frame however many messages arrive in between.
 */
import uPlot from 'uplot';

/** Distinct colours, one per series, in order. */
const COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#ff7f0e', '#8c564b'];

export interface SeriesSpec {
  label: string;
  /** The y scale: 'y' (left axis) by default, or 'right' for a second axis. */
  scale?: 'y' | 'right';
  /** Draw points only (a sparse series, e.g. once per epoch). */
  points?: boolean;
}

export interface ChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  rightLabel?: string;
  series: SeriesSpec[];
  /** Draw steps (a value holds until the next x), with a point at each x: topology between updates. */
  stepped?: boolean;
  /** Fixed y range, e.g. [0, 1] for densities. */
  yRange?: [number, number];
  rightRange?: [number, number];
}

/** A chart and its columns: x, then one per series (null = no value at that x). */
export class LiveChart {
  private readonly plot: uPlot;
  private readonly columns: (number | null)[][];
  private pending = false;
  /** The x axis ends here (e.g. the run's last step) once known; before, at the data's last x. */
  xMax: number | null = null;

  constructor(parent: HTMLElement, spec: ChartSpec) {
    this.columns = [[], ...spec.series.map(() => [])];
    const stepped = spec.stepped ? uPlot.paths.stepped!({ align: 1 }) : undefined;
    const width = Math.max(320, parent.clientWidth || 480);
    this.plot = new uPlot({
      title: spec.title,
      width,
      height: 240,
      scales: {
        x: { time: false, range: (_u, min, max) => [Math.min(0, min), Math.max(this.xMax ?? max, max)] },
        y: spec.yRange ? { range: spec.yRange } : {},
        ...(spec.rightLabel ? { right: spec.rightRange ? { range: spec.rightRange } : {} } : {}),
      },
      axes: [
        { label: spec.xLabel },
        { label: spec.yLabel, scale: 'y' },
        ...(spec.rightLabel ? [{ label: spec.rightLabel, scale: 'right', side: 1 as const, grid: { show: false } }] : []),
      ],
      series: [
        { label: spec.xLabel },
        ...spec.series.map((s, i) => ({
          label: s.label,
          scale: s.scale ?? 'y',
          stroke: COLOURS[i % COLOURS.length],
          width: 1.5,
          spanGaps: true,
          points: { show: s.points === true || spec.stepped === true, size: 6 },
          ...(s.points ? { paths: () => null } : stepped ? { paths: stepped } : {}),
        })),
      ],
    }, this.columns as uPlot.AlignedData, parent);
  }

  /** Appends one x with a value per series (null where a series has none), redrawn on the next frame. */
  push(x: number, values: (number | null)[]): void {
    this.columns[0].push(x);
    values.forEach((v, i) => this.columns[i + 1].push(v));
    if (this.pending) return;
    this.pending = true;
    requestAnimationFrame(() => {
      this.pending = false;
      this.plot.setData(this.columns as uPlot.AlignedData);
    });
  }

  /** Forgets all points (a new training run). */
  clear(): void {
    for (const c of this.columns) c.length = 0;
    this.plot.setData(this.columns as uPlot.AlignedData);
  }
}
