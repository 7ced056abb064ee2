/**
 * Task specs and results: what the coordinator hands a worker (a thread, a child process or a
 * SLURM job) and what comes back. A task is a pure function of (paths, ids, config) that
 * writes files under the store and returns a small JSON result; the same entry points run on
 * every executor, so specs and results are plain JSON, checked on both sides.
 */
import { z } from 'zod';
import { jsonValue } from './json.js';
import { resolvedTargetConfig } from './target.js';
import { burnIn, chainFailure, chainsLayer, posteriorLayer, samplerEntry } from './sampling.js';
import { diagnosis } from './analysis.js';
import { failedPair } from './workflow.js';
import { trialTaskResult, trialTaskSpec } from './tune.js';

export const buildTaskSpec = z.strictObject({
  kind: z.literal('build'),
  home: z.string(),
  target: resolvedTargetConfig,
});
export type BuildTaskSpec = z.output<typeof buildTaskSpec>;

export const buildTaskResult = z.strictObject({
  target_id: z.string(),
  dir: z.string(),
  /** True when a complete target already existed and nothing was built. */
  reused: z.boolean(),
});
export type BuildTaskResult = z.output<typeof buildTaskResult>;

/**
 * Sample one target with one sampler. The target entry's posterior, chain and burn-in
 * settings travel with it; the sampler entry's own settings win over them.
 */
export const sampleTaskSpec = z.strictObject({
  kind: z.literal('sample'),
  home: z.string(),
  target_id: z.string(),
  sampler: samplerEntry,
  target_posterior: posteriorLayer.optional(),
  target_chains: chainsLayer.optional(),
  target_burn_in: burnIn.optional(),
  /**
   * Unix ms when the workflow's time budget ends: sampling stops cleanly then, as with the
   * entry's own time_budget. Not part of the run id; a run it cut short is redone next time.
   */
  deadline_ms: z.number().optional(),
  /**
   * Chain threads the workflow chose for this task (cores left idle by the other tasks), when
   * neither entry sets chains.threads. Never changes a number, so not part of the run id.
   */
  threads: z.number().int().min(1).max(256).optional(),
});
export type SampleTaskSpec = z.output<typeof sampleTaskSpec>;

export const sampleTaskResult = z.strictObject({
  run_id: z.string(),
  dir: z.string(),
  reused: z.boolean(),
  failures: z.array(chainFailure),
});
export type SampleTaskResult = z.output<typeof sampleTaskResult>;

export const diagnoseTaskSpec = z.strictObject({
  kind: z.literal('diagnose'),
  run_dir: z.string(),
  force: z.boolean().optional(),
});
export type DiagnoseTaskSpec = z.output<typeof diagnoseTaskSpec>;

export { diagnosis as diagnoseTaskResult };

/**
 * The HTML report of a workflow invocation: the runs `run_dirs` (what the workflow knows once its
 * diagnose tasks are done), else those of `invocation_dir`, else the newest invocation of
 * `experiment` under the store. The page goes to `out_dir`, else `<invocation_dir>/report`, else
 * `<home>/reports/<experiment>`.
 */
export const reportTaskSpec = z.strictObject({
  kind: z.literal('report'),
  home: z.string(),
  experiment: z.string().optional(),
  invocation_dir: z.string().optional(),
  run_dirs: z.array(z.string()).optional(),
  out_dir: z.string().optional(),
  title: z.string().optional(),
  failures: z.array(failedPair).optional(),
  /** The experiment config, shown under "configs used". */
  config: jsonValue.optional(),
});
export type ReportTaskSpec = z.output<typeof reportTaskSpec>;

export const reportTaskResult = z.strictObject({
  path: z.string(),
  runs: z.number().int().nonnegative(),
  with_warnings: z.number().int().nonnegative(),
  failed: z.number().int().nonnegative(),
});
export type ReportTaskResult = z.output<typeof reportTaskResult>;

/**
 * A task defined by an exported function of a module (absolute path): the tests run synthetic
 * tasks (global-state mutators, crashers, sleepers) through every executor with it.
 */
export const moduleTaskSpec = z.strictObject({
  kind: z.literal('module'),
  module: z.string(),
  export: z.string().optional(),
  args: z.array(jsonValue).optional(),
});
export type ModuleTaskSpec = z.output<typeof moduleTaskSpec>;

export const taskSpec = z.discriminatedUnion('kind', [buildTaskSpec, sampleTaskSpec, diagnoseTaskSpec, reportTaskSpec, trialTaskSpec, moduleTaskSpec]);
export type TaskSpec = z.output<typeof taskSpec>;
export type TaskKind = TaskSpec['kind'];

/** The result schema of each task kind (a module task returns any JSON value). */
export const taskResults = {
  build: buildTaskResult,
  sample: sampleTaskResult,
  diagnose: diagnosis,
  report: reportTaskResult,
  trial: trialTaskResult,
  module: jsonValue,
} as const satisfies Record<TaskKind, z.ZodType>;
export type TaskResultOf<K extends TaskKind> = z.output<(typeof taskResults)[K]>;

/**
 * What a worker (thread, child process, SLURM job) hands back: the task's result or its error.
 * A child process writes it to its result file (with its pid); a thread returns it (with its
 * thread id and pid).
 */
export const workerReply = z.discriminatedUnion('ok', [
  z.strictObject({
    ok: z.literal(true),
    result: jsonValue,
    walltime_s: z.number(),
    pid: z.number().int().optional(),
    thread_id: z.number().int().optional(),
  }),
  z.strictObject({
    ok: z.literal(false),
    error: z.strictObject({ kind: z.literal('task_error'), message: z.string(), stack: z.string().optional() }),
    walltime_s: z.number(),
    pid: z.number().int().optional(),
    thread_id: z.number().int().optional(),
  }),
]);
export type WorkerReply = z.output<typeof workerReply>;

/** What a worker thread needs of its progress port (a node:worker_threads MessagePort). */
export interface ProgressPort {
  postMessage(value: unknown): void;
  close(): void;
}

/**
 * The thread executor's message to a worker thread: the task, the files its output goes to, and
 * the port its progress records (src/contracts/progress.ts) go back through.
 */
export const threadTaskMessage = z.strictObject({
  spec: taskSpec,
  outPath: z.string(),
  errPath: z.string(),
  progressPort: z.custom<ProgressPort>(
    (v) => typeof v === 'object' && v !== null && typeof (v as ProgressPort).postMessage === 'function',
    { message: 'expected a MessagePort' },
  ).optional(),
});
export type ThreadTaskMessage = z.output<typeof threadTaskMessage>;

