import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { demoCommand, startDemoServer, type DemoServer } from '../../src/cli/commands/demo.js';
import type { CliIo } from '../../src/cli/io.js';
import { repoRoot, run, SUBSET, withTempDir } from './harness.js';

/** A raw GET/HEAD/POST (fetch would normalise `..` out of the path before it is sent). */
function get(server: DemoServer, path: string, method = 'GET'): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port: server.port, path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** A minimal browser build in `dir`, with a secret file beside it that must never be served. */
function fakeBuild(dir: string): { root: string; dataDir: string } {
  const root = join(dir, 'browser');
  const dataDir = join(dir, 'data');
  mkdirSync(join(root, 'wasm'), { recursive: true });
  mkdirSync(dataDir);
  writeFileSync(join(root, 'index.html'), '<!doctype html><title>demo</title>');
  writeFileSync(join(root, 'srigl.js'), 'export {};');
  writeFileSync(join(root, 'demo.css'), 'body{}');
  writeFileSync(join(root, 'wasm', 'srigl-scalar.wasm'), new Uint8Array([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0]));
  writeFileSync(join(root, '.hidden'), 'no');
  writeFileSync(join(dir, 'secret.txt'), 'never served');
  writeFileSync(join(dataDir, 'train-labels-idx1-ubyte.gz'), readFileSync(join(SUBSET, 'train-labels-idx1-ubyte.gz')));
  return { root, dataDir };
}

describe('srigl demo server', () => {
  test('serves the build and the data with their content types and the cross-origin isolation headers', async () => {
    await withTempDir('srigl-demo-', async (dir) => {
      const server = await startDemoServer({ port: 0, ...fakeBuild(dir) });
      try {
        assert.match(server.url, /^http:\/\/127\.0\.0\.1:\d+\/$/);
        const cases: [string, string, string | Buffer][] = [
          ['/', 'text/html; charset=utf-8', '<!doctype html><title>demo</title>'],
          ['/srigl.js', 'text/javascript; charset=utf-8', 'export {};'],
          ['/demo.css', 'text/css; charset=utf-8', 'body{}'],
          ['/wasm/srigl-scalar.wasm', 'application/wasm', Buffer.from([0, 0x61, 0x73, 0x6d, 1, 0, 0, 0])],
          ['/data/train-labels-idx1-ubyte.gz', 'application/gzip', readFileSync(join(SUBSET, 'train-labels-idx1-ubyte.gz'))],
        ];
        for (const [path, type, body] of cases) {
          const r = await get(server, path);
          assert.equal(r.status, 200, path);
          assert.equal(r.headers['content-type'], type, path);
          assert.equal(r.headers['cross-origin-opener-policy'], 'same-origin', path);
          assert.equal(r.headers['cross-origin-embedder-policy'], 'require-corp', path);
          assert.equal(r.headers['content-encoding'], undefined, `${path}: gzip files must arrive as they are (the page gunzips)`);
          assert.ok(r.body.equals(Buffer.from(body)), path);
        }
        const head = await get(server, '/srigl.js', 'HEAD');
        assert.equal(head.status, 200);
        assert.equal(head.headers['content-length'], '10');
        assert.equal(head.body.length, 0);
      } finally {
        await server.close();
      }
    });
  });

  test('serves nothing outside its two folders: traversal, dot files, unknown paths, other methods', async () => {
    await withTempDir('srigl-demo-', async (dir) => {
      const server = await startDemoServer({ port: 0, ...fakeBuild(dir) });
      try {
        for (const path of ['/../secret.txt', '/%2e%2e/secret.txt', '/data/../secret.txt', '/data/%2e%2e%2fsecret.txt', '/.hidden', '/nope.js', '/data', '/data/x/y', '/wasm', '/srigl.js/x', '/%E0%A4%A']) {
          const r = await get(server, path);
          assert.ok(r.status === 404 || r.status === 400, `${path}: ${r.status}`);
          assert.doesNotMatch(r.body.toString(), /never served/, path);
        }
        // Still serving after all that.
        assert.equal((await get(server, '/srigl.js')).status, 200);
        const post = await get(server, '/', 'POST');
        assert.equal(post.status, 405);
        assert.equal(post.headers.allow, 'GET, HEAD');
      } finally {
        await server.close();
      }
    });
  });

  test('without isolation it sends no COOP/COEP (the page then runs on one thread)', async () => {
    await withTempDir('srigl-demo-', async (dir) => {
      const server = await startDemoServer({ port: 0, isolate: false, ...fakeBuild(dir) });
      try {
        const r = await get(server, '/');
        assert.equal(r.status, 200);
        assert.equal(r.headers['cross-origin-opener-policy'], undefined);
        assert.equal(r.headers['cross-origin-embedder-policy'], undefined);
        assert.equal(server.isolated, false);
      } finally {
        await server.close();
      }
    });
  });

  test('a port in use is an error naming it; a missing build says how to build it', async () => {
    await withTempDir('srigl-demo-', async (dir) => {
      const paths = fakeBuild(dir);
      const first = await startDemoServer({ port: 0, ...paths });
      try {
        await assert.rejects(startDemoServer({ port: first.port, ...paths }), new RegExp(`port ${first.port} on 127\\.0\\.0\\.1 is in use; pass --port N \\(0 picks a free one\\)`));
      } finally {
        await first.close();
      }
      await assert.rejects(startDemoServer({ port: 0, root: join(dir, 'none') }), /holds no browser build \(index\.html\); run `npm run build`/);
    });
  });
});

