/**
 * Shared harness for the browser tests: Debian's Chromium driven headless by playwright-core
 * (no browser download: CI installs the `chromium` package, see .ci/run), the demo server on a
 * free port, and per page the console errors, uncaught errors and every request, so a test can
 * assert that a page stays quiet and offline. Screenshots go to test-results/ (a CI artefact).
 *
 * Reusable beyond the demo: `launchBrowser({ args })` takes extra Chromium flags (e.g.
 * `--enable-unsafe-webgpu --use-webgpu-adapter=swiftshader` for WebGPU tests), and `openPage`
 * watches any URL, file:// included.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startDemoServer, type DemoServer, type DemoServerOptions } from '../../src/cli/commands/demo.js';
import { repoRoot } from '../paths.js';

/** The Chromium the tests drive: $SRIGL_CHROMIUM, else Debian's /usr/bin/chromium. */
export const CHROMIUM = process.env.SRIGL_CHROMIUM ?? '/usr/bin/chromium';

/** Where screenshots and other artefacts go: test-results/ at the repository root. */
export const RESULTS = join(repoRoot(), 'test-results');

/**
 * Why browser tests cannot run here, or null when they can: `test(name, { skip: browserSkip() }, …)`
 * skips with this message where Chromium is not installed.
 */
export function browserSkip(): string | false {
  if (existsSync(CHROMIUM)) return false;
  return `no Chromium at ${CHROMIUM} (apt-get install chromium, or set SRIGL_CHROMIUM): browser tests skipped`;
}

export interface LaunchOptions {
  /** Chromium flags added to the defaults (`--no-sandbox`: CI runs as root). */
  args?: readonly string[];
  /** Milliseconds to wait for the browser to start. Default 30,000. */
  timeoutMs?: number;
}

/** Launches headless Chromium (CHROMIUM) with `--no-sandbox` and `opts.args`. */
export function launchBrowser(opts: LaunchOptions = {}): Promise<Browser> {
  return chromium.launch({ executablePath: CHROMIUM, headless: true, args: ['--no-sandbox', ...(opts.args ?? [])], timeout: opts.timeoutMs ?? 30_000 });
}

/** A page under watch: what it logged as errors, threw, and requested. */
export interface WatchedPage {
  page: Page;
  context: BrowserContext;
  /** console.error messages (and failed resource loads, which Chromium logs as errors). */
  consoleErrors: string[];
  /** Uncaught exceptions in the page. */
  pageErrors: string[];
  /** Every request the page (and its workers) made: URL. */
  requests: string[];
  /** Requests that failed: URL and reason. */
  failedRequests: string[];
  /** Closes the page's context. */
  close(): Promise<void>;
}

/** Opens `url` in a fresh context of `browser`, recording errors and requests from before the first one. */
export async function openPage(browser: Browser, url: string, opts: { viewport?: { width: number; height: number } } = {}): Promise<WatchedPage> {
  const context = await browser.newContext({ viewport: opts.viewport ?? { width: 1100, height: 1400 } });
  const page = await context.newPage();
  const watched: WatchedPage = {
    page, context, consoleErrors: [], pageErrors: [], requests: [], failedRequests: [],
    close: () => context.close(),
  };
  page.on('console', (m) => {
    if (m.type() === 'error') watched.consoleErrors.push(m.text());
  });
  page.on('pageerror', (e) => watched.pageErrors.push(e.message));
  // Context-wide, so requests from the page's workers count too.
  context.on('request', (r) => watched.requests.push(r.url()));
  context.on('requestfailed', (r) => watched.failedRequests.push(`${r.url()}: ${r.failure()?.errorText ?? 'failed'}`));
  await page.goto(url);
  return watched;
}

/** Saves a full-page screenshot as test-results/<name>.png and returns its path. */
export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(RESULTS, { recursive: true });
  const path = join(RESULTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}

/** Runs `fn` with the demo server started on a free port (127.0.0.1), closing it afterwards. */
export async function withDemoServer<T>(opts: DemoServerOptions, fn: (server: DemoServer) => Promise<T>): Promise<T> {
  const server = await startDemoServer({ port: 0, ...opts });
  try {
    return await fn(server);
  } finally {
    await server.close();
  }
}

/** Runs `fn` with a launched browser, closing it afterwards. */
export async function withBrowser<T>(opts: LaunchOptions, fn: (browser: Browser) => Promise<T>): Promise<T> {
  const browser = await launchBrowser(opts);
  try {
    return await fn(browser);
  } finally {
    await browser.close();
  }
}
