/**
 * uPlot (a runtime dependency), read from wherever Node resolves the package — this checkout's
 * node_modules or, when srigl is installed as a package, the installer's — so that every report
 * carries the library inline and opens from disk with no network.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

/** The library and its stylesheet as text, with what the page prints about them. */
export interface ChartAssets {
  /** uPlot's IIFE build: defines the global `uPlot`. */
  js: string;
  css: string;
  /** The package's LICENSE, carried in the page with the code it covers (MIT). */
  license: string;
  version: string;
}

/** Reads uPlot's minified IIFE build, its stylesheet and license. */
export function loadChartAssets(): ChartAssets {
  const require = createRequire(import.meta.url);
  let pkgPath: string;
  try {
    pkgPath = require.resolve('uplot/package.json');
  } catch (e) {
    throw new Error(`the run report needs the uplot package (a dependency of srigl), which Node cannot find: ${(e as Error).message}`);
  }
  const root = dirname(pkgPath);
  const version = (JSON.parse(readFileSync(pkgPath, 'utf8')) as { version?: unknown }).version;
  return {
    js: readFileSync(join(root, 'dist', 'uPlot.iife.min.js'), 'utf8'),
    css: readFileSync(join(root, 'dist', 'uPlot.min.css'), 'utf8'),
    license: readFileSync(join(root, 'LICENSE'), 'utf8'),
    version: typeof version === 'string' ? version : 'unknown',
  };
}
