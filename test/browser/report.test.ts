/**
 * A run's report.html (written by `srigl train`, rebuilt by `srigl report`) is one self-contained
 * page: opened from disk in headless Chromium it must render its charts with no console error,
 * no uncaught exception and no request beyond the file itself.
 */
import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { run, SUBSET, withTempDir } from '../cli/harness.js';
import { browserSkip, openPage, screenshot, withBrowser } from './harness.js';

describe('report.html in Chromium', { skip: browserSkip() }, () => {
  test('renders with no console error and no network request', async (t) => {
    await withTempDir('srigl-report-', async (dir) => {
      const trained = await run('train', '--epochs', '2', '--limit-train', '2000', '--delta-t', '10', '--data', SUBSET, '--out', dir, '--quiet');
      assert.equal(trained.code, 0, trained.err);
      const report = join(dir, 'report.html');
      if (!existsSync(report)) {
        // `srigl report` rebuilds it where train did not write it.
        const rebuilt = await run('report', dir);
        if (rebuilt.code !== 0 || !existsSync(report)) {
          t.skip(`no report.html in the run directory and \`srigl report\` did not write one (${(rebuilt.err || rebuilt.out).trim()}): the report generator is not in this build`);
          return;
        }
      }
      const url = pathToFileURL(report).href;
      await withBrowser({}, async (browser) => {
        const w = await openPage(browser, url);
        try {
          await w.page.waitForLoadState('load');
          // Charts draw after load; give their frames a moment, then look.
          await w.page.evaluate(() => new Promise((resolve) => requestAnimationFrame(() => requestAnimationFrame(resolve))));
          assert.deepEqual(w.consoleErrors, [], 'console errors');
          assert.deepEqual(w.pageErrors, [], 'uncaught errors');
          assert.deepEqual(w.failedRequests, [], 'failed requests');
          assert.deepEqual(w.requests, [url], 'the report requested something beyond itself');
          assert.ok((await w.page.locator('canvas, svg').count()) > 0, 'the report draws no chart');
          assert.ok(((await w.page.textContent('body')) ?? '').includes('fc1'), 'the report names no layer');
          await screenshot(w.page, 'report');
        } finally {
          await w.close();
        }
      });
    });
  });
});
