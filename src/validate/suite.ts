/**
 * Ground-truth suite: runs a sampler on targets whose learning coefficient is known and
 * reports lambda-hat, the truth, the relative error and the MCSE per case.
 *
 * Cases
 * - quadratic: L = 0.5 |w - w*|^2. For SGLD at a fixed step the truth is the ULA identity
 *   (it must match within 3 MCSE: any other value is a bug, not a discretisation error);
 *   for other samplers the exact posterior value (d/2) (n beta / (n beta + gamma)).
 * - regular: one linear layer (a DLN with a single layer of full rank): lambda = d/2.
 * - dln-*: deep linear networks of several widths, depths and ranks at the teacher
 *   parameter, x ~ N(0, I), noise-free labels: Aoyagi's lambda (posterior/truth.ts).
 * Targets are built in memory from a seeded teacher (the same construction as
 * `teacher: {family: dln, rank}` + `training: {init: teacher}`), so the suite needs no store.
 */
import { keyAt, normalInto, Stream } from '../rng/index.js';
import { createModel } from '../engine/index.js';
import { dlnTeacherParams } from '../targets/networks.js';
import type { EngineImpl, LossFunction, NetworkModel } from '../engine/types.js';
import { makePosterior, quadraticLoss, resolvePosteriorSettings } from '../posterior/posterior.js';
import { dlnLearningCoefficient, quadraticPosteriorLambda, quadraticUlaLambda } from '../posterior/truth.js';
import { mcseMean } from '../diagnostics/index.js';
import { resolveChainSettings } from '../samplers/runner/settings.js';
import { loadSampler, resolveSamplerConfig } from '../samplers/registry.js';
import { runChains } from '../samplers/runner/chains.js';
import type { Posterior } from '../posterior/types.js';
import type { JsonObject } from '../contracts/index.js';
import type { DlnCaseJob, ValidationCaseResult } from '../contracts/validation.js';

export interface ValidateOptions {
  sampler: string;
  /** Sampler overrides (from --set). */
  overrides?: Record<string, unknown>;
  quick?: boolean;
  seed?: number;
  chains?: number;
  /** Engine for the network cases (default: the engine's default on this machine). */
  impl?: EngineImpl;
  onCase?: (r: CaseResult) => void;
}

/** One case's row (its contract: contracts/validation.ts, as it crosses from a case's child process). */
export type CaseResult = ValidationCaseResult;

export interface DlnCase {
  name: string;
  widths: number[];
  rank: number;
}

export const DLN_CASES: readonly DlnCase[] = [
  { name: 'regular linear 4->3', widths: [4, 3], rank: 3 },
  { name: 'dln 3-2-3 r1', widths: [3, 2, 3], rank: 1 },
  { name: 'dln 5-3-5 r1', widths: [5, 3, 5], rank: 1 },
  { name: 'dln 4-4-4-4 r2', widths: [4, 4, 4, 4], rank: 2 },
  { name: 'dln 6-4-3-5 r0', widths: [6, 4, 3, 5], rank: 0 },
];

/**
 * A teacher of exact rank r: every layer N(0, 1/fan_in), and the first layer's rows beyond r
 * set to zero, so the product has rank <= r (= r for generic draws when r <= all widths).
 */
