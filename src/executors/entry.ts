/**
 * Which file a worker runs. Child processes and SLURM jobs must run something Node can load
 * without our test runner: from the compiled package (dist/, `npm run build`) that is the
 * sibling .js file under plain `node`; when this module itself runs from source (.ts, under
 * vitest or tsx) the worker runs the .ts source with `node --import tsx`, so tests always
 * exercise the code under test and never a stale dist/ (at ~0.35 s more start-up per task).
 */
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';

export interface NodeEntry {
  /** Absolute path of the Node executable running us (children use the same Node). */
  node: string;
  /** Extra Node options (the TypeScript loader when running from source). */
  execArgv: string[];
  /** Absolute path of the entry file. */
  file: string;
  /** True when the entry is TypeScript source run through tsx. */
  fromSource: boolean;
}

export function taskEntry(name: 'child' | 'thread-worker'): NodeEntry {
  const fromSource = import.meta.url.endsWith('.ts');
  if (fromSource && name === 'thread-worker') {
    // Worker threads from source: a JS bootstrap registers tsx before loading the .ts worker.
    const file = fileURLToPath(new URL('../tasks/thread-worker-tsx.mjs', import.meta.url));
    return { node: process.execPath, execArgv: [], file, fromSource };
  }
  const file = fileURLToPath(new URL(`../tasks/${name}.${fromSource ? 'ts' : 'js'}`, import.meta.url));
  const execArgv = fromSource
    ? ['--import', pathToFileURL(createRequire(import.meta.url).resolve('tsx')).href]
    : [];
  return { node: process.execPath, execArgv, file, fromSource };
}

/** The compiled entry under `<root>/dist` (benchmarks of the production path from source). */
export function distEntry(name: 'child' | 'thread-worker', root: string): NodeEntry {
  return { node: process.execPath, execArgv: [], file: fileURLToPath(new URL(`dist/tasks/${name}.js`, pathToFileURL(`${root}/`))), fromSource: false };
}
