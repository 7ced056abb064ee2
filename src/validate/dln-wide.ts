/**
 * `validate --suite dln-wide`: default SGLD on random deep linear networks it was never tuned
 * on. Each case is drawn from its own key (seed, case): 2-5 layers, every width uniform in
 * 3..20, the teacher's rank uniform in 0..min(width), n log-uniform in 1e3..1e5; the teacher is
 * w*, x ~ N(0, I), labels noise-free, truth Aoyagi's lambda (posterior/truth.ts). The pass bar
 * is 10% of lambda for every case.
 *
 * The teacher is balanced, W_k = Q_k D_k Q_{k-1}^T with random orthonormal Q_k and D_k in
 * [0.75, 1.25] (suite.ts balancedDlnTeacher, the teacher of `teacher: dln` targets): every
 * factor has rank r, the most singular part of the true set, where the local coefficient is
 * Aoyagi's global one.
 *
 * Aoyagi's lambda is an asymptote; at a finite n the posterior follows it only where the data see
 * the teacher's structure:
 * - Its weakest direction. Dropping it (a rank r - 1 map) raises the tempered loss by
 *   n beta sigma_r^2 / q (q outputs, the MSE a mean over them) but lowers the free energy by
 *   (lambda_r - lambda_{r-1}) log(n beta), so rank r - 1 wins unless
 *     n beta sigma_r^2 / q > (lambda_r - lambda_{r-1}) log(n beta).
 *   A product of Gaussian layers 4-7-7-13-19 r4 at n = 3239 has sigma_4 = 0.07, four times too
 *   small; the exact sampler (HMC) gives -17.7% of lambda there, and the same teacher scaled to
 *   be visible gives HMC -3.2%, SGLD +1.4%.
 * - Every layer's rank-r part, which the data see through the layers around it; where they are
 *   nearly singular the localizer, not the data, holds it (resolvingTeacherScale). A product of
 *   Gaussian layers 10-9-3-17 r3 hides its third layer so and gives HMC -20% at n = 19540 and at
 *   1e5; balanced teachers rarely do.
 * Each teacher is scaled up (never down; a DLN's lambda depends on its rank, not its scale) by
 * the smallest factor that meets both (`teacherScale`, in the note of its row). Cases run in
 * this process (--threads 1) or in child processes, one case each, so every case's CPU seconds
 * are their own.
 */
import { fork } from 'node:child_process';
import { keyAt, uniform } from '../rng/index.js';
import { taskEntryFile } from './case-entry.js';
import { dlnLearningCoefficient } from '../posterior/truth.js';
import { betaOf, resolvePosteriorSettings } from '../posterior/posterior.js';
import { linearNetworkSingularValues, weakestLayerGain } from './spectrum.js';
import { parseContract, validationCaseReply, type ValidationCaseJob } from '../contracts/index.js';
import type { EngineImpl } from '../engine/types.js';
import { balancedDlnTeacher, runDlnJob, type CaseResult } from './suite.js';

export interface WideDlnCase {
  index: number;
  name: string;
  widths: number[];
  rank: number;
  n: number;
  /** Seeds of the teacher and the data (derived from the suite seed and the case index). */
  teacherSeed: number;
  dataSeed: number;
  truth: number;
  d: number;
  /** Factor on every teacher layer that makes its rank visible at n (1: already visible). */
  teacherScale: number;
}

/**
 * How far past the rank-(r - 1) free-energy crossover the teacher's weakest direction must sit.
 * At the crossover the posterior splits between the ranks; at twice it the lower rank's weight
 * is exp(-(lambda_r - lambda_{r-1}) log(n beta)) of the teacher's: e^-2.5 at the least (a gap of
 * 1/2 at n ~ 1e3, 12-20-16 r6), below e^-9 for most of the family.
 */
export const RESOLUTION_MARGIN = 2;

/**
 * How far the data's curvature along the flattest rank-r direction of any one layer must exceed
 * the localizer's gamma. A quadratic direction of curvature a under the localizer gamma holds
 * a / (a + gamma) of its share of lambda-hat; at 10 gamma that is 91%, and only the few
 * flattest directions sit that low.
 */
