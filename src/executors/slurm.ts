/**
 * The SLURM executor: one `sbatch` job per task (no pilot workers to keep alive, and each task
 * gets a fresh process on a compute node, like the process executor). The job runs the same
 * child entry as the process executor and writes its result file on the shared filesystem;
 * the coordinator watches for that file and asks squeue/scontrol for the job's state, so a job
 * that never writes a result (FAILED, TIMEOUT, CANCELLED, OUT_OF_MEMORY, NODE_FAIL) is reported
 * with its SLURM state, exit code, job id and log path. The job appends its progress records to
 * its progress file (one JSON line each) on the same filesystem, read at every poll.
 *
 * Assumes the artifact home and this package are visible at the same paths on the compute
 * nodes (the usual shared home/scratch), and that `node` there is process.execPath here.
 */
import { execFile } from 'node:child_process';
import { rmSync } from 'node:fs';
import { constants } from 'node:os';
import { promisify } from 'node:util';
import { writeFileAtomic, writeJsonAtomic } from '../store/index.js';
import type { Card } from '../config/cards.js';
import { makeExecutorDirs, ProgressTail, readReply, replyOutcome, runInSlot, Slots, tailFile, taskFiles } from './common.js';
import { taskEntry, type NodeEntry } from './entry.js';
import type { ErrorKind, Executor, ExecutorDirs, TaskOutcome, TaskRequest } from './types.js';
import { errorMessage } from './types.js';

const execFileP = promisify(execFile);

export type SlurmOptions = Pick<
  Card,
  | 'partition' | 'walltime' | 'cores_per_node' | 'mem_per_node' | 'gpus_per_node' | 'gpu_type'
  | 'account' | 'qos' | 'constraint' | 'scheduler_options_extra' | 'label'
>;

export interface SlurmExecutorOptions {
  maxWorkers: number;
  dirs: ExecutorDirs;
  workerInit?: string;
  /** Environment of sbatch (and so of the jobs: sbatch exports it by default). */
  env?: NodeJS.ProcessEnv;
  slurm?: Partial<SlurmOptions>;
  /** How often to look at result files and squeue (ms). */
  pollMs?: number;
  entry?: NodeEntry;
}

/** Quotes a string for bash. */
export function shq(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A time budget in seconds as sbatch's `minutes:seconds` (rounded up to a whole second). */
export function slurmTimeLimit(seconds: number): string {
  const s = Math.max(1, Math.ceil(seconds));
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, '0')}`;
}

/** The `#SBATCH` lines a card asks for. */
export function sbatchDirectives(o: Partial<SlurmOptions>): string[] {
  const lines = ['--nodes=1', '--ntasks=1', `--cpus-per-task=${o.cores_per_node ?? 1}`];
  if (o.partition) lines.push(`--partition=${o.partition}`);
  if (o.walltime !== undefined) lines.push(`--time=${o.walltime}`);
  // mem_per_node is in GB (as in the Python cards); sbatch wants an integer, so use MB.
  if (o.mem_per_node !== undefined) lines.push(`--mem=${Math.max(1, Math.round(o.mem_per_node * 1024))}M`);
  if (o.gpus_per_node) lines.push(`--gres=gpu:${o.gpu_type ? `${o.gpu_type}:` : ''}${o.gpus_per_node}`);
  if (o.account) lines.push(`--account=${o.account}`);
  if (o.qos) lines.push(`--qos=${o.qos}`);
  if (o.constraint) lines.push(`--constraint=${o.constraint}`);
  const out = lines.map((l) => `#SBATCH ${l}`);
  for (const raw of (o.scheduler_options_extra ?? '').split('\n')) {
    const l = raw.trim();
    if (l === '') continue;
    out.push(l.startsWith('#SBATCH') ? l : `#SBATCH ${l}`);
  }
  return out;
}

export function jobScript(args: {
  name: string;
  files: { spec: string; result: string; progress?: string; out: string; err: string };
  chdir: string;
  slurm: Partial<SlurmOptions>;
  workerInit: string;
  entry: NodeEntry;
}): string {
  const { files, entry } = args;
  const cmd = [entry.node, ...entry.execArgv, entry.file, files.spec, files.result, ...(files.progress ? [files.progress] : [])].map(shq).join(' ');
  return [
    '#!/bin/bash',
    `#SBATCH --job-name=${args.name}`,
    `#SBATCH --output=${files.out}`,
    `#SBATCH --error=${files.err}`,
    '#SBATCH --open-mode=append',
    `#SBATCH --chdir=${args.chdir}`,
    ...sbatchDirectives(args.slurm),
    '',
    '# worker_init from the card',
    args.workerInit,
    '',
    `exec ${cmd}`,
    '',
  ].join('\n');
}

/** Terminal SLURM states and what kind of error each one is when no result was written. */
const TERMINAL: Record<string, ErrorKind | 'completed'> = {
  COMPLETED: 'completed',
  FAILED: 'slurm_failed',
  TIMEOUT: 'timeout',
  CANCELLED: 'cancelled',
  OUT_OF_MEMORY: 'out_of_memory',
  NODE_FAIL: 'slurm_failed',
  PREEMPTED: 'slurm_failed',
  BOOT_FAIL: 'slurm_failed',
  DEADLINE: 'timeout',
};

