// report.html: `srigl train` writes it at the end of every run (resumed ones too) beside the
// model, `srigl report RUN_DIR` rebuilds the same bytes; the page is self-contained (uPlot
// inline, data as JSON, no URL it could fetch). Sparse runs log topology.jsonl, one line per
// update, trimmed on resume like metrics.jsonl.
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, cpSync, existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { run, SUBSET, withTempDir } from './harness.js';
import { escapeHtml, jsonForScript, renderReport, reportPayload, type ReportPayload } from '../../src/cli/report/html.js';
import { readRun, type RunFiles } from '../../src/cli/report/run.js';
import type { TopologyRecord } from '../../src/cli/report/topology.js';
import { loadChartAssets } from '../../src/cli/report/uplot.js';
import type { SparseRunInfo } from '../../src/train/sparse.js';

/** 256 examples in batches of 32: 8 steps an epoch, 16 in 2 epochs; T_end step 12, ΔT 2 → updates at steps 2, 4, 6, 8, 10. */
const TINY = ['--data', SUBSET, '--limit-train', '256', '--limit-test', '200', '--epochs', '2', '--batch-size', '32', '--threads', '1', '--no-condense'];
/** SRigL at 99% with γ_sal 0.9 (as test/cli/sparse.test.ts): its updates ablate neurons. */
const SRIGL = [...TINY, '--method', 'srigl', '--sparsity', '0.99', '--gamma-sal', '0.9', '--seed', '2', '--delta-t', '2'];
const UPDATE_STEPS = [2, 4, 6, 8, 10];

const readJsonl = <T>(path: string): T[] => readFileSync(path, 'utf8').split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as T);

/** The JSON payload of a report page, parsed from its one application/json script element. */
function payloadOf(html: string): ReportPayload {
  const blocks = [...html.matchAll(/<script type="application\/json" id="report-data">([\s\S]*?)<\/script>/g)];
  assert.equal(blocks.length, 1, 'one embedded JSON block');
  return JSON.parse(blocks[0][1]) as ReportPayload;
}

/**
 * Anything in the page that would reach for a resource: in the markup (script and style contents
 * cut out), attributes that load (src, href, srcset, action, poster, data) and <link>; in the
 * styles, url() and @import; in the scripts, the APIs that fetch.
 */
