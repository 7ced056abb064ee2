/**
 * What a workflow invocation leaves in its own directory: workflow.json (what it planned),
 * results.csv / results.feather (one row per target x sampler of this invocation) and
 * summary.json (every task's outcome).
 */
import { z } from 'zod';
import { jsonObject } from './json.js';

const stat = z.number().nullable();

export const ROW_STATUSES = ['ok', 'failed', 'dependency_failed', 'cancelled'] as const;
export type RowStatus = (typeof ROW_STATUSES)[number];

/** One row of results.csv / results.feather. */
export const resultRow = z.strictObject({
  target: z.string(),
  sampler: z.string(),
  llc_mean: stat,
  llc_mcse: stat,
  r_hat: stat,
  ess_bulk: stat,
  /** Seconds: the sampler's own walltime from analysis.json, else the tasks' time. */
  walltime: stat,
  status: z.enum(ROW_STATUSES),
  run_dir: z.string().nullable(),
  /** Why the row is not ok: the failing task and its root cause. */
  error: z.string().nullable(),
});
export type ResultRow = z.output<typeof resultRow>;
export type ResultColumn = keyof ResultRow;

/** The columns in file order (the schema's key order). */
export const RESULT_COLUMNS = Object.keys(resultRow.shape) as ResultColumn[];

/** A results.csv row as read back: every cell a string, empty for null. */
export const resultCsvRow = z.object(
  Object.fromEntries(RESULT_COLUMNS.map((c) => [c, z.string()])) as Record<ResultColumn, z.ZodString>,
);
export type ResultCsvRow = z.output<typeof resultCsvRow>;

/** A target x sampler pair of an invocation that produced no usable run. */
export const failedPair = z.strictObject({
  target: z.string(),
  sampler: z.string(),
  status: z.string(),
  error: z.string(),
});
export type FailedPair = z.output<typeof failedPair>;

export const STAGES = ['build', 'sample', 'diagnose', 'report'] as const;
export type Stage = (typeof STAGES)[number];

/** workflow.json, written when an invocation starts. */
export const workflowFile = z.strictObject({
  experiment: z.string(),
  home: z.string(),
  /** The card as loaded (executor, workers, SLURM keys). */
  card: jsonObject,
  /** Each sampler entry's seed, and whether the file gave it or it was derived from the entry's place. */
  samplers: z
    .array(z.strictObject({ index: z.number().int(), name: z.string(), seed: z.number().int(), seed_source: z.enum(['file', 'derived']) }))
    .optional(),
  /** The experiment file, and what was read from the Python system's key names there. */
  config_file: z.string().optional(),
  config_notes: z.array(jsonObject).optional(),
  tasks: z.array(z.strictObject({ id: z.string(), stage: z.enum(STAGES), label: z.string(), deps: z.array(z.string()) })),
  started_at: z.string(),
});
export type WorkflowFile = z.output<typeof workflowFile>;
