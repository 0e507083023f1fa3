/**
 * `srigl demo`: serves the browser demo (dist/browser, built by scripts/build-browser.mjs) and
 * the embedded Fashion-MNIST subset from a small static server on 127.0.0.1, with the
 * cross-origin isolation headers (COOP/COEP) that give the page SharedArrayBuffer, and so the
 * kernels their worker threads. Nothing but those two folders is served.
 */
import { createReadStream, existsSync, statSync, type Stats } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, extname, join } from 'node:path';
import { defaultEmbeddedRoot } from '../../data/locate.js';
import { formatHelp, parseArgs, UsageError, type OptionSpec } from '../args.js';
import type { CliIo } from '../io.js';

/** The port `srigl demo` listens on unless told otherwise. */
export const DEMO_PORT = 8173;

const SPECS: OptionSpec[] = [
  { name: 'port', kind: 'int', arg: 'N', min: 0, help: `Port to listen on; 0 picks a free one. Default ${DEMO_PORT}.` },
  {
    name: 'host', kind: 'bool',
    help: 'Listen on every interface (0.0.0.0), not only 127.0.0.1. Default off. Other machines reach the page over plain http, which browsers do not treat as a secure context: there it runs on one thread.',
  },
  { name: 'isolation', kind: 'bool', help: 'Send the COOP/COEP headers that make the page cross-origin isolated (threads). Default on; --no-isolation shows the one-thread page.' },
];

export const DEMO_HELP = formatHelp(
  'srigl demo [options]',
  'Serves the browser demo on http://127.0.0.1:PORT/ and prints the URL; Ctrl-C stops it. The page trains the SRigL mlp on the embedded\n' +
    'Fashion-MNIST subset in a Web Worker with live charts, condenses it, times dense against condensed in the browser and shows\n' +
    'predictions; a *.condensed.safetensors file dropped on the page runs there too.',
  SPECS,
);

/** Content types by extension: wasm must be application/wasm for streaming compilation. */
const MIME: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.map': 'application/json; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.wasm': 'application/wasm',
  '.gz': 'application/gzip',
  '.md': 'text/markdown; charset=utf-8',
};

/** A path segment that may be served: no dot files (so no `..`), no separators, nothing odd. */
const SEGMENT = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export interface DemoServerOptions {
  /** Port; 0 picks a free one. Default DEMO_PORT. */
  port?: number;
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Send COOP/COEP (cross-origin isolation, so threads). Default true. */
  isolate?: boolean;
  /** The browser build. Default `<package>/dist/browser`. */
  root?: string;
  /** Served under /data/. Default the embedded Fashion-MNIST subset, `<package>/data/fashion-mnist-subset`. */
  dataDir?: string;
}

export interface DemoServer {
  /** `http://127.0.0.1:PORT/` (the listening address; 127.0.0.1 when listening on every interface). */
  url: string;
  port: number;
  isolated: boolean;
  /** Stops listening and ends open connections. */
  close(): Promise<void>;
}

/** The file a request path names, or null: `/` is index.html, `/data/NAME` a data file, anything else a file of the build. */
function fileFor(pathname: string, root: string, dataDir: string): string | null {
  if (pathname === '/') return join(root, 'index.html');
  const parts = pathname.slice(1).split('/');
  if (!parts.every((p) => SEGMENT.test(p))) return null;
  if (parts[0] === 'data') return parts.length === 2 ? join(dataDir, parts[1]) : null;
  return join(root, ...parts);
}

