/**
 * The task dispatcher: a task spec -> the stage function that does the work. The same function
 * runs inside a worker thread (thread-worker.ts), a fresh child process (child.ts) and a SLURM
 * job (child.ts again), so a spec carries only paths, ids and config, and it is checked against
 * its contract (src/contracts/tasks.ts) where it arrives.
 *
 * Stage modules are imported lazily: a child process that runs a sample task never loads the
 * report code (the plotting libraries cost ~1 s of start-up), and the dispatcher itself stays
 * cheap to import.
 */
import { isAbsolute } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseContract, taskSpec, toJson, type JsonValue, type ProgressSink, type TaskSpec, type WorkerReply } from '../contracts/index.js';

/** What the entry point gives a task besides its spec. */
export interface TaskContext {
  /** Where the long stages (training, tuning, sampling) report their progress. */
  progress?: ProgressSink;
}

export async function runTask(spec: TaskSpec, ctx: TaskContext = {}): Promise<JsonValue> {
  const progress = ctx.progress ? { onProgress: ctx.progress } : {};
  switch (spec.kind) {
    case 'build':
      return (await import('./build.js')).buildTask(spec, progress);
    case 'sample':
      return (await import('./sample.js')).sampleTask(spec, progress);
    case 'diagnose':
      return (await import('./diagnose.js')).diagnoseTask(spec);
    case 'report':
      return (await import('./report.js')).reportTask(spec);
    case 'trial':
      return (await import('./trial.js')).trialTask(spec);
    case 'module': {
      if (!isAbsolute(spec.module)) throw new Error(`module task: '${spec.module}' must be an absolute path`);
      const mod = (await import(pathToFileURL(spec.module).href)) as Record<string, unknown>;
      const name = spec.export ?? 'default';
      const fn = mod[name];
      if (typeof fn !== 'function') throw new Error(`module task: ${spec.module} has no exported function '${name}'`);
      return toJson(await (fn as (...a: JsonValue[]) => unknown)(...(spec.args ?? [])));
    }
  }
}

/**
 * Runs a spec received from the coordinator (`where` names it: the spec file, or the thread
 * message) and hands back its result or its error as JSON. An off-contract spec is a task error
 * that names where it came from and the offending key.
 */
export async function runTaskReply(spec: unknown, where: string, ctx: TaskContext = {}): Promise<WorkerReply> {
  const t0 = performance.now();
  try {
    const checked = parseContract(taskSpec, spec, where, 'task spec');
    // Through toJson so every executor hands back exactly the same value (no NaN, no undefined).
    const result = toJson(await runTask(checked, ctx));
    return { ok: true, result, walltime_s: (performance.now() - t0) / 1000 };
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return {
      ok: false,
      error: { kind: 'task_error', message: e.message, ...(e.stack ? { stack: e.stack } : {}) },
      walltime_s: (performance.now() - t0) / 1000,
    };
  }
}