interface Job {
  id: string;
  key: string;
  files: ReturnType<typeof taskFiles>;
  t0: number;
  resolve: (o: TaskOutcome) => void;
  /** Polls since the job was seen in a terminal state without a result (shared-FS lag). */
  terminalTicks: number;
  /** Polls in which neither squeue nor the result file knew the job. */
  missingTicks: number;
  progress: ProgressTail | null;
}

export class SlurmExecutor implements Executor {
  readonly kind = 'slurm' as const;
  readonly maxWorkers: number;
  private readonly slots: Slots;
  private readonly jobs = new Map<string, Job>();
  private cancelled = false;
  private polling: Promise<void> | undefined;
  private readonly entry: NodeEntry;

  constructor(private readonly opts: SlurmExecutorOptions) {
    this.maxWorkers = opts.maxWorkers;
    this.slots = new Slots(opts.maxWorkers);
    this.entry = opts.entry ?? taskEntry('child');
    makeExecutorDirs(opts.dirs);
  }

  private env(): NodeJS.ProcessEnv {
    return { ...(this.opts.env ?? process.env) };
  }

  run(req: TaskRequest): Promise<TaskOutcome> {
    return runInSlot(this.slots, () => this.cancelled, req, (r) => this.submit(r));
  }

  private async submit(req: TaskRequest): Promise<TaskOutcome> {
    const files = taskFiles(this.opts.dirs, req.key);
    rmSync(files.result, { force: true });
    rmSync(files.progress, { force: true });
    writeJsonAtomic(files.spec, req.spec);
    const scriptPath = files.spec.replace(/\.spec\.json$/, '.sbatch');
    const name = `lh-${req.key}`.slice(0, 64);
    writeFileAtomic(
      scriptPath,
      jobScript({
        name,
        files,
        chdir: this.opts.dirs.tasksDir,
        // A task's time budget is its job's time limit (minutes:seconds); SLURM ends it as TIMEOUT.
        slurm: {
          ...this.opts.slurm,
          ...(req.timeout_s !== undefined ? { walltime: slurmTimeLimit(req.timeout_s) } : {}),
        },
        workerInit: this.opts.workerInit ?? '',
        entry: this.entry,
      }),
    );
    req.onStart?.();
    const t0 = performance.now();
    let id: string;
    try {
      const { stdout } = await execFileP('sbatch', ['--parsable', scriptPath], { env: this.env() });
      id = stdout.trim().split(';')[0]!;
      if (!/^\d+$/.test(id)) throw new Error(`unexpected sbatch output '${stdout.trim()}'`);
    } catch (err) {
      const stderr = (err as { stderr?: string }).stderr?.trim();
      return {
        ok: false,
        walltime_s: 0,
        error: {
          kind: 'submit_failed',
          message: `sbatch ${scriptPath} failed: ${stderr || errorMessage(err)}`,
          log_path: scriptPath,
        },
      };
    }
    return new Promise<TaskOutcome>((resolve) => {
      const progress = req.onProgress ? new ProgressTail(files.progress, req.onProgress) : null;
      this.jobs.set(id, { id, key: req.key, files, t0, resolve, terminalTicks: 0, missingTicks: 0, progress });
      this.polling ??= this.pollLoop().finally(() => {
        this.polling = undefined;
      });
    });
  }

  private finish(job: Job, outcome: TaskOutcome): void {
    job.progress?.poll();
    this.jobs.delete(job.id);
    job.resolve(outcome);
  }

  private async pollLoop(): Promise<void> {
    const pollMs = this.opts.pollMs ?? 250;
    while (this.jobs.size > 0) {
      await new Promise((r) => setTimeout(r, pollMs));
      await this.pollOnce();
    }
  }

  /** Reads result files, then the queue, for every job in flight. */
  private async pollOnce(): Promise<void> {
    for (const job of [...this.jobs.values()]) {
      job.progress?.poll();
      const reply = readReply(job.files.result);
      if (reply) {
        const tail = reply.ok ? undefined : tailFile(job.files.err);
        this.finish(job, replyOutcome(reply, (performance.now() - job.t0) / 1000, {
          log_path: job.files.err, job_id: job.id, ...(tail ? { stderr_tail: tail } : {}),
        }));
      }
    }
    if (this.jobs.size === 0) return;
    const states = await this.queueStates([...this.jobs.keys()]);
    for (const job of [...this.jobs.values()]) {
      const st = states.get(job.id);
      if (!st) {
        // Not in squeue (purged after MinJobAge, or a hiccup): ask scontrol, then give up.
        job.missingTicks++;
        if (job.missingTicks >= 3) {
          const info = await this.scontrol(job.id);
          if (info.state && TERMINAL[info.state]) await this.terminal(job, info.state, info.exit, info.reason);
          else if (!info.state) {
            this.finish(job, this.failure(job, 'lost', `job ${job.id} vanished from the queue without writing a result`));
          }
        }
        continue;
      }
      job.missingTicks = 0;
      if (TERMINAL[st.state]) await this.terminal(job, st.state, undefined, st.reason);
    }
  }