describe('srigl demo command', () => {
  test('prints the URL, serves the real build until stopped, then exits 0', { skip: !existsBuild() && 'dist/browser is not built (npm run build)' }, async () => {
    let out = '';
    let err = '';
    const io: CliIo = { stdout: { write: (s: string) => (out += s) }, stderr: { write: (s: string) => (err += s) } };
    let stop!: () => void;
    const stopped = new Promise<void>((resolve) => (stop = resolve));
    const done = demoCommand(['--port', '0'], io, stopped);
    for (let i = 0; i < 200 && !out.includes('\n'); i++) await new Promise((r) => setTimeout(r, 10));
    const url = /open (http:\/\/127\.0\.0\.1:\d+\/)/.exec(out)?.[1];
    assert.ok(url, `no URL in ${JSON.stringify(out)}`);
    const page = await fetch(url);
    assert.equal(page.status, 200);
    assert.match(await page.text(), /<script type="module" src="demo\.js">/);
    const wasm = await fetch(new URL('wasm/srigl-scalar.wasm', url));
    assert.equal(wasm.headers.get('content-type'), 'application/wasm');
    assert.ok(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer())));
    const data = await fetch(new URL('data/t10k-labels-idx1-ubyte.gz', url));
    assert.ok(Buffer.from(await data.arrayBuffer()).equals(readFileSync(join(SUBSET, 't10k-labels-idx1-ubyte.gz'))));
    assert.match(err, /cross-origin isolated .*Ctrl-C stops/);
    stop();
    assert.equal(await done, 0);
    assert.match(err, /srigl demo: stopped/);
    await assert.rejects(fetch(url), 'the server is closed');
  });

  test('--help, and bad options exit 2 naming the option', async () => {
    const help = await run('demo', '--help');
    assert.equal(help.code, 0);
    assert.match(help.out, /^Usage: srigl demo \[options\]/);
    assert.match(help.out, /--port N/);
    assert.match(help.out, /--isolation, --no-isolation/);
    for (const [args, message] of [
      [['--port', '70000'], /--port expects a port number ≤ 65535, got "70000"/],
      [['--port', 'x'], /--port expects an integer, got "x"/],
      [['--bogus'], /unknown option --bogus/],
      [['extra'], /unexpected argument "extra"/],
    ] as const) {
      const r = await run('demo', ...args);
      assert.equal(r.code, 2, args.join(' '));
      assert.match(r.err, message);
    }
    assert.match((await run('--help')).out, /demo +Serve the browser demo/);
  });
});

function existsBuild(): boolean {
  return existsSync(join(repoRoot(), 'dist', 'browser', 'index.html'));
}
