/**
 * The script the report page runs: it reads the embedded JSON (`#report-data`) and draws each
 * chart spec into its `#chart-<id>` container with uPlot, resizing with the window. The specs are
 * built and tested in TypeScript (html.ts); this script only maps them onto uPlot's options, so
 * it stays small. Plain ES2017 with no template literals, so it embeds as it is.
 */
export const CLIENT_SCRIPT = `(function () {
  'use strict';
  // Okabe-Ito: distinguishable with colour-vision deficiencies (the same palette as curves.svg).
  var PALETTE = ['#0072B2', '#D55E00', '#009E73', '#CC79A7', '#E69F00', '#56B4E9', '#000000', '#F0E442'];
  var HEIGHT = 260;
  var payload = JSON.parse(document.getElementById('report-data').textContent);
  var plots = [];
  // Whole-number axis steps (epochs, steps, neuron counts): 1, 2, 5, 10, 20, 50, ...
  var WHOLE = [];
  for (var m = 1; m < 1e12; m *= 10) WHOLE.push(m, 2 * m, 5 * m);
  function widthOf(el) {
    return Math.max(260, Math.floor(el.getBoundingClientRect().width));
  }
  payload.charts.forEach(function (c) {
    var el = document.getElementById('chart-' + c.id);
    if (el === null) return;
    var series = [{ label: c.xLabel }];
    var data = [c.x];
    c.series.forEach(function (s) {
      var color = PALETTE[s.color % PALETTE.length];
      series.push({
        label: s.label,
        stroke: color,
        width: 2,
        dash: s.dashed ? [6, 4] : undefined,
        spanGaps: true,
        points: { show: true, size: 6, stroke: color, fill: s.dashed ? '#ffffff' : color },
      });
      data.push(s.values);
    });
    var yAxis = { label: c.yLabel, size: 64 };
    if (c.yWhole) yAxis.incrs = WHOLE;
    var yScale = {};
    if (c.yFromZero) {
      yScale.range = function (u, min, max) {
        return [0, max !== null && max > 0 ? max * 1.08 : 1];
      };
    }
    var opts = {
      width: widthOf(el),
      height: HEIGHT,
      scales: { x: { time: false }, y: yScale },
      axes: [{ label: c.xLabel, incrs: WHOLE }, yAxis],
      series: series,
    };
    plots.push({ el: el, plot: new uPlot(opts, data, el) });
  });
  var frame = 0;
  window.addEventListener('resize', function () {
    cancelAnimationFrame(frame);
    frame = requestAnimationFrame(function () {
      plots.forEach(function (p) {
        p.plot.setSize({ width: widthOf(p.el), height: HEIGHT });
      });
    });
  });
})();
`;
