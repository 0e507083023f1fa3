/**
 * The platform seam: everything the library needs from its host runtime (files, gzip, wasm
 * bytes, workers, the event loop, flags) comes through this one module. It is the Node
 * implementation; the browser bundle (scripts/build-browser.mjs) resolves this file to
 * ./browser.ts instead, which has exactly the same exports (test/platform/seam.test.ts checks
 * both their names and their types). Nothing else in src/ below the CLI imports a Node built-in.
 */
export * from './node.js';