export const LAYER_MARGIN = 10;

/**
 * The smallest factor c >= 1 on every layer of the teacher (widths, rank, its unscaled
 * parameters w) after which, at this n,
 * - its rank is what the posterior sees: n beta (c^L sigma_r)^2 / q >= margin (lambda_r -
 *   lambda_{r-1}) log(n beta) (module comment);
 * - so is every layer's rank-r part: n beta c^{2(L-1)} g / q >= LAYER_MARGIN gamma, with g the
 *   weakest layer's gain (spectrum.ts weakestLayerGain). Below that the localizer, not the data,
 *   holds those directions and lambda-hat falls short of lambda for every sampler: a Gaussian
 *   10-9-3-17 r3 teacher at n = 19540, whose third layer's prefix W2 W1 has sigma_3 = 0.06
 *   (n beta g / q = 0.44), gives HMC -20% there and still -20% at n = 1e5.
 */
export function resolvingTeacherScale(widths: readonly number[], rank: number, w: ArrayLike<number>, n: number, margin = RESOLUTION_MARGIN): number {
  if (rank === 0) return 1;
  const settings = resolvePosteriorSettings({});
  const nBeta = n * betaOf(settings.beta0, settings.beta_mode, n);
  const layers = widths.length - 1;
  const q = widths[layers]!;
  const sigmaR = linearNetworkSingularValues(widths, w)[rank - 1]!;
  const gap = dlnLearningCoefficient(widths, rank).lambda - dlnLearningCoefficient(widths, rank - 1).lambda;
  const neededSigma2 = (margin * gap * Math.log(nBeta) * q) / nBeta;
  const forRank = (neededSigma2 / (sigmaR * sigmaR)) ** (1 / (2 * layers));
  const neededGain = (LAYER_MARGIN * settings.gamma * q) / nBeta;
  const forLayers = layers > 1 ? (neededGain / weakestLayerGain(widths, w, rank)) ** (1 / (2 * (layers - 1))) : 1;
  return Math.max(1, forRank, forLayers);
}

/** A salt that keeps the family's draws apart from every other use of the suite seed. */
const FAMILY_STREAM = 0x64_6c_6e; // "dln"

export const WIDE_RANGES = { layers: [2, 5], width: [3, 20], logN: [3, 5] } as const;

/** The `count` cases of the family for `seed` (case i depends on (seed, i) only). */
export function dlnWideCases(count: number, seed: number): WideDlnCase[] {
  const out: WideDlnCase[] = [];
  for (let i = 0; i < count; i++) {
    const u = uniform(keyAt(seed, FAMILY_STREAM, i), 32);
    let j = 0;
    const next = (): number => u[j++]!;
    const [l0, l1] = WIDE_RANGES.layers;
    const layers = l0 + Math.floor(next() * (l1 - l0 + 1));
    const [w0, w1] = WIDE_RANGES.width;
    const widths = Array.from({ length: layers + 1 }, () => w0 + Math.floor(next() * (w1 - w0 + 1)));
    const minWidth = Math.min(...widths);
    const rank = Math.floor(next() * (minWidth + 1));
    const [g0, g1] = WIDE_RANGES.logN;
    const n = Math.round(10 ** (g0 + next() * (g1 - g0)));
    const truth = dlnLearningCoefficient(widths, rank);
    const teacherSeed = 1_000_003 * (seed + 1) + 2 * i;
    out.push({
      index: i,
      name: `${widths.join('-')} r${rank} n${n}`,
      widths,
      rank,
      n,
      teacherSeed,
      dataSeed: 1_000_003 * (seed + 1) + 2 * i + 1,
      truth: truth.lambda,
      d: truth.d,
      teacherScale: resolvingTeacherScale(widths, rank, balancedDlnTeacher(widths, rank, teacherSeed), n),
    });
  }
  return out;
}

/**
 * Runs `jobs` with at most `threads` at once: in this process when threads <= 1 (`run`), else
 * each in a child process of its own (case-child.ts). Results in job order.
 */
