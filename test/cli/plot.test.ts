import { test } from 'node:test';
import assert from 'node:assert/strict';
import { escapeXml, lineChart, niceTicks } from '../../src/cli/plot.js';

test('niceTicks: steps of 1, 2 or 5 × 10^k that cover the range', () => {
  assert.deepEqual(niceTicks(84.26, 90.12), [84, 86, 88, 90, 92]);
  assert.deepEqual(niceTicks(0, 1), [0, 0.2, 0.4, 0.6, 0.8, 1]);
  assert.deepEqual(niceTicks(0.3, 9.7), [0, 2, 4, 6, 8, 10]);
  const t = niceTicks(0.8712, 0.8731);
  assert.ok(t[0] <= 0.8712 && t[t.length - 1] >= 0.8731, `${t}`);
  // A single value still gets a range around it.
  const one = niceTicks(5, 5);
  assert.ok(one[0] < 5 && one[one.length - 1] > 5);
  assert.throws(() => niceTicks(2, 1), /bad range \[2, 1\]/);
  assert.throws(() => niceTicks(Number.NaN, 1), /bad range/);
});

/** The polyline of each series, as pixel coordinates. */
function polylines(svg: string): [number, number][][] {
  return [...svg.matchAll(/<polyline points="([^"]*)"/g)].map((m) => m[1].split(' ').map((p) => p.split(',').map(Number) as [number, number]));
}

test('lineChart: one line per series, larger x to the right, larger y higher up, text escaped', () => {
  const svg = lineChart({
    title: 'a <b> & "c"',
    xLabel: 'x',
    yLabel: 'y',
    series: [
      { name: 'up', points: [[1, 10], [2, 20], [3, 30]] },
      { name: 'level & more', points: [[1, 15], [3, 15]], dashed: true },
    ],
  });
  assert.ok(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"'));
  assert.ok(svg.trimEnd().endsWith('</svg>'));
  assert.ok(svg.includes('a &lt;b&gt; &amp; &quot;c&quot;'));
  assert.ok(svg.includes('level &amp; more'));
  assert.ok(!/<b>/.test(svg));
  const [up, level] = polylines(svg);
  assert.equal(up.length, 3);
  assert.ok(up[0][0] < up[1][0] && up[1][0] < up[2][0], 'x increases to the right');
  assert.ok(up[0][1] > up[1][1] && up[1][1] > up[2][1], 'y increases upwards (smaller pixel y)');
  assert.equal(level[0][1], level[1][1]);
  // The level 15 lies between the pixel rows of 10 and 20.
  assert.ok(level[0][1] < up[0][1] && level[0][1] > up[1][1]);
  assert.equal((svg.match(/stroke-dasharray/g) ?? []).length, 2, 'the dashed series and its legend entry');
  assert.equal((svg.match(/<g /g) ?? []).length, (svg.match(/<\/g>/g) ?? []).length);
});

test('lineChart: given x ticks are labelled; bad input names what is wrong', () => {
  const svg = lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 's', points: [[0.7, 1], [2, 2]] }], xTicks: [{ value: 0.7, label: '80%' }, { value: 2, label: '99%' }] });
  assert.ok(svg.includes('>80%</text>') && svg.includes('>99%</text>'));
  assert.throws(() => lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [] }), /lineChart "t": no series/);
  assert.throws(() => lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'e', points: [] }] }), /series 0 \("e"\) has no points/);
  assert.throws(
    () => lineChart({ title: 't', xLabel: 'x', yLabel: 'y', series: [{ name: 'bad', points: [[0, 1], [1, Number.NaN]] }] }),
    /series "bad" point 1 is \(1, NaN\)/,
  );
  assert.equal(escapeXml('<&>"'), '&lt;&amp;&gt;&quot;');
});
