/**
 * The task dispatcher: a JSON spec -> the stage function that does the work. The same function
 * runs inside a worker thread (thread-worker.ts), a fresh child process (child.ts) and a SLURM
 * job (child.ts again), so a spec carries only paths, ids and config.
 *
 * Stage modules are imported lazily: a child process that runs a sample task never loads the
 * report code, and the dispatcher itself stays cheap to import.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { TaskSpec } from './types.js';
import type { ReportSpec } from './report.js';

/**
 * A task defined by an exported function of a module (absolute path): used by the tests to
 * run synthetic tasks (global-state mutators, crashers, sleepers) through every executor.
 */
export interface ModuleTaskSpec {
  kind: 'module';
  module: string;
  export?: string;
  args?: unknown[];
}

/** `--promote`: the HTML report of the invocation's runs (src/tasks/report.ts). */
export type ReportTaskSpec = ReportSpec;

export type AnyTaskSpec = TaskSpec | ModuleTaskSpec | ReportTaskSpec;

type StageFn = (spec: never) => unknown;
type StageName = 'build' | 'sample' | 'diagnose' | 'report';

/** Imports a sibling stage module by name; a missing module is a clear error, not a crash. */
async function stage(file: string, exportName: string): Promise<StageFn> {
  // Imported on demand: a process that runs one sample task never loads the diagnose stage's
  // plotting libraries (~1 s of start-up per task). A relative .js specifier, as a static import
  // would say: from source, tsx maps it to the .ts file (an absolute .ts URL fails inside worker
  // threads).
  const url = new URL(`./${file}.js`, import.meta.url);
  let mod: Record<string, unknown>;
  try {
    mod = (await import(`./${file}.js`)) as Record<string, unknown>;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND' && String(err).includes(file)) {
      throw new Error(`task stage ${file} is not available in this build (${url.pathname} is missing): ${String(err)}`);
    }
    throw err;
  }
  const fn = mod[exportName];
  if (typeof fn !== 'function') throw new Error(`${url.pathname} does not export a function ${exportName}`);
  return fn as StageFn;
}

const EXPORTS: Record<StageName, string> = {
  build: 'buildTask',
  sample: 'sampleTask',
  diagnose: 'diagnoseTask',
  report: 'reportTask',
};

export async function runTask(spec: AnyTaskSpec): Promise<unknown> {
  switch (spec.kind) {
    case 'build':
    case 'sample':
    case 'diagnose':
    case 'report':
      return (await stage(spec.kind, EXPORTS[spec.kind]))(spec as never);
    case 'module': {
      if (!isAbsolute(spec.module)) throw new Error(`module task: '${spec.module}' must be an absolute path`);
      const mod = (await import(pathToFileURL(spec.module).href)) as Record<string, unknown>;
      const name = spec.export ?? 'default';
      const fn = mod[name];
      if (typeof fn !== 'function') throw new Error(`module task: ${spec.module} has no exported function '${name}'`);
      return await (fn as (...a: unknown[]) => unknown)(...(spec.args ?? []));
    }
    default: {
      const kind = (spec as { kind?: unknown }).kind;
      throw new Error(`unknown task kind ${JSON.stringify(kind)} (expected build, sample, diagnose, report or module)`);
    }
  }
}

/** What a worker (thread, child, job) hands back: a result or the task's error, as JSON. */
export type WorkerReply =
  | { ok: true; result: unknown; walltime_s: number }
  | { ok: false; error: { kind: 'task_error'; message: string; stack?: string }; walltime_s: number };

export async function runTaskReply(spec: AnyTaskSpec): Promise<WorkerReply> {
  const t0 = performance.now();
  try {
    const result = await runTask(spec);
    // Round-trip through JSON so every executor hands back exactly the same value.
    return { ok: true, result: JSON.parse(JSON.stringify(result ?? null)) as unknown, walltime_s: (performance.now() - t0) / 1000 };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return {
      ok: false,
      error: { kind: 'task_error', message: e.message, ...(e.stack ? { stack: e.stack } : {}) },
      walltime_s: (performance.now() - t0) / 1000,
    };
  }
}