export function dlnTeacher(widths: number[], rank: number, seed: number): Float64Array {
  const layers = widths.length - 1;
  const parts: Float64Array[] = [];
  for (let k = 0; k < layers; k++) {
    const fanIn = widths[k]!;
    const fanOut = widths[k + 1]!;
    const w = normalInto(keyAt(seed, Stream.teacher, k), new Float64Array(fanOut * fanIn));
    for (let i = 0; i < w.length; i++) w[i] = w[i]! / Math.sqrt(fanIn);
    if (k === 0) for (let o = rank; o < fanOut; o++) for (let j = 0; j < fanIn; j++) w[o * fanIn + j] = 0;
    parts.push(w);
  }
  const out = new Float64Array(parts.reduce((s, p) => s + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

/**
 * A balanced teacher of exact rank r: W_k = Q_k D_k Q_{k-1}^T, the teacher `teacher: dln`
 * targets use (targets/networks.ts dlnTeacherParams). Every prefix and suffix of its layers has
 * rank r with singular values products of the D entries, so no layer's rank-r part is hidden
 * behind a nearly singular neighbour, as it can be in a product of Gaussian layers.
 */
export function balancedDlnTeacher(widths: number[], rank: number, seed: number): Float64Array {
  return dlnTeacherParams({ sizes: widths, activation: 'identity', bias: false, layerNorm: false }, rank, keyAt(seed, Stream.teacher));
}

/** The teacher of a DLN validation job (its `teacher`, Gaussian layers when absent). */
export function jobTeacher(job: Pick<DlnCaseJob, 'widths' | 'rank' | 'teacherSeed' | 'teacher'>): Float64Array {
  return job.teacher === 'balanced' ? balancedDlnTeacher(job.widths, job.rank, job.teacherSeed) : dlnTeacher(job.widths, job.rank, job.teacherSeed);
}

export function dlnModel(widths: number[], wStar: Float64Array, n: number, seed: number, impl?: EngineImpl): NetworkModel {
  const inDim = widths[0]!;
  const outDim = widths[widths.length - 1]!;
  const X = normalInto(keyAt(seed, Stream.data), new Float64Array(n * inDim));
  const spec = { sizes: widths, activation: 'identity' as const, bias: false, layerNorm: false };
  const probe = createModel({ spec, data: { n, inDim, outDim, X, Y: new Float64Array(n * outDim) }, loss: { kind: 'mse' }, dtype: 'float64', ...(impl ? { impl } : {}) });
  const Y = probe.predict(wStar, X, n); // noise-free labels
  probe.dispose();
  return createModel({ spec, data: { n, inDim, outDim, X, Y }, loss: { kind: 'mse' }, dtype: 'float64', ...(impl ? { impl } : {}) });
}

/**
 * The posterior of DLN case `index` at sample size n (teacher seed 100 + index, data seed
 * 200 + index), with its Aoyagi lambda. The caller disposes the model.
 */
export function dlnCasePosterior(index: number, n: number, impl?: EngineImpl): { posterior: Posterior; truth: number; model: LossFunction & { dispose(): void } } {
  const c = DLN_CASES[index]!;
  const settings = resolvePosteriorSettings({});
  const wStar = dlnTeacher(c.widths, c.rank, 100 + index);
  const model = dlnModel(c.widths, wStar, n, 200 + index, impl);
  const posterior = makePosterior({ loss: model, wStar, beta0: settings.beta0, betaMode: settings.beta_mode, gamma: settings.gamma });
  return { posterior, truth: dlnLearningCoefficient(c.widths, c.rank).lambda, model };
}

export async function runCase(
  name: string,
  kind: CaseResult['kind'],
  posterior: Posterior,
  truth: number,
  opts: Pick<ValidateOptions, 'sampler' | 'chains' | 'seed'>,
  cfg: JsonObject,
): Promise<CaseResult> {
  const t0 = performance.now();
  const cpu0 = process.cpuUsage();
  const run = await runChains({ posterior, sampler: opts.sampler, cfg, chains: resolveChainSettings({ count: opts.chains ?? 4 }), seed: opts.seed ?? 0 });
  const perChain = run.results.map((r) => Array.from(r.columns.llc as Float64Array));
  const all = perChain.flat();
  const mean = all.reduce((s, x) => s + x, 0) / all.length;
  // A chain that failed (diverged) stops early: the case fails, and the MCSE of unequal chains
  // is not defined.
  const failures = run.results.flatMap((r) => (r.failure ? [`chain ${r.chain}: ${r.failure.reason} (step ${r.failure.step})`] : []));
  const sameLength = perChain.every((c) => c.length === perChain[0]!.length);
  const mcse = failures.length === 0 && sameLength && all.length >= 8 && all.every(Number.isFinite) ? mcseMean(perChain).value : null;
  const err = mean - truth;
  const z = mcse ? Math.abs(err) / mcse : null;
  const pass = failures.length > 0 ? false : kind === 'identity' || kind === 'exact' ? z !== null && z < 3 : Math.abs(err) / truth < 0.1;
  return {
    ...(failures.length > 0 ? { note: failures.join('; ') } : {}),
    case: name,
    kind,
    d: posterior.dim,
    n: posterior.n,
    lambda_hat: mean,
    truth,
    rel_error: err / truth,
    mcse,
    z,
    pass,
    per_chain: perChain.map((c) => c.reduce((s, x) => s + x, 0) / c.length),
    step_sizes: run.results.map((r) => Number((r.tuned as { step_size?: number }).step_size ?? Number.NaN)),
    total_fge: run.results.reduce((s, r) => s + r.tune_fge + r.sample_fge + r.eval_fge, 0),
    wall_s: (performance.now() - t0) / 1000,
    cpu_s: cpuSeconds(process.cpuUsage(cpu0)),
  };
}

function cpuSeconds(u: NodeJS.CpuUsage): number {
  return (u.user + u.system) / 1e6;
}

/** One case of `--suite dln-wide`: the DLN at its teacher, the sampler at its defaults. */
export async function runDlnJob(job: DlnCaseJob): Promise<CaseResult> {
  const settings = resolvePosteriorSettings({});
  const scale = job.teacherScale ?? 1;
  const wStar = jobTeacher(job).map((v) => v * scale);
  const model = dlnModel(job.widths, wStar, job.n, job.dataSeed, job.impl);
  try {
    const posterior = makePosterior({ loss: model, wStar, beta0: settings.beta0, betaMode: settings.beta_mode, gamma: settings.gamma });
    const loaded = loadSampler(job.sampler);
    const cfg = resolveSamplerConfig(loaded, job.overrides);
    const truth = dlnLearningCoefficient(job.widths, job.rank).lambda;
    const r = await runCase(job.name, job.widths.length === 2 ? 'regular' : 'aoyagi', posterior, truth, { sampler: job.sampler, chains: job.chains, seed: job.seed }, cfg);
    const scaled = scale !== 1 ? `teacher x${scale.toFixed(2)} (its rank and each layer's share visible at this n)` : undefined;
    const note = [r.note, scaled].filter((x) => x !== undefined).join('; ');
    return { ...r, ...(note ? { note } : {}), sampler: job.sampler };
  } finally {
    model.dispose();
  }
}

/**
 * Adam-SGLD is compared with the exact posterior value, which it does not target: its drift is
 * the EMA m of past gradients, and for a fixed preconditioner its stationary variance is the
 * Lyapunov solution of `quadraticAdamSgldLambda` (sgld.ts; tested to 3 MCSE), an excess over
 * the exact value about (1 + b1) / (1 - b1) = 19 times ULA's. Calibration budgets that factor,
 * but the adaptive v (an EMA of g^2 over ~1 / (1 - b2) steps, correlated with the position)
 * adds a further excess that no identity here captures (measured: about 2x the fixed-D excess
 * at eps_i a = 0.01), hence +10-16% on this case.
 */
const ADAM_NOTE =
  "adam_sgld: expected to exceed the exact value: Adam's EMA drift has its own stationary law (sgld.ts quadraticAdamSgldLambda), and its adaptive v adds a further, unmodelled excess";

/** --quick run length: 4000 steps for a step-based sampler, 2000 draws for a draw-based one. */
function quickLength(loaded: ReturnType<typeof loadSampler>): { steps: number } | { draws: number } {
  try {
    loaded.sampler.parseConfig({ steps: 4000 });
    return { steps: 4000 };
  } catch {
    return { draws: 2000 };
  }
}

export async function runValidation(opts: ValidateOptions): Promise<CaseResult[]> {
  const loaded = await loadSampler(opts.sampler);
  const quick = opts.quick ?? false;
  const settings = resolvePosteriorSettings({});
  const results: CaseResult[] = [];
  const push = (r: CaseResult): void => {
    results.push(r);
    opts.onCase?.(r);
  };

  // Quadratic identity / exact value.
  {
    const d = 20;
    const n = 10_000;
    const centre = new Float64Array(d).map((_, i) => Math.sin(i));
    const posterior = makePosterior({ loss: quadraticLoss(centre, n), wStar: centre, L0: 0 });
    const isSgld = loaded.sampler.name === 'sgld' && (loaded.fixed.precond ?? opts.overrides?.precond ?? 'none') === 'none';
    const a = posterior.gamma + posterior.nBeta;
    if (isSgld) {
      const eps = 0.4 / a;
      const cfg = resolveSamplerConfig(loaded, { ...opts.overrides, step_size: eps, steps: quick ? 2000 : 8000, eval_every: 5 });
      const truth = quadraticUlaLambda({ d, n, beta: posterior.beta, gamma: posterior.gamma, stepSize: eps });
      push(await runCase(`quadratic d=${d} (ULA identity, eps a = 0.4)`, 'identity', posterior, truth, opts, cfg));
    } else {
      const cfg = resolveSamplerConfig(loaded, { ...opts.overrides });
      const truth = quadraticPosteriorLambda({ d, n, beta: posterior.beta, gamma: posterior.gamma });
      const r = await runCase(`quadratic d=${d} (exact)`, 'exact', posterior, truth, opts, cfg);
      if (cfg.precond === 'adam') r.note = ADAM_NOTE;
      push(r);
    }
  }

  // Regular model and DLNs at the teacher.
  const n = quick ? 2000 : 10_000;
  const cases = quick ? DLN_CASES.slice(0, 3) : DLN_CASES;
  for (const [i, c] of cases.entries()) {
    const wStar = dlnTeacher(c.widths, c.rank, 100 + i);
    const model: LossFunction & { dispose(): void } = dlnModel(c.widths, wStar, n, 200 + i, opts.impl);
    try {
      const posterior = makePosterior({
        loss: model,
        wStar,
        beta0: settings.beta0,
        betaMode: settings.beta_mode,
        gamma: settings.gamma,
      });
      const truth = dlnLearningCoefficient(c.widths, c.rank).lambda;
      // --quick: a fixed short run (a smoke test, not a verdict); the full suite uses the
      // sampler's defaults (SGLD: auto length in localiser relaxation times).
      const cfg = resolveSamplerConfig(loaded, { ...(quick && loaded.sampler.name === 'sgld' ? { steps: 4000, eval_every: 20 } : quick ? quickLength(loaded) : {}), ...opts.overrides });
      push(await runCase(c.name, c.widths.length === 2 ? 'regular' : 'aoyagi', posterior, truth, opts, cfg));
    } finally {
      model.dispose();
    }
  }
  return results;
}

export function formatTable(rows: CaseResult[]): string {
  const withSampler = rows.some((r) => r.sampler !== undefined && r.sampler !== rows[0]!.sampler);
  const withTol = rows.some((r) => r.tolerance !== undefined && r.tolerance !== null);
  const head = [...(withSampler ? ['sampler'] : []), 'case', 'd', 'n', 'lambda_hat', 'truth', 'rel_err', 'mcse', 'z', ...(withTol ? ['tol'] : []), 'cpu_s', 'pass'];
  const lines = rows.map((r) => [
    ...(withSampler ? [r.sampler ?? ''] : []),
    r.case,
    String(r.d),
    String(r.n),
    r.lambda_hat.toFixed(3),
    r.truth.toFixed(3),
    `${(100 * r.rel_error).toFixed(1)}%`,
    r.mcse === null ? '-' : r.mcse.toFixed(3),
    r.z === null ? '-' : r.z.toFixed(1),
    ...(withTol ? [r.tolerance === undefined || r.tolerance === null ? '-' : r.tolerance.toPrecision(3)] : []),
    r.cpu_s.toFixed(1),
    r.pass ? 'ok' : 'FAIL',
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...lines.map((l) => l[j]!.length)));
  const left = withSampler ? 2 : 1;
  const fmt = (cells: string[]): string => cells.map((c, j) => (j < left ? c.padEnd(widths[j]!) : c.padStart(widths[j]!))).join('  ');
  const notes = rows.filter((r) => r.note).map((r) => `note (${r.case}): ${r.note!}`);
  return [fmt(head), ...lines.map(fmt), ...notes].join('\n');
}

export const OWN_MODEL_SUITES = ['logistic', 'restricted-dln'] as const;
export type OwnModelSuite = (typeof OWN_MODEL_SUITES)[number];

export interface OwnModelSuiteOptions extends ValidateOptions {
  suite: OwnModelSuite;
  /** Number of random cases (default 24). */
  cases?: number;
}

/**
 * The `llc` suites: random families of networks whose learning coefficient is known exactly
 * (own-models.ts), written as PyTorch and numpy write them, each run through `llc` (the files
 * become a target in a scratch store, sampled with the sampler's defaults and diagnosed). The
 * logistic suite alternates plain logistic regressions with restricted MLP heads.
 */
export async function runOwnModelSuite(opts: OwnModelSuiteOptions): Promise<CaseResult[]> {
  const { mkdtempSync, rmSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { llcFromFiles } = await import('../tasks/llc.js');
  const own = await import('./own-models.js');
  const count = opts.cases ?? 24;
  // The family draw follows the run seed, so --seed gives another family.
  const seed = 1 + (opts.seed ?? 0);
  const root = mkdtempSync(join(tmpdir(), `lambda-hat-${opts.suite}-`));
  const results: CaseResult[] = [];
  try {
    for (let i = 0; i < count; i++) {
      const dir = join(root, `case-${i}`);
      const c =
        opts.suite === 'restricted-dln'
          ? own.restrictedDlnCase(dir, seed, i)
          : i % 3 === 2
            ? own.mlpHeadCase(dir, seed, i)
            : own.logisticCase(dir, seed, i);
      const t0 = performance.now();
      const cpu0 = process.cpuUsage();
      const out = await llcFromFiles({
        home: join(root, 'store'),
        model: c.model,
        data: c.data,
        activation: c.activation,
        sampler: {
          name: opts.sampler,
          seed: opts.seed ?? 0,
          overrides: (opts.overrides ?? {}) as JsonObject,
          ...(opts.chains ? { chains: { count: opts.chains } } : {}),
        },
        ...(c.restrict ? { restrict: c.restrict } : {}),
        ...(opts.impl ? { impl: opts.impl } : {}),
      });
      const row = out.rows[0]!;
      const a = row.analysis;
      const mean = a.llc_mean ?? Number.NaN;
      const err = mean - c.truth;
      const r: CaseResult = {
        case: c.name,
        kind: 'regular',
        d: row.params,
        n: c.n,
        lambda_hat: mean,
        truth: c.truth,
        rel_error: err / c.truth,
        mcse: a.llc_mcse,
        z: a.llc_mcse ? Math.abs(err) / a.llc_mcse : null,
        pass: Number.isFinite(mean) && Math.abs(err) / c.truth < 0.1,
        per_chain: [],
        step_sizes: [],
        ...(row.trust !== 'ok' || c.localized !== undefined
          ? { note: [c.localized !== undefined ? `localized quadratic value ${c.localized.toFixed(3)}` : '', row.trust !== 'ok' ? `trust ${row.trust}` : ''].filter((x) => x).join('; ') }
          : {}),
        total_fge: a.total_fge ?? 0,
        wall_s: (performance.now() - t0) / 1000,
        cpu_s: cpuSeconds(process.cpuUsage(cpu0)),
      };
      results.push(r);
      opts.onCase?.(r);
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  return results;
}

/** Worst and median |relative error| of a suite's cases, and how many are within 10%. */
export function suiteSummary(rows: CaseResult[]): { worst: number; median: number; within10: number; cases: number } {
  const errs = rows.map((r) => Math.abs(r.rel_error)).sort((a, b) => a - b);
  const mid = errs.length === 0 ? Number.NaN : errs.length % 2 === 1 ? errs[(errs.length - 1) / 2]! : (errs[errs.length / 2 - 1]! + errs[errs.length / 2]!) / 2;
  return { worst: errs[errs.length - 1] ?? Number.NaN, median: mid, within10: errs.filter((e) => e < 0.1).length, cases: errs.length };
}
