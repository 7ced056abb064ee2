/**
 * Stage B task: sample one target with one sampler and write runs/<id>/{manifest.json,
 * traces.feather} atomically. Run id = "run_" + hash of (target id, canonical sampler name,
 * resolved sampler config, seed, posterior settings, chain settings except threads); a
 * finished run with the same id is reused, not recomputed.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { contentId, writeDirAtomic, writeJsonAtomic } from '../store/index.js';
import { RUN_FILES, runDir, runFiles, targetDir, targetFiles } from '../store/layout.js';
import { writeTraces } from '../store/traces.js';
import { CODE_VERSION } from '../version.js';
import type { EngineImpl } from '../engine/index.js';
import { openPosterior, type PosteriorSource } from '../posterior/source.js';
import { resolvePosteriorSettings } from '../posterior/posterior.js';
import { resolveChainSettings, type ChainSettings } from '../samplers/runner/settings.js';
import { loadSampler, resolveSamplerConfig } from '../samplers/registry.js';
import { runChains } from '../samplers/runner/chains.js';
import type { Progress } from '../samplers/runner/chain.js';
import type { BudgetedLengths } from '../samplers/sampler.js';
import {
  parseContract, readContractFile, runManifest, targetMeta, toJsonObject, tryReadContractFile, type ChainFailure, type JsonObject, type PosteriorSettings, type ProgressSink,
  type RunManifest, type SampleTaskResult, type SampleTaskSpec,
} from '../contracts/index.js';

export const MANIFEST_FILE = RUN_FILES.manifest;

/**
 * Default work per chain (GFLOP) that sizes the default run lengths: about a minute of one core
 * per chain. Small targets never reach it (the 45-parameter one would need 9e7 gradients), so
 * their runs are as configured; on the 9921-parameter, n = 20000 target it is ~2000 gradients.
 */
export const DEFAULT_WORK_BUDGET_GFLOP = 2400;

/**
 * n x dim from which a run takes the chain threads a workflow offers: about 1 ms of gradient
 * per full-data evaluation, so a thread's start-up (opening the target, ~0.1-0.5 s) is repaid.
 */
export const AUTO_THREADS_MIN_WORK = 1e6;
export const TRACES_FILE = RUN_FILES.traces;

export interface SampleTaskOptions {
  /** Progress of the chains' tuning and sampling (time-throttled by the chains). */
  onProgress?: ProgressSink;
  /** Overrides chains.threads (does not change the run id or the numbers). */
  threads?: number;
  /** Engine implementation for the target's network (default: the machine's default engine). */
  impl?: EngineImpl;
}

/** Everything that decides a run's numbers, resolved and validated (no target access). */
export interface ResolvedSampleSpec {
  run_id: string;
  sampler: string;
  requested_sampler: string;
  seed: number;
  config: JsonObject;
  posterior: PosteriorSettings;
  chains: ChainSettings;
  /** The sampler entry's time budget in seconds, when it has one. */
  time_budget: number | null;
  /** How the work budget sized the default lengths (null: not resized). */
  lengths: BudgetedLengths | null;
}

/**
 * Resolves a sample spec. Posterior settings: defaults < target < sampler. Chain settings:
 * defaults < target `chains` < target `burn_in` < sampler `chains` < sampler `burn_in`.
 */
export async function resolveSampleSpec(spec: SampleTaskSpec): Promise<ResolvedSampleSpec> {
  const entry = spec.sampler;
  const loaded = loadSampler(entry.name);
  const given = resolveSamplerConfig(loaded, entry.overrides ?? {});
  // Default run lengths sized to the work budget on the target (once it is built).
  const budget = entry.work_budget === undefined ? DEFAULT_WORK_BUDGET_GFLOP : entry.work_budget;
  const dims = budget === null ? undefined : tryReadContractFile(targetFiles(targetDir(spec.home, spec.target_id)).meta, targetMeta)?.dims;
  const sized = budget !== null && dims ? loaded.sampler.budgetLengths(given, new Set([...Object.keys(entry.overrides ?? {}), ...Object.keys(loaded.fixed)]), dims.n, dims.p, budget) : null;
  const config = sized ? sized.cfg : given;
  const posterior = resolvePosteriorSettings(spec.target_posterior, entry.posterior);
  const burnIn = (v: number | undefined): { burn_in: number } | undefined => (v === undefined ? undefined : { burn_in: v });
  const chains = resolveChainSettings(spec.target_chains, burnIn(spec.target_burn_in), entry.chains, burnIn(entry.burn_in));
  const seed = entry.seed;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`sampler seed must be a non-negative integer, got ${String(seed)}`);
  const { threads: _threads, ...hashedChains } = chains;
  const time_budget = entry.time_budget ?? null;
  const run_id = contentId('run', {
    target_id: spec.target_id,
    sampler: loaded.sampler.name,
    config,
    seed,
    posterior,
    chains: hashedChains,
    // A budgeted run's length depends on the clock: it is another run than the unbudgeted one.
    ...(time_budget !== null ? { time_budget } : {}),
  });
  return { run_id, sampler: loaded.sampler.name, requested_sampler: entry.name, seed, config, posterior, chains, time_budget, lengths: sized?.report ?? null };
}

