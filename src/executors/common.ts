/** Pieces shared by the executors: a slot limiter, task file names, reading what a worker left. */
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { progressRecord, tryReadContractFile, workerReply, type ProgressRecord, type WorkerReply } from '../contracts/index.js';
import type { ExecutorDirs, TaskError, TaskOutcome, TaskRequest } from './types.js';

/** A counting semaphore whose waiters can all be turned away at once (cancellation). */
export class Slots {
  private free: number;
  private readonly waiting: Array<{ resolve: (release: () => void) => void; reject: (e: Error) => void }> = [];
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new Error(`max_workers must be a positive integer, got ${size}`);
    this.free = size;
  }

  acquire(): Promise<() => void> {
    if (this.closed) return Promise.reject(new Error('cancelled'));
    if (this.free > 0) {
      this.free--;
      return Promise.resolve(this.releaser());
    }
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  private releaser(): () => void {
    let done = false;
    return () => {
      if (done) return;
      done = true;
      const next = this.waiting.shift();
      if (next) next.resolve(this.releaser());
      else this.free++;
    };
  }

  /** Rejects every waiter and all future acquires. */
  close(): void {
    this.closed = true;
    for (const w of this.waiting.splice(0)) w.reject(new Error('cancelled'));
  }
}

/**
 * Runs `start(req)` once a slot is free, releasing the slot when it settles. A task that is
 * cancelled before it gets a slot, or while it waits for one, never starts.
 */
export async function runInSlot(
  slots: Slots,
  isCancelled: () => boolean,
  req: TaskRequest,
  start: (req: TaskRequest) => Promise<TaskOutcome>,
): Promise<TaskOutcome> {
  if (isCancelled()) return cancelledOutcome();
  let release: () => void;
  try {
    release = await slots.acquire();
  } catch {
    return cancelledOutcome();
  }
  try {
    if (isCancelled()) return cancelledOutcome();
    const at = req.atStart?.();
    if (at && 'skip' in at) return cancelledOutcome(at.skip);
    return await start(at ? { ...req, spec: at.spec } : req);
  } finally {
    release();
  }
}

/** Creates the per-task spec/result and log directories. */
export function makeExecutorDirs(dirs: ExecutorDirs): void {
  mkdirSync(dirs.tasksDir, { recursive: true });
  mkdirSync(dirs.logsDir, { recursive: true });
}

export interface TaskFiles {
  spec: string;
  result: string;
  /** Progress records, one JSON line each (child processes and SLURM jobs). */
  progress: string;
  out: string;
  err: string;
}

export function taskFiles(dirs: ExecutorDirs, key: string): TaskFiles {
  if (!/^[A-Za-z0-9._-]+$/.test(key)) throw new Error(`task key '${key}' must be filesystem-safe ([A-Za-z0-9._-])`);
  return {
    spec: join(dirs.tasksDir, `${key}.spec.json`),
    result: join(dirs.tasksDir, `${key}.result.json`),
    progress: join(dirs.tasksDir, `${key}.progress.jsonl`),
    out: join(dirs.logsDir, `${key}.out`),
    err: join(dirs.logsDir, `${key}.err`),
  };
}

/**
 * Follows a worker's progress file: each `poll()` hands the complete lines written since the
 * last one to `onRecord`, checked against the contract (a line that is not a progress record is
 * skipped: progress must never fail a task).
 */
export class ProgressTail {
  private offset = 0;
  private partial = '';

  constructor(
    private readonly path: string,
    private readonly onRecord: (r: ProgressRecord) => void,
  ) {}

  poll(): void {
    let size: number;
    try {
      size = statSync(this.path).size;
    } catch {
      return; // not written yet
    }
    if (size <= this.offset) return;
    const buf = Buffer.alloc(size - this.offset);
    const fd = openSync(this.path, 'r');
    try {
      readSync(fd, buf, 0, buf.length, this.offset);
    } finally {
      closeSync(fd);
    }
    this.offset = size;
    const lines = (this.partial + buf.toString('utf8')).split('\n');
    this.partial = lines.pop() ?? '';
    for (const line of lines) {
      if (line.trim() === '') continue;
      let parsed: ReturnType<typeof progressRecord.safeParse>;
      try {
        parsed = progressRecord.safeParse(JSON.parse(line));
      } catch {
        continue;
      }
      if (!parsed.success) continue;
      try {
        this.onRecord(parsed.data);
      } catch {
        // A display problem must never change what runs.
      }
    }
  }
}

/** The last `maxLines` lines (at most `maxBytes` bytes) of a log file, or undefined. */
export function tailFile(path: string, maxBytes = 4096, maxLines = 25): string | undefined {
  if (!existsSync(path)) return undefined;
  const size = statSync(path).size;
  if (size === 0) return undefined;
  const len = Math.min(size, maxBytes);
  const buf = Buffer.alloc(len);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, buf, 0, len, size - len);
  } finally {
    closeSync(fd);
  }
  const lines = buf.toString('utf8').trimEnd().split('\n');
  return lines.slice(-maxLines).join('\n');
}

/**
 * The reply a worker wrote to its result file, or undefined when there is none (or it is
 * unreadable or off-contract: the caller then reports the worker from its exit status).
 */
export function readReply(path: string): WorkerReply | undefined {
  return tryReadContractFile(path, workerReply);
}

/** Turns a worker's reply into an outcome; `extra` adds where to look (log, job id). */
export function replyOutcome(
  reply: WorkerReply,
  walltime_s: number,
  extra: Partial<TaskError> & { log_path?: string; job_id?: string },
): TaskOutcome {
  if (reply.ok) {
    return {
      ok: true,
      result: reply.result,
      walltime_s,
      ...(extra.log_path ? { log_path: extra.log_path } : {}),
      ...(extra.job_id ? { job_id: extra.job_id } : {}),
    };
  }
  return {
    ok: false,
    walltime_s,
    error: {
      ...extra,
      kind: 'task_error',
      message: reply.error.message,
      ...(reply.error.stack ? { stack: reply.error.stack } : {}),
    },
  };
}

/** Node's own out-of-memory abort (heap limit) leaves this on stderr. */
export function looksLikeOom(stderrTail: string | undefined): boolean {
  return !!stderrTail && /JavaScript heap out of memory|Reached heap limit|ERR_WORKER_OUT_OF_MEMORY/.test(stderrTail);
}

export function cancelledOutcome(message = 'cancelled before it started'): TaskOutcome {
  return { ok: false, walltime_s: 0, error: { kind: 'cancelled', message } };
}
