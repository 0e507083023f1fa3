import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { readCheckpoint } from '../../src/io/checkpoint.js';
import { readCondensed } from '../../src/io/condensed-file.js';
import { readModelFile } from '../../src/io/validate.js';
import { repoRoot } from '../paths.js';

const CORPUS = join(repoRoot(), 'test', 'io', 'corpus');
const manifest = JSON.parse(readFileSync(join(CORPUS, 'manifest.json'), 'utf8')) as { file: string; loader: 'model' | 'condensed' | 'checkpoint'; error: string }[];

const LOADERS: Record<string, (path: string) => unknown> = {
  model: (path) => readModelFile(path),
  condensed: (path) => readCondensed(path),
  checkpoint: (path) => readCheckpoint(path),
};

describe('malformed-file corpus (test/io/corpus, from scripts/make-corpus.mjs)', () => {
  test('holds at least 40 files, each listed once with a loader and an error', () => {
    assert.ok(manifest.length >= 40, `${manifest.length} cases`);
    assert.equal(new Set(manifest.map((c) => c.file)).size, manifest.length);
    for (const c of manifest) {
      assert.ok(existsSync(join(CORPUS, c.file)), c.file);
      assert.ok(c.loader in LOADERS, `${c.file}: loader ${c.loader}`);
    }
  });

  for (const c of manifest) {
    test(`${c.file} is rejected: ${c.error}`, () => {
      const path = join(CORPUS, c.file);
      const memBefore = process.memoryUsage().arrayBuffers;
      const t0 = performance.now();
      let error: unknown = null;
      try {
        LOADERS[c.loader](path);
      } catch (e) {
        error = e;
      }
      const ms = performance.now() - t0;
      const grown = process.memoryUsage().arrayBuffers - memBefore;
      assert.ok(error instanceof Error, `${c.file} was accepted`);
      assert.ok(error.message.includes(c.error), `${c.file}: expected an error containing\n  ${c.error}\ngot\n  ${error.message}`);
      assert.ok(error.message.startsWith(path), `the error names the file: ${error.message}`);
      // Generous bounds: a loader that trusted a claimed size would take far longer or far more.
      assert.ok(ms < 2000, `${c.file} took ${ms.toFixed(0)} ms`);
      assert.ok(grown < 64 * 2 ** 20, `${c.file} grew array buffers by ${grown} bytes`);
    });
  }
});