  private async terminal(job: Job, state: string, exit: string | undefined, reason: string | undefined): Promise<void> {
    // A result written just before the job ended may show up a little later on a shared FS.
    const reply = readReply(job.files.result);
    if (reply) {
      this.finish(job, replyOutcome(reply, (performance.now() - job.t0) / 1000, { log_path: job.files.err, job_id: job.id }));
      return;
    }
    job.terminalTicks++;
    if (state === 'COMPLETED' && job.terminalTicks < 8) return;
    const info = exit === undefined ? await this.scontrol(job.id) : { exit, reason };
    const kind = TERMINAL[state]!;
    const exitStr = info.exit ?? '';
    const [codeStr, sigStr] = exitStr.split(':');
    const code = codeStr !== undefined && codeStr !== '' ? Number(codeStr) : undefined;
    const sig = sigStr !== undefined && sigStr !== '0' && sigStr !== '' ? Number(sigStr) : undefined;
    const message = kind === 'completed'
      ? `job ${job.id} COMPLETED but wrote no result to ${job.files.result}`
      : `job ${job.id} ended ${state}${info.reason && info.reason !== 'None' ? ` (${info.reason})` : ''}` +
        `${exitStr ? `, exit code ${exitStr}` : ''}`;
    this.finish(job, this.failure(job, kind === 'completed' ? 'bad_result' : kind, message, code, sig));
  }

  private failure(job: Job, kind: ErrorKind, message: string, exit_code?: number, signal?: number): TaskOutcome {
    const tail = tailFile(job.files.err);
    return {
      ok: false,
      walltime_s: (performance.now() - job.t0) / 1000,
      error: {
        kind,
        message,
        job_id: job.id,
        log_path: job.files.err,
        ...(exit_code !== undefined && Number.isFinite(exit_code) ? { exit_code } : {}),
        ...(signal !== undefined && Number.isFinite(signal) ? { signal: signalName(signal) } : {}),
        ...(tail ? { stderr_tail: tail } : {}),
      },
    };
  }

  /** `squeue -t all` keeps finished jobs for MinJobAge: one call for all jobs in flight. */
  private async queueStates(ids: string[]): Promise<Map<string, { state: string; reason: string }>> {
    const out = new Map<string, { state: string; reason: string }>();
    try {
      const { stdout } = await execFileP('squeue', ['-h', '-t', 'all', '-j', ids.join(','), '-o', '%i|%T|%r'], { env: this.env() });
      for (const line of stdout.split('\n')) {
        const [id, state, reason] = line.trim().split('|');
        if (id && state) out.set(id, { state: state.replace(/\+$/, ''), reason: reason ?? '' });
      }
    } catch {
      // squeue refuses the whole list when one id was purged: fall back to scontrol per job.
    }
    return out;
  }

  private async scontrol(id: string): Promise<{ state?: string; exit?: string; reason?: string }> {
    try {
      const { stdout } = await execFileP('scontrol', ['show', 'job', id], { env: this.env() });
      const field = (name: string): string | undefined => new RegExp(`\\b${name}=(\\S+)`).exec(stdout)?.[1];
      const state = field('JobState');
      const exit = field('ExitCode');
      const reason = field('Reason');
      return { ...(state ? { state } : {}), ...(exit ? { exit } : {}), ...(reason ? { reason } : {}) };
    } catch {
      return {};
    }
  }

  /** scancels every job in flight and waits until SLURM reports them ended. */
  async cancel(): Promise<void> {
    this.cancelled = true;
    this.slots.close();
    const ids = [...this.jobs.keys()];
    if (ids.length > 0) {
      try {
        await execFileP('scancel', ids, { env: this.env() });
      } catch {
        // Jobs that already ended cannot be cancelled; the poll loop reports them as they are.
      }
    }
    const deadline = performance.now() + 30_000;
    while (this.jobs.size > 0 && performance.now() < deadline) await new Promise((r) => setTimeout(r, 200));
    for (const job of [...this.jobs.values()]) this.finish(job, this.failure(job, 'cancelled', `job ${job.id} scancelled`));
  }

  async close(): Promise<void> {
    await this.polling;
  }
}

/** True when a SLURM controller answers (`sinfo` works). */
export async function slurmAvailable(env: NodeJS.ProcessEnv = process.env): Promise<{ ok: boolean; reason: string }> {
  try {
    const { stdout } = await execFileP('sinfo', ['-h', '-o', '%T'], { env, timeout: 10_000 });
    const states = stdout.trim();
    return states === '' ? { ok: false, reason: 'sinfo lists no nodes' } : { ok: true, reason: `nodes: ${states.split('\n').join(', ')}` };
  } catch (err) {
    const msg = ((err as { stderr?: string }).stderr ?? errorMessage(err)).trim().split('\n').pop() ?? '';
    return { ok: false, reason: `sinfo does not work (${msg}); start a cluster with scripts/slurm/start.sh` };
  }
}

function signalName(n: number): string {
  const hit = Object.entries(constants.signals).find(([, v]) => v === n);
  return hit ? hit[0] : String(n);
}