function fetchables(html: string): string[] {
  const elements = [...html.matchAll(/<(script|style)\b[^>]*>([\s\S]*?)<\/\1>/gi)];
  const markup = elements.reduce((m, e) => m.replace(e[2], ''), html);
  const css = elements.filter((e) => e[1].toLowerCase() === 'style').map((e) => e[2]).join('\n') + [...markup.matchAll(/\bstyle\s*=\s*("[^"]*"|'[^']*')/gi)].map((m) => m[1]).join('\n');
  const js = elements.filter((e) => e[1].toLowerCase() === 'script').map((e) => e[2]).join('\n');
  return [
    ...[...markup.matchAll(/<[^>]*\s(?:src|href|srcset|action|poster|data)\s*=[^>]*>/gi)].map((m) => m[0]),
    ...[...markup.matchAll(/<link\b[^>]*>/gi)].map((m) => m[0]),
    ...[...css.matchAll(/url\(|@import/gi)].map((m) => m[0]),
    ...[...js.matchAll(/\bfetch\s*\(|XMLHttpRequest|\bimport\s*\(|WebSocket|EventSource|sendBeacon|\.src\s*=/g)].map((m) => m[0]),
  ];
}

/** Checks the page is self-contained: uPlot inline, no fetchable reference, a CSP that forbids the network. */
function assertSelfContained(html: string): void {
  const require = createRequire(import.meta.url);
  const uplotJs = readFileSync(require.resolve('uplot/dist/uPlot.iife.min.js'), 'utf8');
  const uplotCss = readFileSync(require.resolve('uplot/dist/uPlot.min.css'), 'utf8');
  assert.ok(html.includes(uplotJs), 'uPlot inline, byte for byte');
  assert.ok(html.includes(uplotCss), "uPlot's stylesheet inline");
  assert.deepEqual(fetchables(html), [], 'nothing the page would fetch');
  // The scan itself sees what it looks for.
  for (const inject of ['<img alt="" src="a.png">', '<link rel="stylesheet" href="a.css">', '<style>b{background:url(a.png)}</style>', '<script>fetch("a")</script>', '<a href="https://example.org/">a</a>']) {
    assert.ok(fetchables(html.replace('</footer>', `${inject}</footer>`)).length > 0, `the scan misses ${inject}`);
  }
  // The only URLs: uPlot's own header comment (https://github.com/leeoniya/uPlot), never fetched.
  const urls = html.match(/https?:\/\/[^\s"'<>)]*/g) ?? [];
  assert.deepEqual(urls, uplotJs.match(/https?:\/\/[^\s"'<>)]*/g) ?? [], `URLs beyond uPlot's comment: ${urls}`);
  assert.match(html, /<meta http-equiv="Content-Security-Policy" content="default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:">/);
  // Every script element ends where it should: as many </script> as <script.
  assert.equal((html.match(/<\/script/gi) ?? []).length, (html.match(/<script/gi) ?? []).length);
  assert.equal((html.match(/<script/gi) ?? []).length, 3, 'data, uPlot, page script');
  assert.ok(html.startsWith('<!DOCTYPE html>\n<html lang="en">') && html.endsWith('</html>\n'));
}

describe('report.html', () => {
  test('a SRigL run writes topology.jsonl and report.html; the page embeds every epoch and update; srigl report rebuilds the same bytes', async () => {
    await withTempDir('srigl-report-', async (out) => {
      const r = await run('train', ...SRIGL, '--out', out, '--json');
      assert.equal(r.code, 0, r.err);
      const reportPath = join(out, 'report.html');
      assert.match(r.err, new RegExp(`^report: ${reportPath.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}$`, 'm'), 'train prints the report path');
      const summary = JSON.parse(r.out) as { report: string; sparse: SparseRunInfo };
      assert.equal(summary.report, reportPath);

      // topology.jsonl: the initial topology, then one line per update, at the ΔT steps before T_end.
      const records = readJsonl<TopologyRecord>(join(out, 'topology.jsonl'));
      assert.equal(summary.sparse.updates, UPDATE_STEPS.length);
      assert.deepEqual(records.map((x) => x.update), [0, 1, 2, 3, 4, 5]);
      assert.deepEqual(records.map((x) => x.step), [0, ...UPDATE_STEPS]);
      assert.deepEqual(records.map((x) => x.epoch), [0, 1, 1, 1, 2, 2], 'steps 2, 4, 6 in epoch 1 (steps 0–7), 8, 10 in epoch 2');
      assert.ok(records.slice(1).every((x, i) => i === 0 || x.dropFraction < records[i].dropFraction), 'the drop fraction anneals');
      // The last record is the final state summary.json reports, layer by layer.
      const last = records.at(-1) as TopologyRecord;
      assert.deepEqual(last.layers.map(({ name, nnz, density, k, activeNeurons, ablatedNeurons }) => ({ name, nnz, density, k, activeNeurons, ablatedNeurons })),
        summary.sparse.layers.map(({ name, nnz, density, k, activeNeurons, ablatedNeurons }) => ({ name, nnz, density, k, activeNeurons, ablatedNeurons })));
      // Per layer, the changes logged per update add up to the ablated count, and agree with the per-epoch sums in metrics.jsonl.
      const epochs = readJsonl<{ epoch: number; trainLoss: number; testLoss: number; sparse: { name: string; newlyAblated: number; revived: number }[] }>(join(out, 'metrics.jsonl'));
      for (const layer of summary.sparse.layers) {
        const per = records.map((x) => x.layers.find((l) => l.name === layer.name) as TopologyRecord['layers'][number]);
        const ablated = per.reduce((a, l) => a + l.newlyAblated, 0);
        const revived = per.reduce((a, l) => a + l.revived, 0);
        assert.equal(ablated - revived, layer.ablatedNeurons, `${layer.name}: ablated − revived over the updates`);
        const byEpoch = epochs.flatMap((e) => e.sparse.filter((l) => l.name === layer.name));
        assert.equal(ablated, byEpoch.reduce((a, l) => a + l.newlyAblated, 0), `${layer.name}: newly ablated, per update vs per epoch`);
        assert.equal(revived, byEpoch.reduce((a, l) => a + l.revived, 0), `${layer.name}: revived, per update vs per epoch`);
        assert.ok(per.slice(1).every((l) => l.dropped > 0 || layer.density === 1), `${layer.name}: every update drops weights`);
      }
      assert.ok(summary.sparse.layers.some((l) => l.ablatedNeurons > 0), 'the run ablated neurons (what the ablation charts show)');

      // The page: its JSON is the run's epochs and updates, exactly.
      const html = readFileSync(reportPath, 'utf8');
      const payload = payloadOf(html);
      assert.equal(payload.format, 'srigl-run-report');
      assert.equal(payload.epochs.length, 2);
      assert.deepEqual(payload.epochs, epochs.map(({ sparse: _, ...rest }) => rest));
      assert.deepEqual(payload.updates, records);
      assert.deepEqual(payload.layers, summary.sparse.layers);
      assert.equal(payload.condensed, null);
      assert.deepEqual(payload, JSON.parse(JSON.stringify(reportPayload(readRun(out)))), 'the payload round-trips');
      const charts = new Map(payload.charts.map((c) => [c.id, c]));
      assert.deepEqual([...charts.keys()], ['loss', 'accuracy', 'density', 'fan-in', 'ablated', 'ablation-changes']);
      assert.deepEqual(charts.get('loss')?.x, [1, 2]);
      assert.deepEqual(charts.get('loss')?.series.map((s) => s.values), [epochs.map((e) => e.trainLoss), epochs.map((e) => e.testLoss)]);
      assert.deepEqual(charts.get('density')?.x, [0, ...UPDATE_STEPS]);
      const sparseLayers = summary.sparse.layers.filter((l) => l.density < 1).map((l) => l.name);
      assert.deepEqual(charts.get('density')?.series.map((s) => s.label), sparseLayers);
      assert.deepEqual(charts.get('fan-in')?.series.find((s) => s.label === 'fc1')?.values, records.map((x) => x.layers[0].k));
      // Ablation charts only for layers that ablated something; the classifier never does.
      assert.ok(!charts.get('ablated')?.series.some((s) => s.label === 'fc3'));
      for (const id of ['loss', 'accuracy', 'density', 'fan-in', 'ablated', 'ablation-changes']) assert.ok(html.includes(`<div class="chart" id="chart-${id}"></div>`), `container of ${id}`);
      assertSelfContained(html);
      // The header, the final table.
      for (const text of ['<dt>Method</dt><dd>srigl</dd>', '<dt>Sparsity</dt><dd>0.99 ', '<dt>Seed</dt><dd>2</dd>', '<dt>Neuron ablation</dt><dd>on (γ_sal 0.9)</dd>', 'Epochs</dt><dd>2, batch size 32', '<h2>Final layers</h2>']) {
        assert.ok(html.includes(text), `page lacks ${text}`);
      }
      const fc1 = summary.sparse.layers[0];
      assert.ok(html.includes(`<td>fc1</td><td>linear</td><td>300×784</td><td class="num">${fc1.nnz.toLocaleString('en-US')}</td><td class="num">${fc1.density.toFixed(4)}</td><td class="num">${fc1.k}</td><td class="num">${fc1.activeNeurons}</td><td class="num">${fc1.ablatedNeurons}</td>`), 'fc1 row');
      assert.ok(html.includes('This run was not condensed'));

      // srigl report: the same bytes, in place and elsewhere.
      const before = readFileSync(reportPath);
      rmSync(reportPath);
      const again = await run('report', out);
      assert.equal(again.code, 0, again.err);
      assert.match(again.out, /^wrote .*report\.html \([\d,]+ bytes; 2 epoch\(s\), 5 topology update\(s\)\)\n$/);
      assert.ok(readFileSync(reportPath).equals(before), 'srigl report rebuilds a byte-identical file');
      const elsewhere = join(out, 'sub', 'copy.html');
      const j = await run('report', out, '--out', elsewhere, '--json');
      assert.equal(j.code, 0, j.err);
      assert.deepEqual(JSON.parse(j.out), { command: 'report', runDir: out, report: elsewhere, bytes: before.length, epochs: 2, updates: 5 });
      assert.ok(readFileSync(elsewhere).equals(before));
      assert.deepEqual(readdirSync(out).filter((f) => f.endsWith('.tmp')), [], 'no temporary file left');

      // A condensed comparison in the summary becomes the last section.
      const withCondensed = join(out, 'condensed-run');
      mkdirSync(withCondensed);
      for (const f of ['metrics.jsonl', 'topology.jsonl']) cpSync(join(out, f), join(withCondensed, f));
      const s = JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8'));
      s.condensed = {
        path: '/elsewhere/model.condensed.safetensors', denseWeights: 266200, storedWeights: 2535, denseFileBytes: 1336336, condensedFileBytes: 24976,
        accuracy: { trained: 0.6733, condensed: 0.6733, n: 300, agree: true, differingPredictions: 0 },
        latency: [{ batch: 1, denseUs: 66.4, condensedUs: 3.5, speedup: 18.97 }, { batch: 256, denseUs: 2775.4, condensedUs: 182.7, speedup: 15.19 }],
        kernels: 'wasm relaxed kernels, 1 thread', rounds: 15, machine: 'AMD EPYC, 2 cores', layers: [],
      };
      writeFileSync(join(withCondensed, 'summary.json'), JSON.stringify(s));
      assert.equal((await run('report', withCondensed)).code, 0);
      const ch = readFileSync(join(withCondensed, 'report.html'), 'utf8');
      for (const row of [
        '<td>stored weights</td><td class="num">266,200</td><td class="num">2,535</td><td>105.0× fewer</td>',
        '<td>file size</td><td class="num">1,336,336 B (1.27 MiB)</td><td class="num">24,976 B (24.4 KiB)</td><td>53.5× smaller</td>',
        '<td>test accuracy</td><td class="num">67.33%</td><td class="num">67.33%</td><td>same predictions on all 300 test examples</td>',
        '<td>latency, batch 1</td><td class="num">66.4 µs</td><td class="num">3.5 µs</td><td>19.0× faster</td>',
        '<td>latency, batch 256</td><td class="num">2.78 ms</td><td class="num">182.7 µs</td><td>15.2× faster</td>',
      ]) assert.ok(ch.includes(row), `condensed table lacks ${row}`);
      assert.equal(payloadOf(ch).condensed?.path, undefined, 'no absolute path in the page');
      assert.ok(!ch.includes('/elsewhere/'));
    });
  });

  test('a dense run: report without a topology section, no topology.jsonl (a stale one is removed)', async () => {
    await withTempDir('srigl-report-dense-', async (out) => {
      writeFileSync(join(out, 'topology.jsonl'), '{"stale":true}\n');
      const r = await run('train', ...TINY, '--method', 'dense', '--epochs', '1', '--out', out, '--quiet');
      assert.equal(r.code, 0, r.err);
      assert.equal(existsSync(join(out, 'topology.jsonl')), false);
      const html = readFileSync(join(out, 'report.html'), 'utf8');
      const payload = payloadOf(html);
      assert.equal(payload.updates, null);
      assert.equal(payload.epochs.length, 1);
      assert.deepEqual(payload.charts.map((c) => c.id), ['loss', 'accuracy']);
      assert.ok(html.includes('Dense run: every weight trains, so there is no topology to follow.'));
      assert.ok(html.includes('Dense run: nothing to condense.'));
      assert.ok(!html.includes('<dt>Sparsity</dt>'));
      assertSelfContained(html);
    });
  });

  test('resume: topology.jsonl is trimmed to the checkpoint (a torn line too) and ends identical to the uninterrupted run', async () => {
    await withTempDir('srigl-report-resume-', async (out) => {
      const a = await run('train', ...SRIGL, '--checkpoint-every', '4', '--out', out, '--quiet');
      assert.equal(a.code, 0, a.err);
      const whole = readFileSync(join(out, 'topology.jsonl'));
      const wholeReport = payloadOf(readFileSync(join(out, 'report.html'), 'utf8'));
      // Back to the checkpoint at step 8 (updates at steps 2, 4, 6 applied), as after a crash that
      // had logged two more updates and torn a third line.
      rmSync(join(out, 'ckpt-12.safetensors'));
      rmSync(join(out, 'ckpt-16.safetensors'));
      rmSync(join(out, 'report.html'));
      appendFileSync(join(out, 'topology.jsonl'), '{"update":6,"step":12,"epo');
      const b = await run('train', '--resume', out, '--threads', '1', '--quiet');
      assert.equal(b.code, 0, b.err);
      assert.ok(readFileSync(join(out, 'topology.jsonl')).equals(whole), 'the resumed run logs updates 4 and 5 again, and only them');
      const resumed = payloadOf(readFileSync(join(out, 'report.html'), 'utf8'));
      assert.deepEqual(resumed.updates, wholeReport.updates);
      assert.equal(resumed.epochs.length, 2);
      assert.deepEqual(resumed.epochs.map((e) => e.trainLoss), wholeReport.epochs.map((e) => e.trainLoss));
    });
  });

  test('errors: not a run directory names the missing file; malformed lines name file and line', async () => {
    await withTempDir('srigl-report-errors-', async (dir) => {
      const none = await run('report');
      assert.equal(none.code, 2);
      assert.match(none.err, /srigl report: expected one RUN_DIR, got none/);
      assert.match((await run('report', '--help')).out, /Usage: srigl report RUN_DIR/);
      const missing = await run('report', join(dir, 'nope'));
      assert.equal(missing.code, 1);
      assert.match(missing.err, /nope: no such directory/);
      writeFileSync(join(dir, 'file'), 'x');
      assert.match((await run('report', join(dir, 'file'))).err, /file is not a directory/);
      assert.match((await run('report', dir)).err, /is not a srigl train run directory: summary\.json is missing/);

      // A real run's files, then each damaged in turn.
      // A report that cannot be written (a directory in its place) costs the run nothing but a warning.
      const out = join(dir, 'run');
      mkdirSync(join(out, 'report.html', 'in-the-way'), { recursive: true });
      const t = await run('train', ...TINY, '--method', 'srigl', '--epochs', '1', '--delta-t', '2', '--out', out, '--quiet');
      assert.equal(t.code, 0, t.err);
      assert.match(t.err, /srigl train: warning: .*report\.html not written: .*\(srigl report .* retries\)/);
      assert.ok(existsSync(join(out, 'model.safetensors')) && existsSync(join(out, 'summary.json')));
      rmSync(join(out, 'report.html'), { recursive: true });
      const files = Object.fromEntries(['summary.json', 'metrics.jsonl', 'topology.jsonl'].map((f) => [f, readFileSync(join(out, f), 'utf8')]));
      const restore = (): void => {
        for (const [f, text] of Object.entries(files)) writeFileSync(join(out, f), text);
      };
      const expectError = async (re: RegExp): Promise<void> => {
        const r = await run('report', out);
        assert.equal(r.code, 1, r.err);
        assert.match(r.err, re);
        restore();
      };
      rmSync(join(out, 'metrics.jsonl'));
      await expectError(/is not a srigl train run directory: metrics\.jsonl is missing/);
      writeFileSync(join(out, 'metrics.jsonl'), files['metrics.jsonl'] + '{"epoch": 2, "trainLoss": "low"}\n');
      await expectError(/metrics\.jsonl: line 2: "trainLoss" must be a finite number, got "low"/);
      writeFileSync(join(out, 'metrics.jsonl'), files['metrics.jsonl'] + files['metrics.jsonl']);
      await expectError(/metrics\.jsonl: line 2: epoch 1 does not follow epoch 1/);
      writeFileSync(join(out, 'metrics.jsonl'), '');
      await expectError(/metrics\.jsonl: no epoch logged/);
      writeFileSync(join(out, 'summary.json'), '{"command":"eval"}');
      await expectError(/summary\.json: "command" must be "train"/);
      writeFileSync(join(out, 'summary.json'), '{"command":');
      await expectError(/summary\.json: not JSON/);
      const s = JSON.parse(files['summary.json']);
      delete s.sparse.layers[1].density;
      writeFileSync(join(out, 'summary.json'), JSON.stringify(s));
      await expectError(/summary\.json sparse\.layers\[1\]: "density" must be a finite number, got nothing/);
      const lines = files['topology.jsonl'].trim().split('\n');
      writeFileSync(join(out, 'topology.jsonl'), [lines[0], lines[2]].join('\n') + '\n');
      await expectError(/topology\.jsonl: line 2: update 2 does not follow update 0/);
      writeFileSync(join(out, 'topology.jsonl'), lines[0] + '\nnot json\n');
      await expectError(/topology\.jsonl: line 2 is not JSON/);
      // A sparse run without topology.jsonl (written before the log existed) still reports.
      rmSync(join(out, 'topology.jsonl'));
      const old = await run('report', out);
      assert.equal(old.code, 0, old.err);
      assert.ok(readFileSync(join(out, 'report.html'), 'utf8').includes('This run has no topology.jsonl'));
    });
  });
});

describe('report page generation', () => {
  /** A run's files in memory, from a real run's directory. */
  async function tinyRun(): Promise<RunFiles> {
    return withTempDir('srigl-report-unit-', async (out) => {
      assert.equal((await run('train', ...SRIGL, '--epochs', '1', '--out', out, '--quiet')).code, 0);
      return readRun(out);
    });
  }

  test('strings cannot break out of the JSON block or the markup; the payload round-trips', async () => {
    const base = await tinyRun();
    const evil = '</script><script>alert(1)</script><!-- \u2028\u2029 & "quoted" \'single\'';
    const run_: RunFiles = structuredClone(base);
    run_.summary.data.dataset = evil;
    run_.summary.sparse.layers[0].name = evil;
    for (const r of run_.topology ?? []) r.layers[0].name = evil;
    const html = renderReport(run_, loadChartAssets());
    assert.equal((html.match(/<\/script/gi) ?? []).length, 3, 'only the three closing tags');
    assert.equal((html.match(/<script/gi) ?? []).length, 3);
    assert.ok(!html.includes('<!-- '), 'no comment opened');
    assert.ok(html.includes(escapeHtml(evil)), 'escaped in the markup');
    assert.deepEqual(payloadOf(html), JSON.parse(JSON.stringify(reportPayload(run_))));
    assert.equal(payloadOf(html).layers[0].name, evil);
    assert.equal(JSON.parse(jsonForScript({ s: evil })).s, evil);
    assert.doesNotMatch(jsonForScript({ s: evil }), /[<>&\u2028\u2029]/);
    assert.equal(renderReport(run_, loadChartAssets()), html, 'deterministic');
  });

  test('assets that would end their element are refused, naming them', async () => {
    const base = await tinyRun();
    const assets = loadChartAssets();
    assert.throws(() => renderReport(base, { ...assets, js: 'var s = "</script>";' }), /cannot inline uPlot into the report: it contains "<\/script" at offset 9/);
    assert.throws(() => renderReport(base, { ...assets, css: 'a{}</style>' }), /cannot inline uPlot's stylesheet/);
  });

  test('charts follow the method: RigL has no fan-in or ablation charts; static and update-less runs say why', async () => {
    const base = await tinyRun();
    const rigl: RunFiles = structuredClone(base);
    rigl.summary.sparse.method = 'rigl';
    rigl.summary.sparse.ablation = false;
    for (const r of rigl.topology ?? []) for (const l of r.layers) l.k = null;
    assert.deepEqual(reportPayload(rigl).charts.map((c) => c.id), ['loss', 'accuracy', 'density']);
    const noAblation: RunFiles = structuredClone(base);
    for (const r of noAblation.topology ?? []) for (const l of r.layers) Object.assign(l, { ablatedNeurons: 0, newlyAblated: 0, revived: 0 });
    assert.deepEqual(reportPayload(noAblation).charts.map((c) => c.id), ['loss', 'accuracy', 'density', 'fan-in']);
    assert.ok(renderReport(noAblation, loadChartAssets()).includes('no neuron was ablated (γ_sal 0.9)'));
    const stat: RunFiles = structuredClone(base);
    stat.summary.sparse.method = 'static';
    stat.topology = (stat.topology ?? []).slice(0, 1);
    assert.deepEqual(reportPayload(stat).charts.map((c) => c.id), ['loss', 'accuracy']);
    assert.ok(renderReport(stat, loadChartAssets()).includes('Static sparse training: the mask drawn at initialisation never changes.'));
    const none: RunFiles = structuredClone(base);
    none.topology = (none.topology ?? []).slice(0, 1);
    assert.ok(renderReport(none, loadChartAssets()).includes('No topology update was made'));
  });
});
