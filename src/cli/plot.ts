/**
 * Line charts as standalone SVG text (no dependencies): training curves and accuracy-versus-
 * sparsity plots that a Markdown viewer or a browser shows as they are.
 *
 * Colours are the Okabe–Ito palette (distinguishable with colour-vision deficiencies); every
 * series also gets its own marker shape, so the chart reads in grey as well.
 */

export interface Series {
  name: string;
  /** [x, y] pairs, drawn in the order given; every coordinate finite. */
  points: readonly (readonly [number, number])[];
  /** Drawn dashed without markers (a reference level such as the dense model). Default false. */
  dashed?: boolean;
}

export interface Tick {
  value: number;
  label: string;
}

export interface ChartOptions {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** Pixels. Default 720 × 420. */
  width?: number;
  height?: number;
  /** x-axis ticks; default: round numbers spanning the data. */
  xTicks?: readonly Tick[];
  /** Format of automatic y tick labels. Default: as many decimals as the tick step needs. */
  yFormat?: (v: number) => string;
}

const PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
const MARKERS = ['circle', 'square', 'triangle', 'diamond', 'down', 'cross'] as const;

/** Escapes text for an SVG text node or attribute. */
export function escapeXml(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Round tick values covering [lo, hi]: steps of 1, 2 or 5 × 10^k, about `target` of them. */
export function niceTicks(lo: number, hi: number, target = 6): number[] {
  if (!(Number.isFinite(lo) && Number.isFinite(hi)) || hi < lo) throw new RangeError(`niceTicks: bad range [${lo}, ${hi}]`);
  if (hi === lo) {
    const pad = lo === 0 ? 1 : Math.abs(lo) * 0.05;
    return niceTicks(lo - pad, hi + pad, target);
  }
  const raw = (hi - lo) / Math.max(1, target - 1);
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag;
  const first = Math.floor(lo / step + 1e-9) * step;
  const ticks: number[] = [];
  for (let v = first; v < hi + step * (1 - 1e-9); v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

function decimalsFor(step: number): number {
  return Math.max(0, -Math.floor(Math.log10(step) + 1e-9));
}

function marker(kind: (typeof MARKERS)[number], x: number, y: number, color: string): string {
  const r = 4;
  const f = (v: number): string => v.toFixed(1);
  switch (kind) {
    case 'circle':
      return `<circle cx="${f(x)}" cy="${f(y)}" r="${r}" fill="${color}"/>`;
    case 'square':
      return `<rect x="${f(x - r)}" y="${f(y - r)}" width="${2 * r}" height="${2 * r}" fill="${color}"/>`;
    case 'triangle':
      return `<path d="M${f(x)},${f(y - r - 1)}L${f(x + r + 1)},${f(y + r)}L${f(x - r - 1)},${f(y + r)}Z" fill="${color}"/>`;
    case 'down':
      return `<path d="M${f(x)},${f(y + r + 1)}L${f(x + r + 1)},${f(y - r)}L${f(x - r - 1)},${f(y - r)}Z" fill="${color}"/>`;
    case 'diamond':
      return `<path d="M${f(x)},${f(y - r - 1)}L${f(x + r + 1)},${f(y)}L${f(x)},${f(y + r + 1)}L${f(x - r - 1)},${f(y)}Z" fill="${color}"/>`;
    case 'cross':
      return `<path d="M${f(x - r)},${f(y - r)}L${f(x + r)},${f(y + r)}M${f(x - r)},${f(y + r)}L${f(x + r)},${f(y - r)}" stroke="${color}" stroke-width="2"/>`;
  }
}

/** A line chart with axes, grid, ticks, a legend on the right and one polyline per series. */
export function lineChart(o: ChartOptions): string {
  const width = o.width ?? 720;
  const height = o.height ?? 420;
  if (o.series.length === 0) throw new RangeError(`lineChart "${o.title}": no series to draw`);
  o.series.forEach((s, i) => {
    if (s.points.length === 0) throw new RangeError(`lineChart "${o.title}": series ${i} ("${s.name}") has no points`);
    s.points.forEach(([x, y], j) => {
      if (!Number.isFinite(x) || !Number.isFinite(y)) throw new RangeError(`lineChart "${o.title}": series "${s.name}" point ${j} is (${x}, ${y}); coordinates must be finite`);
    });
  });
  const xs = o.series.flatMap((s) => s.points.map((p) => p[0])).concat((o.xTicks ?? []).map((t) => t.value));
  const ys = o.series.flatMap((s) => s.points.map((p) => p[1]));
  const xTicks = o.xTicks ?? niceTicks(Math.min(...xs), Math.max(...xs)).map((v) => ({ value: v, label: String(v) }));
  // A little headroom so a line at the maximum does not run along the frame.
  const yLo = Math.min(...ys);
  const yHi = Math.max(...ys);
  const yVals = niceTicks(yLo, yHi + 0.03 * (yHi - yLo));
  const yStep = yVals.length > 1 ? yVals[1] - yVals[0] : 1;
  const yFmt = o.yFormat ?? ((v: number) => v.toFixed(decimalsFor(yStep)));
  const x0 = Math.min(...xs, ...xTicks.map((t) => t.value));
  const x1 = Math.max(...xs, ...xTicks.map((t) => t.value));
  const y0 = yVals[0];
  const y1 = yVals[yVals.length - 1];

  const legendW = Math.min(220, 40 + 7 * Math.max(...o.series.map((s) => s.name.length)));
  const left = 64;
  const right = width - legendW - 16;
  const top = 40;
  const bottom = height - 52;
  const padX = x1 === x0 ? 1 : (x1 - x0) * 0.04;
  const px = (x: number): number => left + ((x - (x0 - padX)) / (x1 - x0 + 2 * padX)) * (right - left);
  const py = (y: number): number => bottom - ((y - y0) / (y1 - y0 || 1)) * (bottom - top);
  const f = (v: number): string => v.toFixed(1);

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="#ffffff"/>`,
    `<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${escapeXml(o.title)}</text>`,
  ];
  for (const v of yVals) {
    out.push(`<line x1="${left}" y1="${f(py(v))}" x2="${right}" y2="${f(py(v))}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${left - 6}" y="${f(py(v) + 4)}" text-anchor="end">${escapeXml(yFmt(v))}</text>`);
  }
  for (const t of xTicks) {
    out.push(`<line x1="${f(px(t.value))}" y1="${top}" x2="${f(px(t.value))}" y2="${bottom}" stroke="#f0f0f0"/>`);
    out.push(`<text x="${f(px(t.value))}" y="${bottom + 18}" text-anchor="middle">${escapeXml(t.label)}</text>`);
  }
  out.push(`<rect x="${left}" y="${top}" width="${right - left}" height="${bottom - top}" fill="none" stroke="#333333"/>`);
  out.push(`<text x="${(left + right) / 2}" y="${height - 12}" text-anchor="middle">${escapeXml(o.xLabel)}</text>`);
  out.push(`<text x="16" y="${(top + bottom) / 2}" text-anchor="middle" transform="rotate(-90 16 ${(top + bottom) / 2})">${escapeXml(o.yLabel)}</text>`);

  o.series.forEach((s, i) => {
    const color = PALETTE[i % PALETTE.length];
    const pts = s.points.map(([x, y]) => `${f(px(x))},${f(py(y))}`).join(' ');
    out.push(`<g data-series="${escapeXml(s.name)}">`);
    out.push(`<polyline points="${pts}" fill="none" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (!s.dashed) for (const [x, y] of s.points) out.push(marker(MARKERS[i % MARKERS.length], px(x), py(y), color));
    out.push('</g>');
    const ly = top + 10 + i * 20;
    const lx = right + 14;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 24}" y2="${ly}" stroke="${color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    if (!s.dashed) out.push(marker(MARKERS[i % MARKERS.length], lx + 12, ly, color));
    out.push(`<text x="${lx + 30}" y="${ly + 4}">${escapeXml(s.name)}</text>`);
  });
  out.push('</svg>', '');
  return out.join('\n');
}

/** Charts (each from `lineChart`, `width` × `height`) side by side in one SVG. */
export function sideBySide(charts: readonly string[], width = 720, height = 420): string {
  const parts = charts.map((c, i) => `<g transform="translate(${i * width},0)">\n${c.trim()}\n</g>`);
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${width * charts.length}" height="${height}" viewBox="0 0 ${width * charts.length} ${height}">`, ...parts, '</svg>', ''].join('\n');
}

/** What `trainingCurves` reads from each line of a run's metrics.jsonl. */
export interface EpochPoint {
  epoch: number;
  trainLoss: number;
  trainAcc: number;
  testLoss: number | null;
  testAcc: number | null;
}

/** A run's curves: loss and accuracy (%) against epoch, train and test, side by side. */
export function trainingCurves(history: readonly EpochPoint[], title: string): string {
  if (history.length === 0) throw new RangeError(`trainingCurves "${title}": no epochs to plot`);
  const tested = history.filter((m) => m.testAcc !== null && m.testLoss !== null);
  const loss: Series[] = [{ name: 'train', points: history.map((m) => [m.epoch, m.trainLoss] as const) }];
  const acc: Series[] = [{ name: 'train', points: history.map((m) => [m.epoch, 100 * m.trainAcc] as const) }];
  if (tested.length > 0) {
    loss.push({ name: 'test', points: tested.map((m) => [m.epoch, m.testLoss as number] as const) });
    acc.push({ name: 'test', points: tested.map((m) => [m.epoch, 100 * (m.testAcc as number)] as const) });
  }
  // Whole epochs only on the x axis.
  const epochs = history.map((m) => m.epoch);
  const lo = Math.min(...epochs);
  const hi = Math.max(...epochs);
  const whole = niceTicks(lo, hi).filter((v) => Number.isInteger(v) && v > lo && v <= hi);
  const xTicks = [lo, ...whole].map((v) => ({ value: v, label: String(v) }));
  return sideBySide([
    lineChart({ title: `${title}: loss`, xLabel: 'epoch', yLabel: 'cross-entropy loss', series: loss, xTicks }),
    lineChart({ title: `${title}: accuracy`, xLabel: 'epoch', yLabel: 'accuracy (%)', series: acc, xTicks }),
  ]);
}
