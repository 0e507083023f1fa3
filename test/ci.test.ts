import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

describe('package.json and the srigl launcher', () => {
  const pkg = JSON.parse(readFileSync(join(repoRoot(), 'package.json'), 'utf8'));

  test('the project has no install lifecycle script (npx would run it as an unreviewed directory-dependency script)', () => {
    for (const name of ['preinstall', 'install', 'postinstall', 'prepare', 'preprepare', 'postprepare']) {
      assert.equal(pkg.scripts?.[name], undefined, `package.json has a "${name}" script`);
    }
  });

  test('the bin is the committed, executable launcher, and it runs the CLI', () => {
    assert.deepEqual(pkg.bin, { srigl: 'bin/srigl.js' });
    const launcher = join(repoRoot(), 'bin', 'srigl.js');
    assert.ok((statSync(launcher).mode & 0o111) !== 0, 'bin/srigl.js is not executable');
    // npm test has just built, so the launcher finds the build current and runs it.
    const out = execFileSync(launcher, ['--help'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /^Usage: srigl <command>/);
  });

  test('in a checkout that was never built, --help runs from the sources without building', () => {
    const dir = mkdtempSync(join(tmpdir(), 'srigl-unbuilt-'));
    try {
      for (const name of ['src', 'scripts', 'node_modules', 'package.json', 'tsconfig.json']) symlinkSync(join(repoRoot(), name), join(dir, name));
      mkdirSync(join(dir, 'bin'));
      copyFileSync(join(repoRoot(), 'bin', 'srigl.js'), join(dir, 'bin', 'srigl.js'));
      const run = spawnSync(process.execPath, [join(dir, 'bin', 'srigl.js'), 'train', '--help'], { encoding: 'utf8' });
      assert.equal(run.status, 0, run.stderr);
      assert.match(run.stdout, /^Usage: srigl train/);
      assert.doesNotMatch(run.stderr, /building/);
      assert.ok(!existsSync(join(dir, 'dist')), 'nothing was built');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
