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
import {
  readContractFile, runManifest, toJsonObject, type ChainFailure, type JsonObject, type PosteriorSettings, type RunManifest,
  type SampleTaskResult, type SampleTaskSpec,
} from '../contracts/index.js';

export const MANIFEST_FILE = RUN_FILES.manifest;
export const TRACES_FILE = RUN_FILES.traces;

export interface SampleTaskOptions {
  /** Progress of the chains (throttle on the caller's side). */
  onProgress?: (p: Progress) => void;
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
}

/**
 * Resolves a sample spec. Posterior settings: defaults < target < sampler. Chain settings:
 * defaults < target `chains` < target `burn_in` < sampler `chains` < sampler `burn_in`.
 */
export async function resolveSampleSpec(spec: SampleTaskSpec): Promise<ResolvedSampleSpec> {
  const entry = spec.sampler;
  const loaded = loadSampler(entry.name);
  const config = resolveSamplerConfig(loaded, entry.overrides ?? {});
  const posterior = resolvePosteriorSettings(spec.target_posterior, entry.posterior);
  const burnIn = (v: number | undefined): { burn_in: number } | undefined => (v === undefined ? undefined : { burn_in: v });
  const chains = resolveChainSettings(spec.target_chains, burnIn(spec.target_burn_in), entry.chains, burnIn(entry.burn_in));
  const seed = entry.seed;
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`sampler seed must be a non-negative integer, got ${String(seed)}`);
  const { threads: _threads, ...hashedChains } = chains;
  const run_id = contentId('run', {
    target_id: spec.target_id,
    sampler: loaded.sampler.name,
    config,
    seed,
    posterior,
    chains: hashedChains,
  });
  return { run_id, sampler: loaded.sampler.name, requested_sampler: entry.name, seed, config, posterior, chains };
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
    const failures = readRunManifest(dir).failures;
    if (failures.length >= resolved.chains.count) throw allFailed(resolved.run_id, failures, dir);
    return { run_id: resolved.run_id, dir, reused: true, failures };
  }

  const chains = opts.threads ? { ...resolved.chains, threads: opts.threads } : resolved.chains;
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
  let run: Awaited<ReturnType<typeof runChains>>;
  try {
    run = await runChains({
      source,
      ...(chains.threads <= 1 ? { posterior: opened.posterior } : {}),
      sampler: resolved.sampler,
      cfg: resolved.config,
      chains,
      seed: resolved.seed,
      ...(opts.onProgress ? { onProgress: opts.onProgress } : {}),
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
    // Which engine and kernel build computed the numbers (null for analytic targets).
    engine: opened.engine,
    created_at: new Date().toISOString(),
    code_version: CODE_VERSION,
  };
  if (chains.threads <= 1) opened.dispose();
  await writeDirAtomic(dir, (tmp) => {
    writeTraces(join(tmp, TRACES_FILE), run.columns);
    writeJsonAtomic(join(tmp, MANIFEST_FILE), manifest);
  });
  if (failures.length === resolved.chains.count) throw allFailed(resolved.run_id, failures, dir);
  return { run_id: resolved.run_id, dir, reused: false, failures };
}

function allFailed(runId: string, failures: ChainFailure[], dir: string): Error {
  return new Error(
    `every chain of ${runId} failed (${failures.map((f) => `chain ${f.chain} at step ${f.step}: ${f.reason}`).join('; ')}); ` +
      `the run is kept in ${dir} for inspection`,
  );
}