function isFinishedRun(dir: string): boolean {
  const files = runFiles(dir);
  return existsSync(files.manifest) && existsSync(files.traces);
}

/** A finished run's manifest, checked against its contract. */
export function readRunManifest(dir: string): RunManifest {
  return readContractFile(runFiles(dir).manifest, runManifest, 'run manifest');
}

export async function sampleTask(spec: SampleTaskSpec, opts: SampleTaskOptions = {}): Promise<SampleTaskResult> {
  const resolved = await resolveSampleSpec(spec);
  const meta = targetFiles(targetDir(spec.home, spec.target_id)).meta;
  if (!existsSync(meta)) {
    throw new Error(
      `target ${spec.target_id} does not exist in the store ${spec.home} (no ${meta}); ` +
        "build it first with 'lambda-hat build --config FILE' or set LAMBDA_HAT_HOME",
    );
  }
  const dir = runDir(spec.home, resolved.run_id);
  if (isFinishedRun(dir)) {
    const previous = readRunManifest(dir);
    // A run an earlier workflow's budget cut short is redone: that budget was the other
    // invocation's, not part of this run's definition.
    if (!(previous.budget?.stopped && previous.budget.source === 'workflow')) {
      const failures = previous.failures;
      if (failures.length >= resolved.chains.count) throw allFailed(resolved.run_id, failures, dir);
      return { run_id: resolved.run_id, dir, reused: true, failures };
    }
  }

  const tStart = Date.now();
  const budget = runBudget(tStart, resolved.time_budget, spec.deadline_ms);
  const source: PosteriorSource = {
    kind: 'target',
    home: spec.home,
    target_id: spec.target_id,
    posterior: resolved.posterior,
    ...(opts.impl ? { impl: opts.impl } : {}),
  };
  const t0 = performance.now();
  // Open once here for the manifest's n, beta, gamma, L0 (and for in-thread chains).
  const opened = await openPosterior(source);
  const explicitThreads = spec.sampler.chains?.threads ?? spec.target_chains?.threads;
  // Threads the workflow offers (idle cores) are taken only where a gradient costs enough to
  // repay starting them (each thread opens the target again).
  const offered = spec.threads !== undefined && opened.posterior.n * opened.posterior.dim >= AUTO_THREADS_MIN_WORK ? spec.threads : undefined;
  const threads = opts.threads ?? explicitThreads ?? offered ?? resolved.chains.threads;
  const chains = { ...resolved.chains, threads };
  let run: Awaited<ReturnType<typeof runChains>>;
  try {
    run = await runChains({
      source,
      ...(chains.threads <= 1 ? { posterior: opened.posterior } : {}),
      sampler: resolved.sampler,
      cfg: resolved.config,
      chains,
      seed: resolved.seed,
      deadlineMs: budget?.deadline_ms ?? null,
      ...(opts.onProgress ? { onProgress: runProgress(resolved.sampler, chains.count, opts.onProgress) } : {}),
    });
  } finally {
    if (chains.threads > 1) opened.dispose();
  }
  const post = opened.posterior;
  const wall = (performance.now() - t0) / 1000;
  const failures = run.results.flatMap((r) => (r.failure ? [r.failure] : []));
  const sum = (f: (r: (typeof run.results)[number]) => number): number => run.results.reduce((s, r) => s + f(r), 0);
  const manifest: RunManifest = {
    run_id: resolved.run_id,
    target_id: spec.target_id,
    sampler: resolved.sampler,
    requested_sampler: resolved.requested_sampler,
    seed: resolved.seed,
    hyperparameters: resolved.config,
    posterior_settings: resolved.posterior,
    n: post.n,
    dim: post.dim,
    beta: post.beta,
    gamma: post.gamma,
    n_beta: post.nBeta,
    L0: post.L0,
    chains: resolved.chains.count,
    chain_settings: { count: resolved.chains.count, init_noise: resolved.chains.init_noise, burn_in: resolved.chains.burn_in },
    schedule: { steps: run.schedule.steps, burn_in: run.schedule.burnIn, eval_every: run.schedule.evalEvery },
    burn_in: run.schedule.burnIn,
    traces_include_burn_in: false,
    draws_per_chain: run.results.map((r) => r.columns.llc!.length),
    trace_columns: Object.keys(run.columns),
    per_chain: run.results.map((r) => ({
      chain: r.chain,
      // Values whose NaN means "not available" become null, as the manifest contract wants.
      tuned: toJsonObject(r.tuned),
      tune_fge: r.tune_fge,
      sample_fge: r.sample_fge,
      eval_fge: r.eval_fge,
      tune_time_s: r.tune_time_s,
      sample_time_s: r.sample_time_s,
      steps_done: r.steps_done,
      failure: r.failure,
      ...(r.stopped_by_budget ? { stopped_by_budget: true } : {}),
    })),
    work: {
      unit: 'full-gradient evaluations (b-row minibatch gradient = b/n; full loss or gradient = 1)',
      total_fge: sum((r) => r.tune_fge + r.sample_fge),
      tune_fge: sum((r) => r.tune_fge),
      sample_fge: sum((r) => r.sample_fge),
      eval_fge: sum((r) => r.eval_fge),
    },
    total_fge: sum((r) => r.tune_fge + r.sample_fge),
    timings: {
      wall_s: wall,
      tune_s: sum((r) => r.tune_time_s),
      sample_s: sum((r) => r.sample_time_s),
      threads: chains.threads,
    },
    failures,
    ...(resolved.lengths ? { lengths_budget: resolved.lengths } : {}),
    ...(budget
      ? {
          budget: {
            time_budget_s: budget.seconds,
            source: budget.source,
            stopped: run.results.some((r) => r.stopped_by_budget || (r.failure !== null && r.failure.reason.startsWith('the time budget'))),
            chains_stopped: run.results.filter((r) => r.stopped_by_budget).map((r) => r.chain),
          },
        }
      : {}),
    // Which engine and kernel build computed the numbers (null for analytic targets).
    engine: opened.engine,
    created_at: new Date().toISOString(),
    code_version: CODE_VERSION,
  };
  if (chains.threads <= 1) opened.dispose();
  // Checked as its readers will check it, so a bad manifest fails this task, not a later one.
  const checked = parseContract(runManifest, manifest, `${dir}/${MANIFEST_FILE}`, 'run manifest');
  await writeDirAtomic(dir, (tmp) => {
    writeTraces(join(tmp, TRACES_FILE), run.columns);
    writeJsonAtomic(join(tmp, MANIFEST_FILE), checked);
  });
  if (failures.length === resolved.chains.count) throw allFailed(resolved.run_id, failures, dir);
  return { run_id: resolved.run_id, dir, reused: false, failures };
}

