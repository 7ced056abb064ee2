/**
 * The process executor: every task runs in a fresh child process (its own Node runtime, module
 * state, environment and working memory), at most `maxWorkers` at once. A process is never
 * reused, so nothing a task does to global state can reach another task: this is the isolation
 * tasks need (the Python system's HTEX workers were reused and only isolated from the
 * coordinator).
 *
 * The card's worker_init runs in bash right before the worker:
 *   bash -c '<worker_init>\nexec "$@"' lambda-hat-worker node [--import tsx] child.js SPEC RESULT PROGRESS
 * so `export A=B`, `source venv/bin/activate` or `module load x` apply to the worker, and
 * the paths travel as arguments (no quoting of paths into shell text). The worker appends its
 * progress records to PROGRESS (one JSON line each), which is polled while it runs.
 */

/** How often a running worker's progress file is read (ms). */
const PROGRESS_POLL_MS = 250;
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';
import { writeJsonAtomic } from '../store/index.js';
import { looksLikeOom, makeExecutorDirs, ProgressTail, readReply, replyOutcome, runInSlot, Slots, tailFile, taskFiles } from './common.js';
import { taskEntry, type NodeEntry } from './entry.js';
import type { Executor, ExecutorDirs, TaskOutcome, TaskRequest } from './types.js';

export interface ProcessExecutorOptions {
  maxWorkers: number;
  dirs: ExecutorDirs;
  /** Shell lines run in bash before each worker starts. */
  workerInit?: string;
  /** The workers' environment (default: a copy of ours). Never written back to process.env. */
  env?: NodeJS.ProcessEnv;
  /** After SIGTERM on cancel, how long before SIGKILL. */
  killGraceMs?: number;
  entry?: NodeEntry;
}

export class ProcessExecutor implements Executor {
  readonly kind = 'processes' as const;
  readonly maxWorkers: number;
  private readonly slots: Slots;
  private readonly children = new Map<ChildProcess, Promise<unknown>>();
  private cancelled = false;
  private readonly entry: NodeEntry;

  constructor(private readonly opts: ProcessExecutorOptions) {
    this.maxWorkers = opts.maxWorkers;
    this.slots = new Slots(opts.maxWorkers);
    this.entry = opts.entry ?? taskEntry('child');
    makeExecutorDirs(opts.dirs);
  }

  run(req: TaskRequest): Promise<TaskOutcome> {
    return runInSlot(this.slots, () => this.cancelled, req, (r) => this.spawnTask(r));
  }

  private spawnTask(req: TaskRequest): Promise<TaskOutcome> {
    const files = taskFiles(this.opts.dirs, req.key);
    rmSync(files.result, { force: true });
    rmSync(files.progress, { force: true });
    writeJsonAtomic(files.spec, req.spec);
    const outFd = openSync(files.out, 'a');
    const errFd = openSync(files.err, 'a');
    req.onStart?.();
    const t0 = performance.now();
    const script = `${this.opts.workerInit ?? ''}\nexec "$@"`;
    let child: ChildProcess;
    try {
      child = spawn(
        'bash',
        ['-c', script, 'lambda-hat-worker', this.entry.node, ...this.entry.execArgv, this.entry.file, files.spec, files.result, files.progress],
        {
          env: { ...(this.opts.env ?? process.env) },
          stdio: ['ignore', outFd, errFd],
          // Own process group: Ctrl-C in the terminal reaches only the coordinator, which then
          // decides to kill the whole group (the worker and anything it started).
          detached: true,
        },
      );
    } finally {
      closeSync(outFd);
      closeSync(errFd);
    }
    let timedOut = false;
    let killTimer: NodeJS.Timeout | undefined;
    const budgetTimer = req.timeout_s !== undefined
      ? setTimeout(() => {
          timedOut = true;
          killGroup(child, 'SIGTERM');
          killTimer = setTimeout(() => killGroup(child, 'SIGKILL'), this.opts.killGraceMs ?? 2000);
        }, req.timeout_s * 1000)
      : undefined;
    const tail = req.onProgress ? new ProgressTail(files.progress, req.onProgress) : null;
    const ticker = tail ? setInterval(() => tail.poll(), PROGRESS_POLL_MS) : null;
    const done = new Promise<TaskOutcome>((resolvePromise) => {
      let settled = false;
      const finish = (o: TaskOutcome): void => {
        if (settled) return;
        settled = true;
        if (budgetTimer) clearTimeout(budgetTimer);
        if (killTimer) clearTimeout(killTimer);
        if (ticker) clearInterval(ticker);
        tail?.poll();
        this.children.delete(child);
        resolvePromise(o);
      };
      child.once('error', (err) => {
        finish({
          ok: false,
          walltime_s: (performance.now() - t0) / 1000,
          error: { kind: 'crashed', message: `cannot start worker: ${err.message}`, log_path: files.err },
        });
      });
      child.once('close', (code, signal) => {
        const walltime_s = (performance.now() - t0) / 1000;
        const reply = readReply(files.result);
        const stderr_tail = tailFile(files.err);
        const where = { log_path: files.err, ...(code !== null ? { exit_code: code } : {}), ...(signal ? { signal } : {}) };
        if (reply) {
          finish(replyOutcome(reply, walltime_s, { ...where, ...(stderr_tail && !reply.ok ? { stderr_tail } : {}) }));
          return;
        }
        const base = { ...where, ...(stderr_tail ? { stderr_tail } : {}) };
        if (timedOut && !this.cancelled) {
          finish({ ok: false, walltime_s, error: { ...base, kind: 'timeout', message: `stopped after its time budget of ${req.timeout_s} s` } });
        } else if (this.cancelled && (signal === 'SIGTERM' || signal === 'SIGKILL')) {
          finish({ ok: false, walltime_s, error: { ...base, kind: 'cancelled', message: `cancelled (worker stopped with ${signal})` } });
        } else if (looksLikeOom(stderr_tail)) {
          finish({ ok: false, walltime_s, error: { ...base, kind: 'out_of_memory', message: 'worker ran out of memory' } });
        } else if (signal) {
          finish({ ok: false, walltime_s, error: { ...base, kind: 'crashed', message: `worker killed by ${signal}` } });
        } else if (code !== 0) {
          finish({ ok: false, walltime_s, error: { ...base, kind: 'crashed', message: `worker exited with code ${code} without a result` } });
        } else {
          finish({ ok: false, walltime_s, error: { ...base, kind: 'bad_result', message: `worker exited 0 but wrote no readable result to ${files.result}` } });
        }
      });
    });
    this.children.set(child, done);
    return done;
  }

  /** Stops submitting, SIGTERMs every worker's process group, SIGKILLs stragglers. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    this.slots.close();
    const running = [...this.children.entries()];
    for (const [child] of running) killGroup(child, 'SIGTERM');
    const grace = this.opts.killGraceMs ?? 2000;
    const timer = setTimeout(() => {
      for (const [child] of running) killGroup(child, 'SIGKILL');
    }, grace);
    await Promise.all(running.map(([, p]) => p));
    clearTimeout(timer);
  }

  async close(): Promise<void> {
    // Nothing pooled: each worker exits with its task.
    await Promise.all([...this.children.values()]);
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    try {
      child.kill(signal);
    } catch {
      // Already gone.
    }
  }
}
