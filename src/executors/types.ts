/**
 * The executor contract: how a task runs (thread, child process, SLURM job) is separate from
 * what it does (src/tasks) and from the order tasks run in (src/workflow). Every executor takes
 * a small JSON spec of paths and ids and gives back a small JSON result or a structured error.
 */
import type { JsonValue, ProgressRecord, TaskSpec } from '../contracts/index.js';

export type ErrorKind =
  /** The task function threw; message and stack come from the task. */
  | 'task_error'
  /** The worker exited non-zero (or was killed by a signal) without writing a result. */
  | 'crashed'
  /** The worker exited 0 but its result file is missing or unreadable. */
  | 'bad_result'
  /** We stopped it (Ctrl-C, scancel). */
  | 'cancelled'
  | 'timeout'
  | 'out_of_memory'
  /** The scheduler refused the job (sbatch failed) or lost track of it. */
  | 'submit_failed'
  | 'lost'
  /** The job ended in another SLURM failure state (FAILED, NODE_FAIL, ...). */
  | 'slurm_failed'
  /** Not run because a task it depends on failed (set by the workflow, not executors). */
  | 'dependency_failed';

export interface TaskError {
  kind: ErrorKind;
  message: string;
  exit_code?: number;
  signal?: string;
  stderr_tail?: string;
  log_path?: string;
  job_id?: string;
  stack?: string;
}

export type TaskOutcome =
  | { ok: true; result: JsonValue; walltime_s: number; log_path?: string; job_id?: string }
  | { ok: false; error: TaskError; walltime_s: number };

export interface TaskRequest {
  /** Unique within an invocation and filesystem-safe: names the task's spec, result and logs. */
  key: string;
  spec: TaskSpec;
  /** Called when the task leaves the queue: a worker starts it, or its job is submitted. */
  onStart?: () => void;
  /**
   * Time budget from the moment the task starts (seconds): past it the worker is stopped and
   * the outcome is a `timeout` error (a SLURM job gets it as its time limit).
   */
  timeout_s?: number;
  /** Progress records of the running task, checked against their contract, in order. */
  onProgress?: (r: ProgressRecord) => void;
  /**
   * Asked once a worker slot is free, right before the task starts: the spec to run then (e.g.
   * with chain threads for the cores the other tasks leave idle), or null not to start it at
   * all (the outcome is `cancelled` with the reason given).
   */
  atStart?: () => { spec: TaskSpec } | { skip: string };
}

export interface Executor {
  readonly kind: 'threads' | 'processes' | 'slurm';
  readonly maxWorkers: number;
  /** Runs one task (queued until a slot is free). Never rejects: failures are outcomes. */
  run(req: TaskRequest): Promise<TaskOutcome>;
  /** Stops everything: queued tasks never start, running ones are killed / scancelled. */
  cancel(): Promise<void>;
  /** Releases the pool; waits for nothing still queued. */
  close(): Promise<void>;
}

/** Where an executor puts per-task files, inside the invocation's run directory. */
export interface ExecutorDirs {
  /** `<run>/tasks`: spec and result JSON of each task attempt. */
  tasksDir: string;
  /** `<run>/logs`: `<key>.out` and `<key>.err` of each task attempt. */
  logsDir: string;
}

export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