/** The deadline a run must end by: its own time budget or the workflow's, whichever comes first. */
export function runBudget(
  startMs: number,
  timeBudget: number | null,
  workflowDeadlineMs: number | undefined,
): { deadline_ms: number; seconds: number; source: 'sampler' | 'workflow' } | null {
  const own = timeBudget !== null ? startMs + 1000 * timeBudget : Number.POSITIVE_INFINITY;
  const wf = workflowDeadlineMs ?? Number.POSITIVE_INFINITY;
  if (!Number.isFinite(own) && !Number.isFinite(wf)) return null;
  if (own <= wf) return { deadline_ms: own, seconds: timeBudget!, source: 'sampler' };
  return { deadline_ms: wf, seconds: Math.max(1e-3, (wf - startMs) / 1000), source: 'workflow' };
}

/**
 * Turns the chains' progress into the run's: each chain's position, the fraction of all the
 * run's sampling steps done, and the time left at the rate so far.
 */
function runProgress(sampler: string, chains: number, sink: ProgressSink): (p: Progress) => void {
  const done = new Map<number, number>();
  const planned = new Map<number, number>();
  let sampleStart: number | null = null;
  return (p) => {
    if (p.phase === 'tune') {
      sink({ stage: 'tune', sampler, chain: p.chain, chains, fge: p.fge, elapsed_s: p.elapsed_s });
      return;
    }
    const now = performance.now();
    sampleStart ??= now - 1000 * p.elapsed_s;
    done.set(p.chain, p.step);
    planned.set(p.chain, p.steps);
    // Chains not heard from yet are assumed to have the schedule of the last one reported.
    const total = p.steps * chains + [...planned.values()].reduce((s, x) => s + x - p.steps, 0);
    const sum = [...done.values()].reduce((s, x) => s + x, 0);
    const fraction = total > 0 ? Math.min(1, sum / total) : 0;
    const elapsed = (now - sampleStart) / 1000;
    sink({
      stage: 'sample', sampler, chain: p.chain, chains, step: p.step, steps: p.steps,
      steps_per_s: p.elapsed_s > 0 ? p.step / p.elapsed_s : 0,
      llc_mean: Number.isFinite(p.llcMean) ? p.llcMean : null,
      fraction,
      elapsed_s: Math.max(0, elapsed),
      eta_s: fraction > 0 && fraction < 1 ? (elapsed * (1 - fraction)) / fraction : fraction >= 1 ? 0 : null,
    });
  };
}

function allFailed(runId: string, failures: ChainFailure[], dir: string): Error {
  return new Error(
    `every chain of ${runId} failed (${failures.map((f) => `chain ${f.chain} at step ${f.step}: ${f.reason}`).join('; ')}); ` +
      `the run is kept in ${dir} for inspection`,
  );
}
