/**
 * The thread executor: a piscina worker-thread pool inside the coordinator's process. Lowest
 * overhead; what a task can share with the others (asserted in test/isolation.test.ts):
 *   - module state: NOT shared across workers (each worker loads its own module instances), but
 *     a worker is reused, so a later task on the same worker sees what an earlier one left;
 *   - process.env: each worker gets its own copy (taken when the pool starts), not shared;
 *   - the process itself: cwd (process.chdir is unavailable in workers), the real C-level
 *     environ seen by native code and child processes, memory limits, file descriptors, and a
 *     crash that takes down the process takes down every task.
 * Use the process executor for isolation; this one for many tiny tasks.
 */
import { MessageChannel } from 'node:worker_threads';
import { Piscina } from 'piscina';
import { parseContract, progressRecord, workerReply, type ThreadTaskMessage } from '../contracts/index.js';
import { makeExecutorDirs, replyOutcome, runInSlot, Slots, taskFiles } from './common.js';
import { taskEntry, type NodeEntry } from './entry.js';
import type { Executor, ExecutorDirs, TaskOutcome, TaskRequest } from './types.js';
import { errorMessage } from './types.js';

export interface ThreadExecutorOptions {
  maxWorkers: number;
  dirs: ExecutorDirs;
  /** Only `export NAME=value` lines: threads have no shell to run anything else. */
  workerInit?: string;
  env?: NodeJS.ProcessEnv;
  entry?: NodeEntry;
}

/** Parses `export NAME=value` lines (the only worker_init a thread can honour). */
export function exportsOf(workerInit: string, source = 'worker_init'): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of workerInit.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) {
      throw new Error(
        `${source}: '${line}' cannot run in a worker thread (no shell); threads accept only ` +
          `'export NAME=value' lines: use type: local_processes to run shell commands`,
      );
    }
    let value = m[2]!.trim();
    if ((value.startsWith('"') && value.endsWith('"')) || (value.startsWith("'") && value.endsWith("'"))) {
      value = value.slice(1, -1);
    }
    out[m[1]!] = value;
  }
  return out;
}

export class ThreadExecutor implements Executor {
  readonly kind = 'threads' as const;
  readonly maxWorkers: number;
  private readonly pool: Piscina;
  private readonly controllers = new Set<AbortController>();
  private cancelled = false;
  /** Our own queue in front of piscina's, so a task "starts" when a thread really takes it. */
  private readonly slots: Slots;

  constructor(private readonly opts: ThreadExecutorOptions) {
    this.maxWorkers = opts.maxWorkers;
    this.slots = new Slots(opts.maxWorkers);
    const entry = opts.entry ?? taskEntry('thread-worker');
    const env = { ...(opts.env ?? process.env), ...exportsOf(opts.workerInit ?? '') };
    makeExecutorDirs(opts.dirs);
    this.pool = new Piscina({
      filename: entry.file,
      execArgv: entry.execArgv,
      minThreads: 0,
      maxThreads: opts.maxWorkers,
      // One task per worker at a time: the worker's stdout is that task's log.
      concurrentTasksPerWorker: 1,
      idleTimeout: 30_000,
      env,
    });
  }

  run(req: TaskRequest): Promise<TaskOutcome> {
    return runInSlot(this.slots, () => this.cancelled, req, (r) => this.runNow(r));
  }

  private async runNow(req: TaskRequest): Promise<TaskOutcome> {
    const files = taskFiles(this.opts.dirs, req.key);
    // Progress comes back through a port of its own, as it happens (the reply comes at the end).
    const channel = req.onProgress ? new MessageChannel() : null;
    // The worker closes its end when the task ends; records it sent before that arrive first.
    const drained = channel ? new Promise<void>((r) => channel.port1.once('close', () => r())) : Promise.resolve();
    if (channel) {
      const onProgress = req.onProgress!;
      channel.port1.on('message', (raw: unknown) => {
        const r = progressRecord.safeParse(raw);
        if (!r.success) return;
        try {
          onProgress(r.data);
        } catch {
          // A display problem must never change what runs.
        }
      });
    }
    const msg: ThreadTaskMessage = { spec: req.spec, outPath: files.out, errPath: files.err, ...(channel ? { progressPort: channel.port2 } : {}) };
    const ac = new AbortController();
    this.controllers.add(ac);
    req.onStart?.();
    const t0 = performance.now();
    let timedOut = false;
    const timer = req.timeout_s !== undefined
      ? setTimeout(() => {
          timedOut = true;
          ac.abort();
        }, req.timeout_s * 1000)
      : undefined;
    try {
      const run = this.pool.run(msg, { signal: ac.signal, ...(channel ? { transferList: [channel.port2] } : {}) });
      const raw = await run;
      if (channel) await Promise.race([drained, new Promise((r) => setTimeout(r, 500).unref())]);
      const reply = parseContract(workerReply, raw, `worker thread reply to task ${req.key}`, 'worker reply');
      return replyOutcome(reply, (performance.now() - t0) / 1000, { log_path: files.err });
    } catch (err) {
      const walltime_s = (performance.now() - t0) / 1000;
      const code = (err as NodeJS.ErrnoException).code;
      if (timedOut) {
        return { ok: false, walltime_s, error: { kind: 'timeout', message: `stopped after its time budget of ${req.timeout_s} s (worker thread terminated)`, log_path: files.err } };
      }
      if (this.cancelled || (err as Error).name === 'AbortError') {
        return { ok: false, walltime_s, error: { kind: 'cancelled', message: 'cancelled (worker thread terminated)' } };
      }
      if (code === 'ERR_WORKER_OUT_OF_MEMORY') {
        return { ok: false, walltime_s, error: { kind: 'out_of_memory', message: errorMessage(err), log_path: files.err } };
      }
      // The worker thread died (process.exit in the task, an uncaught error in a callback).
      return { ok: false, walltime_s, error: { kind: 'crashed', message: `worker thread died: ${errorMessage(err)}`, log_path: files.err } };
    } finally {
      if (timer) clearTimeout(timer);
      this.controllers.delete(ac);
      channel?.port1.close();
    }
  }

  async cancel(): Promise<void> {
    this.cancelled = true;
    this.slots.close();
    for (const ac of this.controllers) ac.abort();
    await this.pool.destroy();
  }

  async close(): Promise<void> {
    if (!this.cancelled) await this.pool.destroy();
  }
}
