// tsc writes new files with mode 0644; the bin named in package.json must be executable, or
// `npx srigl` in a fresh checkout answers "Permission denied". Run after every tsc build.
import { chmodSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const { bin } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
for (const file of Object.values(typeof bin === 'string' ? { srigl: bin } : bin)) chmodSync(join(root, file), 0o755);
