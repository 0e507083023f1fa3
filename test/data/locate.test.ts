import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, unlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultCacheDir, defaultEmbeddedRoot, loadDataset, locateDataset, type LocateOptions } from '../../src/data/locate.js';
import { writeSyntheticDataset } from './synthetic.js';

/**
 * A temp world with a copy of the dataset in each candidate place, each with a different
 * number of training examples so the loaded data shows which copy was used.
 */
function world(): { root: string; opts: LocateOptions; paths: Record<string, string> } {
  const root = mkdtempSync(join(tmpdir(), 'srigl-loc-'));
  const paths = {
    dir: join(root, 'explicit'),
    env: join(root, 'envdir', 'fashion-mnist'),
    debian: join(root, 'debian', 'fashion-mnist'),
    cache: join(root, 'cache', 'fashion-mnist'),
    embedded: join(root, 'embedded', 'fashion-mnist-subset'),
  };
  Object.values(paths).forEach((p, i) => writeSyntheticDataset(p, { train: 11 + i, gzip: i % 2 === 0 }));
  const opts: LocateOptions = {
    dir: paths.dir,
    env: { SRIGL_DATA: join(root, 'envdir') },
    debianRoot: join(root, 'debian'),
    cacheDir: join(root, 'cache'),
    embeddedRoot: join(root, 'embedded'),
  };
  return { root, opts, paths };
}

describe('locateDataset', () => {
  test('tries dir, SRIGL_DATA, Debian, cache, embedded in that order', async () => {
    const { root, opts, paths } = world();
    try {
      const expectKind = async (o: LocateOptions, kind: string, n: number): Promise<void> => {
        const { source, train } = await loadDataset('fashion-mnist', o);
        assert.deepEqual(source, { kind, path: paths[kind as keyof typeof paths] });
        assert.equal(train.n, n, `${kind} copy loaded`);
      };
      await expectKind(opts, 'dir', 11);
      const noDir = { ...opts, dir: undefined };
      await expectKind(noDir, 'env', 12);
      const noEnv = { ...noDir, env: {} };
      await expectKind(noEnv, 'debian', 13);
      // An incomplete copy is passed over, not half-loaded.
      unlinkSync(join(paths.debian, 't10k-labels-idx1-ubyte.gz'));
      await expectKind(noEnv, 'cache', 14);
      unlinkSync(join(paths.cache, 'train-images-idx3-ubyte'));
      await expectKind(noEnv, 'embedded', 15);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('an explicit dir or SRIGL_DATA without the dataset is an error, not a fall-through', async () => {
    const { root, opts } = world();
    try {
      const empty = join(root, 'debian');
      await assert.rejects(locateDataset('fashion-mnist', { ...opts, dir: join(root, 'cache', 'nothing') }), /--data .*nothing: fashion-mnist not found: missing train-images-idx3-ubyte\[\.gz\]/);
      // A root holding <dataset>/ is accepted too, so one SRIGL_DATA can serve several datasets.
      assert.equal((await locateDataset('fashion-mnist', { ...opts, dir: empty })).path, join(empty, 'fashion-mnist'));
      await assert.rejects(locateDataset('mnist', { ...opts, dir: undefined, env: { SRIGL_DATA: empty } }), /^Error: SRIGL_DATA .*: mnist not found/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('MNIST has no embedded subset: nothing found is a clear error', async () => {
    const { root, opts } = world();
    try {
      await assert.rejects(locateDataset('mnist', { ...opts, dir: undefined, env: {} }), /no copy of mnist found \(looked in .*debian\/mnist, .*cache\/mnist\); pass --data DIR, set SRIGL_DATA, or allow a download/);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('with the default embedded root, Fashion-MNIST falls back to the shipped subset', async () => {
    const root = mkdtempSync(join(tmpdir(), 'srigl-loc-'));
    try {
      const source = await locateDataset('fashion-mnist', { env: {}, debianRoot: root, cacheDir: root });
      assert.deepEqual(source, { kind: 'embedded', path: join(defaultEmbeddedRoot(), 'fashion-mnist-subset') });
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });

  test('default cache dir honours XDG_CACHE_HOME, then HOME', () => {
    assert.equal(defaultCacheDir({ XDG_CACHE_HOME: '/x/cache', HOME: '/h' }), '/x/cache/srigl');
    assert.equal(defaultCacheDir({ HOME: '/h' }), '/h/.cache/srigl');
  });
});
