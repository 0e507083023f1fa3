import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { run, SUBSET, withTempDir } from './harness.js';

describe('srigl CLI', () => {
  test('--help lists the commands; each command documents every option with its default', async () => {
    const top = await run('--help');
    assert.equal(top.code, 0);
    assert.match(top.out, /train[\s\S]*eval[\s\S]*bench/);
    const train = await run('train', '--help');
    assert.equal(train.code, 0);
    for (const opt of ['--model', '--dataset', '--data', '--epochs', '--batch-size', '--lr', '--optimizer', '--momentum', '--nesterov', '--weight-decay', '--schedule', '--warmup-epochs', '--label-smoothing', '--clip-norm', '--seed', '--threads', '--backend', '--out', '--json', '--limit-train', '--quiet']) {
      const line = train.out.split('\n').find((l) => l.trimStart().startsWith(opt + ' ') || l.trimStart().startsWith(opt + ','));
      assert.ok(line, `train --help lacks ${opt}`);
      assert.match(line, /Default/, `${opt} help names no default`);
    }
    assert.equal((await run('eval', '--help')).code, 0);
    assert.equal((await run('bench', '--help')).code, 0);
  });

  test('bad input: the message names the option and value, exit status 2', async () => {
    const cases: [string[], RegExp][] = [
      [['train', '--epochs', 'three'], /--epochs expects an integer, got "three"/],
      [['train', '--epochs', '0'], /--epochs expects an integer ≥ 1, got "0"/],
      [['train', '--model', 'vgg'], /--model expects one of mlp, cnn, resnet, vit, got "vgg"/],
      [['train', '--lr'], /--lr needs a value/],
      [['train', '--frobnicate'], /unknown option --frobnicate/],
      [['train', '--label-smoothing', '1'], /--label-smoothing/],
      [['train', '--optimizer', 'adamw', '--momentum', '0.5'], /--momentum and --nesterov apply to --optimizer sgd only/],
      [['train', 'extra'], /unexpected argument "extra"/],
      [['eval'], /expected one MODEL file, got none/],
      [['bench', 'gpus'], /expected the benchmark name "kernels" or "inference", got "gpus"/],
      [['launch'], /unknown command "launch"/],
    ];
    for (const [argv, re] of cases) {
      const r = await run(...argv);
      assert.equal(r.code, 2, `${argv.join(' ')} → ${r.code}: ${r.err}`);
      assert.match(r.err, re, argv.join(' '));
    }
  });

  test('a tiny dense train run writes model, metrics and summary; eval reproduces its accuracy', async () => {
    await withTempDir('srigl-cli-', async (out) => {
      const r = await run('train', '--method', 'dense', '--data', SUBSET, '--limit-train', '256', '--limit-test', '300', '--epochs', '1', '--batch-size', '64', '--out', out, '--json', '--quiet', '--seed', '3');
      assert.equal(r.code, 0, r.err);
      const summary = JSON.parse(r.out);
      assert.equal(summary.data.train, 256);
      assert.equal(summary.data.source, 'dir');
      assert.ok(summary.final.testAcc > 0.3, `test accuracy ${summary.final.testAcc} after one epoch on 256 examples`);
      const lines = readFileSync(join(out, 'metrics.jsonl'), 'utf8').trim().split('\n');
      assert.equal(lines.length, 1);
      assert.equal(JSON.parse(lines[0]).testAcc, summary.final.testAcc);
      assert.deepEqual(JSON.parse(readFileSync(join(out, 'summary.json'), 'utf8')), summary);
      const curves = readFileSync(join(out, 'curves.svg'), 'utf8');
      assert.ok(curves.includes('mlp: loss') && curves.includes('mlp: accuracy'));
      assert.equal((curves.match(/<polyline /g) ?? []).length, 4, 'train and test, loss and accuracy');

      const e = await run('eval', join(out, 'model.safetensors'), '--data', SUBSET, '--limit-test', '300', '--json', '--batch-size', '100');
      assert.equal(e.code, 0, e.err);
      const res = JSON.parse(e.out);
      assert.equal(res.n, 300);
      assert.equal(res.accuracy, summary.final.testAcc);
      assert.ok(Math.abs(res.loss - summary.final.testLoss) < 1e-4, `${res.loss} vs ${summary.final.testLoss}`);
    });
  });

  test('eval of a file that is not a model fails with status 1 and a message', async () => {
    await withTempDir('srigl-cli-', async (dir) => {
      const r = await run('eval', join(dir, 'missing.safetensors'));
      assert.equal(r.code, 1);
      assert.match(r.err, /missing\.safetensors/);
    });
  });
});
