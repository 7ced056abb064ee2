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
  /** What the target is, e.g. "DLN 4-4-4-4 rank 2". */
  model: z.string().nullable(),
  /** The known learning coefficient of the target (Aoyagi, exact quadratic), when there is one. */
  truth: stat,
  /** "ok", "warn (N): <most serious reason>", or for a row without an estimate its status. */
  trust: z.string(),
  /** z of the cross-sampler comparison of this row (null when it was not compared). */
  agreement_z: stat,
  /** Every reason behind `trust`, in full (target, analysis, agreement); one cell in the files, joined by WARNING_SEPARATOR. */
  warnings: z.array(z.string()),
});
export type ResultRow = z.output<typeof resultRow>;
export type ResultColumn = keyof ResultRow;

/** The columns in file order (the schema's key order). */
export const RESULT_COLUMNS = Object.keys(resultRow.shape) as ResultColumn[];

/** Separates the full warnings in the single `warnings` cell of the CSV and Feather files. */
export const WARNING_SEPARATOR = ' | ';

/**
 * A results.csv row as read back: every cell a string, empty for null. Files written before the
 * trust columns existed lack model, truth, trust, agreement_z and warnings.
 */
export const resultCsvRow = z.object({
  target: z.string(),
  sampler: z.string(),
  llc_mean: z.string(),
  llc_mcse: z.string(),
  r_hat: z.string(),
  ess_bulk: z.string(),
  walltime: z.string(),
  status: z.string(),
  run_dir: z.string(),
  error: z.string(),
  model: z.string().optional(),
  truth: z.string().optional(),
  trust: z.string().optional(),
  agreement_z: z.string().optional(),
  warnings: z.string().optional(),
} satisfies Record<ResultColumn, z.ZodType>);
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
