/**
 * `workflow llc`: experiment + card -> task graph -> executor -> results of this invocation.
 *
 * Every invocation gets its own run directory `<home>/<card.run_dir>/<experiment>-<time>-<rand>/`
 * holding the card and plan it ran, `tasks/` (spec and result JSON of every task attempt),
 * `logs/` (stdout/stderr of every task attempt), `results.csv`, `results.feather` and
 * `summary.json`. The artifacts themselves are content-addressed in the store, so a rerun of
 * the same experiment reuses every target and run that is complete, and an interrupted one
 * redoes only what is missing.
 */
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';
import { existsSync, mkdirSync, utimesSync } from 'node:fs';
import { join } from 'node:path';
import type { Card } from '../config/cards.js';
import type { LoadedExperiment } from '../config/experiment.js';
import { createExecutor } from '../executors/index.js';
import type { Executor } from '../executors/types.js';
import { writeJsonAtomic } from '../store/index.js';
import { invocationFiles, invocationsDir, targetDir } from '../store/layout.js';
import { buildTaskResult, sampleTaskResult, toJsonObject, type WorkflowFile } from '../contracts/index.js';
import { runGraph, type GraphEvent, type NodeOutcome } from './graph.js';
import { planWorkflow, type WorkflowPlan } from './plan.js';
import { makeProgress, type Progress } from './progress.js';
import { agreementSummary, resultRows, writeResults, type ResultRow } from './results.js';
import { validateExperiment } from './validate.js';

export interface WorkflowOptions {
  experiment: LoadedExperiment;
  card: Card;
  home: string;
  promote?: boolean;
  /** Environment handed to workers (default: a copy of ours). */
  env?: NodeJS.ProcessEnv;
  signal?: AbortSignal;
  progress?: 'auto' | 'plain' | 'silent';
  onEvent?: (e: GraphEvent) => void;
  /** Injected executor (tests); default: the one the card asks for. */
  executor?: (dirs: { tasksDir: string; logsDir: string }) => Executor;
}

export interface WorkflowResult {
  runDir: string;
  plan: WorkflowPlan;
  outcomes: Map<string, NodeOutcome>;
  rows: ResultRow[];
  failed: NodeOutcome[];
  cancelled: boolean;
  walltime_s: number;
  files: { csv: string; feather: string; summary: string };
}

function stamp(d = new Date()): string {
  return d.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
}

export function invocationDir(home: string, card: Card, experiment: string): string {
  const base = invocationsDir(home, card.run_dir);
  const name = `${experiment.replace(/[^A-Za-z0-9_-]+/g, '_')}-${stamp()}-${randomBytes(3).toString('hex')}`;
  return join(base, name);
}

/** Marks artifacts as used now, so `artifacts gc --ttl-days` keeps what workflows still use. */
function touchUsed(home: string, outcomes: Map<string, NodeOutcome>): void {
  const now = new Date();
  for (const o of outcomes.values()) {
    if (o.status !== 'done') continue;
    let d: string | undefined;
    if (o.stage === 'build') {
      const r = buildTaskResult.safeParse(o.result);
      if (r.success) d = targetDir(home, r.data.target_id);
    } else if (o.stage === 'sample') {
      const r = sampleTaskResult.safeParse(o.result);
      if (r.success) d = r.data.dir;
    }
    if (d && existsSync(d)) {
      try {
        utimesSync(d, now, now);
      } catch {
        // Read-only stores are fine: gc just sees the older time.
      }
    }
  }
}

export async function runWorkflow(opts: WorkflowOptions): Promise<WorkflowResult> {
  const t0 = performance.now();
  // Every sampler entry is checked before anything is created or started: a config error
  // throws here (located in its file), never in a task.
  await validateExperiment(opts.experiment, opts.home);
  const runDir = invocationDir(opts.home, opts.card, opts.experiment.experiment);
  const invocation = invocationFiles(runDir);
  const dirs = { tasksDir: invocation.tasks, logsDir: invocation.logs };
  mkdirSync(dirs.tasksDir, { recursive: true });
  mkdirSync(dirs.logsDir, { recursive: true });
  const plan = planWorkflow(opts.experiment, opts.home, { promote: opts.promote ?? false, invocationDir: runDir });
  const workflowFile: WorkflowFile = {
    experiment: opts.experiment.experiment,
    home: opts.home,
    card: toJsonObject(opts.card),
    samplers: opts.experiment.samplers.map((s, j) => ({
      index: j, name: s.name, seed: s.seed, seed_source: opts.experiment.origin?.samplers[j]?.seed ?? 'file',
    })),
    ...(opts.experiment.origin ? { config_file: opts.experiment.origin.file, config_notes: opts.experiment.origin.log.sorted().map((n) => toJsonObject(n)) } : {}),
    tasks: plan.nodes.map((n) => ({ id: n.id, stage: n.stage, label: n.label, deps: n.deps })),
    started_at: new Date().toISOString(),
  };
  writeJsonAtomic(invocation.workflow, workflowFile);

  const executor = opts.executor ? opts.executor(dirs) : createExecutor(opts.card, dirs, opts.env ?? process.env);
  const progress: Progress = makeProgress(plan.nodes, opts.progress ?? 'auto');
  let cancelled = false;
  const onAbort = (): void => {
    cancelled = true;
    void executor.cancel();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let outcomes: Map<string, NodeOutcome>;
  const budgetS = opts.experiment.time_budget;
  try {
    outcomes = await runGraph(plan.nodes, executor, {
      retries: opts.card.retries,
      ...(budgetS !== undefined ? { budget: { deadline_ms: Date.now() + 1000 * budgetS - (performance.now() - t0), seconds: budgetS } } : {}),
      // Local tasks share this machine's cores; a SLURM job has its own node.
      ...(executor.kind !== 'slurm' ? { cores: availableParallelism() } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
      onEvent: (e) => {
        progress.onEvent(e);
        opts.onEvent?.(e);
      },
    });
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    await progress.finish();
    if (!cancelled) await executor.close();
  }
  touchUsed(opts.home, outcomes);
  const rows = resultRows(plan.pairs, outcomes);
  const files = writeResults(runDir, rows);
  const failed = [...outcomes.values()].filter((o) => o.status !== 'done');
  const walltime_s = (performance.now() - t0) / 1000;
  const summary = invocation.summary;
  writeJsonAtomic(summary, {
    experiment: opts.experiment.experiment,
    executor: opts.card.executor,
    card: opts.card.source,
    cancelled,
    walltime_s,
    tasks: [...outcomes.values()].map((o) => ({
      id: o.id, stage: o.stage, status: o.status, attempts: o.attempts, walltime_s: o.walltime_s,
      ...(o.error ? { error: o.error } : {}),
      ...(o.root_cause ? { root_cause: o.root_cause } : {}),
      ...(o.log_path ? { log_path: o.log_path } : {}),
      ...(o.job_id ? { job_id: o.job_id } : {}),
    })),
    // Per target: each sampler's λ̂ against HMC (or the others' consensus), z and the verdict.
    agreement: agreementSummary(rows),
    finished_at: new Date().toISOString(),
  });
  return { runDir, plan, outcomes, rows, failed, cancelled, walltime_s, files: { ...files, summary } };
}