/** The file's stats, or undefined when there is nothing to serve there (missing, or a path through a file: ENOTDIR). */
function statOrNothing(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

/** Starts the demo server; resolves once it listens. */
export async function startDemoServer(opts: DemoServerOptions = {}): Promise<DemoServer> {
  const pkg = dirname(defaultEmbeddedRoot());
  const root = opts.root ?? join(pkg, 'dist', 'browser');
  const dataDir = opts.dataDir ?? join(defaultEmbeddedRoot(), 'fashion-mnist-subset');
  const isolated = opts.isolate ?? true;
  if (!existsSync(join(root, 'index.html'))) throw new Error(`${root} holds no browser build (index.html); run \`npm run build\``);
  const host = opts.host ?? '127.0.0.1';

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const headers: Record<string, string> = {
      'Cache-Control': 'no-cache',
      'X-Content-Type-Options': 'nosniff',
      'Cross-Origin-Resource-Policy': 'same-origin',
    };
    if (isolated) {
      headers['Cross-Origin-Opener-Policy'] = 'same-origin';
      headers['Cross-Origin-Embedder-Policy'] = 'require-corp';
    }
    const fail = (status: number, text: string, extra: Record<string, string> = {}): void => {
      res.writeHead(status, { ...headers, ...extra, 'Content-Type': 'text/plain; charset=utf-8' }).end(`${text}\n`);
    };
    if (req.method !== 'GET' && req.method !== 'HEAD') return fail(405, 'only GET and HEAD', { Allow: 'GET, HEAD' });
    let pathname: string;
    try {
      pathname = decodeURIComponent(new URL(req.url ?? '/', 'http://localhost').pathname);
    } catch {
      return fail(400, 'bad request path');
    }
    const file = fileFor(pathname, root, dataDir);
    const stat = file === null ? undefined : statOrNothing(file);
    if (file === null || !stat?.isFile()) return fail(404, `not found: ${pathname}`);
    res.writeHead(200, { ...headers, 'Content-Type': MIME[extname(file)] ?? 'application/octet-stream', 'Content-Length': String(stat.size) });
    if (req.method === 'HEAD') return void res.end();
    createReadStream(file).on('error', () => res.destroy()).pipe(res);
  };

  const server: Server = createServer(handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(e.code === 'EADDRINUSE' ? new Error(`port ${opts.port ?? DEMO_PORT} on ${host} is in use; pass --port N (0 picks a free one)`) : e));
    server.listen(opts.port ?? DEMO_PORT, host, () => resolve());
  });
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://${host === '0.0.0.0' || host === '::' ? '127.0.0.1' : host}:${port}/`,
    port,
    isolated,
    close: () => new Promise<void>((resolve, reject) => {
      server.close((e) => (e ? reject(e) : resolve()));
      // Browsers keep connections alive; without this close() would wait for them.
      server.closeAllConnections();
    }),
  };
}

/** Resolves on the first Ctrl-C (SIGINT) or SIGTERM, which then no longer end the process by themselves. */
function interrupted(): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve();
    };
    process.on('SIGINT', done);
    process.on('SIGTERM', done);
  });
}

/**
 * `srigl demo [--port N] [--host] [--no-isolation]`: serves until `until` resolves (Ctrl-C or
 * SIGTERM by default), then closes the server and returns 0.
 */
export async function demoCommand(argv: readonly string[], io: CliIo, until?: Promise<void>): Promise<number> {
  const args = parseArgs(argv, SPECS, 'srigl demo');
  if (args.help) {
    io.stdout.write(DEMO_HELP);
    return 0;
  }
  if (args.positionals.length > 0) throw new UsageError(`srigl demo: unexpected argument "${args.positionals[0]}" (see srigl demo --help)`);
  const port = (args.options.get('port') as number | undefined) ?? DEMO_PORT;
  if (port > 65535) throw new UsageError(`srigl demo: --port expects a port number ≤ 65535, got "${port}"`);
  const isolate = args.options.get('isolation') !== false;
  const host = args.options.get('host') === true ? '0.0.0.0' : '127.0.0.1';
  const server = await startDemoServer({ port, host, isolate });
  io.stdout.write(`srigl demo: open ${server.url}\n`);
  io.stderr.write(
    (isolate
      ? 'srigl demo: the page is cross-origin isolated (COOP/COEP headers): the kernels run on Web Workers over SharedArrayBuffer'
      : 'srigl demo: --no-isolation: the page is not cross-origin isolated, so its kernels run on one thread') +
      (host === '0.0.0.0' ? '; listening on every interface (from other machines, plain http is not a secure context: one thread)' : '') +
      '. Ctrl-C stops.\n',
  );
  await (until ?? interrupted());
  await server.close();
  io.stderr.write('srigl demo: stopped\n');
  return 0;
}
