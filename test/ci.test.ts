import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './paths.js';

const ci = readFileSync(join(repoRoot(), '.ci', 'run'), 'utf8');
const readme = readFileSync(join(repoRoot(), 'README.md'), 'utf8');
/** The commands of .ci/run, comments and blank lines dropped. */
const commands = ci.split('\n').map((l) => l.replace(/(^|\s)#.*$/, '').trim()).filter((l) => l !== '');

/** The commands of the README's set-up block (```sh after "## Set-up"), comments dropped. */
function setupCommands(): string[] {
  const section = readme.slice(readme.indexOf('## Set-up'));
  const block = /```sh\n([\s\S]*?)```/.exec(section);
  assert.ok(block, 'README has no ```sh block under "## Set-up"');
  return block[1].split('\n').map((l) => l.replace(/\s+#.*$/, '').trim()).filter((l) => l !== '');
}

describe('.ci/run', () => {
  test('sets no *_INSTALL (or other npm install workaround) variable', () => {
    for (const line of commands) {
      assert.doesNotMatch(line, /\b[A-Z0-9_]*_INSTALL[A-Z0-9_]*=/, `.ci/run sets an install variable: ${line}`);
      assert.doesNotMatch(line, /\bnpm_config_\w+=/i, `.ci/run sets an npm config variable: ${line}`);
      assert.doesNotMatch(line, /--ignore-scripts/, `.ci/run skips install scripts: ${line}`);
    }
  });

  test('runs the README set-up commands exactly as written, the main job included', () => {
    const setup = setupCommands();
    assert.deepEqual(setup, ['npm ci && npx srigl train', 'npm test']);
    for (const cmd of setup) assert.ok(commands.includes(cmd), `.ci/run does not run "${cmd}" as the README writes it`);
    // The main job runs before any Debian package is installed: on the embedded subset, as on a fresh machine.
    assert.ok(commands.indexOf(setup[0]) < commands.findIndex((l) => l.includes('apt-get install')), 'npx srigl train must run before apt-get installs the full dataset');
  });
});