export async function runJobs(
  jobs: readonly ValidationCaseJob[],
  threads: number,
  run: (job: ValidationCaseJob) => Promise<CaseResult>,
  onDone?: (r: CaseResult, index: number) => void,
): Promise<CaseResult[]> {
  const results: CaseResult[] = new Array<CaseResult>(jobs.length);
  if (threads <= 1) {
    for (const [i, job] of jobs.entries()) {
      results[i] = await run(job);
      onDone?.(results[i]!, i);
    }
    return results;
  }
  let nextJob = 0;
  const entry = taskEntryFile();
  const inChild = (i: number): Promise<CaseResult> =>
    new Promise<CaseResult>((resolve, reject) => {
      const child = fork(entry.file, [], { execArgv: entry.execArgv, serialization: 'advanced', stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
      let replied = false;
      child.on('message', (raw: unknown) => {
        replied = true;
        try {
          const reply = parseContract(validationCaseReply, raw, `validation case ${i} (${jobs[i]!.name})`, 'reply');
          if (reply.ok) resolve(reply.result);
          else reject(new Error(`validation case ${i} (${jobs[i]!.name}) failed: ${reply.error}`));
        } catch (err) {
          reject(err instanceof Error ? err : new Error(String(err)));
        }
        child.disconnect();
      });
      child.on('error', reject);
      child.on('exit', (code) => {
        if (!replied) reject(new Error(`validation case ${i} (${jobs[i]!.name}): its process exited with code ${code} before replying`));
      });
      child.send(jobs[i]);
    });
  const lane = async (): Promise<void> => {
    while (nextJob < jobs.length) {
      const i = nextJob++;
      results[i] = await inChild(i);
      onDone?.(results[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(threads, jobs.length) }, lane));
  return results;
}

export interface DlnWideOptions {
  sampler: string;
  overrides?: Record<string, unknown>;
  /** Number of networks (default 30). */
  cases?: number;
  seed?: number;
  chains?: number;
  /** Cases run at once, each in a process of its own (1: in this process). */
  threads?: number;
  impl?: EngineImpl;
  onCase?: (r: CaseResult, index: number) => void;
}

export function dlnWideJobs(o: DlnWideOptions): ValidationCaseJob[] {
  return dlnWideCases(o.cases ?? 30, o.seed ?? 0).map((c) => ({
    kind: 'dln' as const,
    widths: c.widths,
    rank: c.rank,
    n: c.n,
    teacherSeed: c.teacherSeed,
    teacher: 'balanced' as const,
    teacherScale: c.teacherScale,
    dataSeed: c.dataSeed,
    name: c.name,
    sampler: o.sampler,
    overrides: o.overrides ?? {},
    chains: o.chains ?? 4,
    seed: o.seed ?? 0,
    ...(o.impl ? { impl: o.impl } : {}),
  }));
}

export async function runDlnWide(o: DlnWideOptions): Promise<CaseResult[]> {
  return runJobs(dlnWideJobs(o), o.threads ?? 1, (job) => (job.kind === 'dln' ? runDlnJob(job) : Promise.reject(new Error('not a DLN case'))), o.onCase);
}

/** Worst and median |relative error|, and the CPU seconds, of a set of rows. */
export function errorSummary(rows: readonly CaseResult[]): { worst: CaseResult | undefined; median_abs_error: number; cpu_s: number; passed: number } {
  const abs = rows.map((r) => Math.abs(r.rel_error)).sort((a, b) => a - b);
  const m = abs.length >> 1;
  const median = abs.length === 0 ? Number.NaN : abs.length % 2 ? abs[m]! : (abs[m - 1]! + abs[m]!) / 2;
  let worst: CaseResult | undefined;
  for (const r of rows) if (!worst || !(Math.abs(r.rel_error) <= Math.abs(worst.rel_error))) worst = r;
  return { worst, median_abs_error: median, cpu_s: rows.reduce((s, r) => s + r.cpu_s, 0), passed: rows.filter((r) => r.pass).length };
}
