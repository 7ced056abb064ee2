/**
 * Runs a study: per problem, the target is built and its reference found (the known truth, else
 * an HMC run); then per method, trials are proposed in batches of `batch_size` (TPE or random,
 * from the trials finished before the batch) and run as `trial` tasks on the executor, each with
 * its time budget. A failed or timed-out trial is recorded with no value and counts as the worst
 * (penalised), never stopping the study.
 *
 * Resuming: `<home>/studies/<name>-<id>/study.json` is rewritten atomically after every finished
 * trial. Because a trial's proposal depends only on the seed, its number and the trials of the
 * batches before it, a rerun proposes the same trials; a trial the file already holds with the
 * same settings is reused without running, and a trial whose run finished before an interrupt
 * but was not yet recorded finds its content-addressed run complete in the store.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Card } from '../config/cards.js';
import { createExecutor } from '../executors/index.js';
import type { Executor, TaskOutcome } from '../executors/types.js';
import {
  buildTaskResult, parseContract, readContractFile, studyFile, trialTaskResult,
  type StudyFile, type StudyProblem, type StudyReference, type TrialRecord, type TrialTaskResult, type TrialTaskSpec,
} from '../contracts/index.js';
import { dlnLearningCoefficient, quadraticPosteriorLambda } from '../posterior/truth.js';
import { canonicalJson, writeJsonAtomic } from '../store/index.js';
import { applyParams, searchSeed, trialSeed, type MethodPlan, type StudyConfig, type StudyProblemConfig } from './config.js';
import { propose, type Observation, type SearchSpace } from './tpe.js';

export function studiesDir(home: string): string {
  return join(home, 'studies');
}

export function studyDirOf(home: string, study: Pick<StudyConfig, 'name' | 'study_id'>): string {
  return join(studiesDir(home), `${study.name.replace(/[^A-Za-z0-9_-]+/g, '_')}-${study.study_id.replace(/^study_/, '')}`);
}

/** The objective of an estimate: |λ̂ - ref|, or its Huber loss with threshold delta. */
export function objectiveValue(objective: StudyConfig['objective'], llc: number, reference: number): number {
  const d = Math.abs(llc - reference);
  if (objective.type === 'abs') return d;
  return d <= objective.delta ? 0.5 * d * d : objective.delta * (d - 0.5 * objective.delta);
}

/** The known learning coefficient of a problem's target, when there is one (without building it). */
export function knownTruth(p: StudyProblemConfig): { value: number | null; source: string; per_trial: boolean } | null {
  const model = p.config.model;
  if (model.family === 'quadratic') {
    return { value: null, source: `quadratic d=${model.dim}: (d/2)·nβ/(nβ+γ), exact for each trial's posterior`, per_trial: true };
  }
  const teacher = p.config.teacher;
  if (model.family === 'dln' && teacher?.family === 'dln') {
    try {
      const widths = [model.in_dim, ...model.widths, model.out_dim];
      return { value: dlnLearningCoefficient(widths, teacher.rank).lambda, source: `DLN ${widths.join('-')} rank ${teacher.rank} (Aoyagi)`, per_trial: false };
    } catch {
      return null;
    }
  }
  return null;
}

/** The reference λ of one trial: the problem's, or the quadratic's exact value at the trial's nβ, γ. */
function referenceFor(problem: StudyProblemConfig, ref: StudyReference, r: TrialTaskResult): number {
  if (ref.per_trial && problem.config.model.family === 'quadratic') {
    return quadraticPosteriorLambda({ d: problem.config.model.dim, n: r.n, beta: r.beta, gamma: r.gamma });
  }
  return ref.value;
}

/**
 * The search space of a method on one problem: minibatch sizes above the problem's n cannot run
 * (a minibatch draws distinct rows), so those choices are left out, with one message; a space
 * with no feasible choice is kept, and its trials fail and are penalised.
 */
export function feasibleSpace(p: StudyProblemConfig, plan: MethodPlan, say: (message: string) => void): SearchSpace {
  const n = p.config.data.n;
  return plan.params.map((q) => {
    if (q.to[0] !== 'overrides' || q.to[1] !== 'batch_size') return [q.name, q.spec] as const;
    if (q.spec.dist === 'categorical') {
      const ok = q.spec.choices.filter((c) => typeof c !== 'number' || c <= n);
      if (ok.length > 0 && ok.length < q.spec.choices.length) {
        say(`problem ${p.index} (n = ${n}): ${plan.method} ${q.name} ${q.spec.choices.filter((c) => !ok.includes(c)).join(', ')} exceed n and are not searched`);
        return [q.name, { ...q.spec, choices: ok }] as const;
      }
    } else if (q.spec.high > n && q.spec.low <= n) {
      say(`problem ${p.index} (n = ${n}): ${plan.method} ${q.name} searched up to n = ${n}, not ${q.spec.high}`);
      return [q.name, { ...q.spec, high: n }] as const;
    }
    return [q.name, q.spec] as const;
  });
}

export interface StudyEvent {
  type: 'reference' | 'trial';
  problem: number;
  method?: string;
  record?: TrialRecord;
  reused?: boolean;
  message: string;
}

export interface RunStudyOptions {
  study: StudyConfig;
  card: Card;
  home: string;
  signal?: AbortSignal;
  env?: NodeJS.ProcessEnv;
  onEvent?: (e: StudyEvent) => void;
  /** Injected executor (tests); default: the one the card asks for. */
  executor?: (dirs: { tasksDir: string; logsDir: string }) => Executor;
}

export interface StudyResult {
  dir: string;
  file: StudyFile;
  cancelled: boolean;
  /** Trials taken from the study file of an earlier invocation. */
  reused: number;
  /** Trials run by this invocation (their runs may still come from the store). */
  ran: number;
  /** Of those, trials whose sample run was already complete in the store. */
  runs_reused: number;
  failed: number;
  walltime_s: number;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace(/\..*$/, '');
}

export function loadStudyFile(dir: string): StudyFile | undefined {
  const path = join(dir, 'study.json');
  if (!existsSync(path)) return undefined;
  return readContractFile(path, studyFile, 'study file');
}

function outcomeError(o: TaskOutcome): string {
  if (o.ok) return '';
  return `${o.error.kind}: ${o.error.message.split('\n')[0]}`;
}

export async function runStudy(opts: RunStudyOptions): Promise<StudyResult> {
  const t0 = performance.now();
  const { study, home } = opts;
  const dir = studyDirOf(home, study);
  const invocation = join(dir, 'invocations', `${stamp()}-${process.pid}`);
  const dirs = { tasksDir: join(invocation, 'tasks'), logsDir: join(invocation, 'logs') };
  mkdirSync(dirs.tasksDir, { recursive: true });
  mkdirSync(dirs.logsDir, { recursive: true });
  const previous = loadStudyFile(dir);
  const now = new Date().toISOString();
  const file: StudyFile = previous ?? {
    version: 1, study_id: study.study_id, name: study.name, config_file: study.file, created_at: now, updated_at: now, problems: [], trials: [],
  };
  const save = (): void => {
    file.updated_at = new Date().toISOString();
    writeJsonAtomic(join(dir, 'study.json'), file);
  };
  const emit = (e: StudyEvent): void => {
    try {
      opts.onEvent?.(e);
    } catch {
      // progress output never changes what runs
    }
  };
  const executor = opts.executor ? opts.executor(dirs) : createExecutor(opts.card, dirs, opts.env ?? process.env);
  let cancelled = false;
  const onAbort = (): void => {
    cancelled = true;
    void executor.cancel();
  };
  if (opts.signal?.aborted) onAbort();
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  let reused = 0;
  let ran = 0;
  let runsReused = 0;
  let failed = 0;
  let keySeq = 0;
  const taskKey = (label: string): string => `${String(keySeq++).padStart(4, '0')}-${label.replace(/[^A-Za-z0-9_-]+/g, '_')}`;

  const trialSpec = (p: StudyProblemConfig, sampler: TrialTaskSpec['sampler']): TrialTaskSpec => ({
    kind: 'trial', home, target_id: p.target_id, sampler,
    ...(p.posterior ? { target_posterior: p.posterior } : {}),
    ...(p.chains ? { target_chains: p.chains } : {}),
    ...(p.burn_in !== undefined ? { target_burn_in: p.burn_in } : {}),
  });

  try {
    // 1. Targets, then references (truth or HMC), per problem.
    const problems: StudyProblem[] = [];
    const problemRefs = new Map<number, StudyReference>();
    await Promise.all(study.problems.map(async (p) => {
      const label = `problem ${p.index} ${p.target_id}`;
      const built = await executor.run({ key: taskKey(`build-p${p.index}`), spec: { kind: 'build', home, target: p.config } });
      if (!built.ok) {
        problems[p.index] = { index: p.index, target_id: p.target_id, label, reference: null };
        if (!cancelled) emit({ type: 'reference', problem: p.index, message: `${label}: build failed: ${outcomeError(built)}` });
        return;
      }
      parseContract(buildTaskResult, built.result, `build of problem ${p.index}`, 'build result');
      const known = previous?.problems.find((q) => q.index === p.index && q.target_id === p.target_id)?.reference ?? null;
      let ref: StudyReference | null = known;
      if (ref === null && study.reference.value !== undefined) {
        ref = { kind: 'value', value: study.reference.value, mcse: null, source: 'the study file\'s reference.value', run_dir: null, per_trial: false };
      }
      const truth = ref === null ? knownTruth(p) : null;
      if (ref === null && truth !== null) {
        // A per-trial truth (the quadratic's) has no single value: 0 stands in, never used.
        ref = { kind: 'truth', value: truth.value ?? 0, mcse: null, source: truth.source, run_dir: null, per_trial: truth.per_trial };
      }
      if (ref === null) {
        const entry = { name: study.reference.sampler, seed: study.reference.seed, overrides: study.reference.overrides };
        const out = await executor.run({ key: taskKey(`reference-p${p.index}`), spec: trialSpec(p, entry), timeout_s: study.budget.hmc_sec });
        if (out.ok) {
          const r = parseContract(trialTaskResult, out.result, `reference run of problem ${p.index}`, 'trial result');
          if (r.llc_mean !== null) {
            ref = { kind: 'hmc', value: r.llc_mean, mcse: r.llc_mcse, source: `${study.reference.sampler} run ${r.run_id}`, run_dir: r.run_dir, per_trial: false };
          }
        }
        if (ref === null && !cancelled) {
          emit({ type: 'reference', problem: p.index, message: `${label}: no reference: ${study.reference.sampler} run failed: ${out.ok ? 'no estimate' : outcomeError(out)}` });
        }
      }
      problems[p.index] = { index: p.index, target_id: p.target_id, label, reference: ref };
      if (ref !== null) {
        problemRefs.set(p.index, ref);
        emit({ type: 'reference', problem: p.index, message: `${label}: reference λ = ${ref.per_trial ? '(per trial)' : ref.value.toPrecision(5)} (${ref.kind}: ${ref.source})` });
      }
    }));
    file.problems = problems.filter((p) => p !== undefined);
    save();

    // 2. The searches: one per (problem, method), batches of proposals.
    const search = async (p: StudyProblemConfig, plan: MethodPlan): Promise<void> => {
      const ref = problemRefs.get(p.index);
      if (ref === undefined) return;
      const space: SearchSpace = feasibleSpace(p, plan, (m) => emit({ type: 'reference', problem: p.index, method: plan.method, message: m }));
      const seed = trialSeed(study, p.index, plan.method);
      const settings = { ...study.search, seed: searchSeed(study, p.index, plan.method) };
      const mine = (): TrialRecord[] => file.trials.filter((t) => t.problem === p.index && t.method === plan.method).sort((a, b) => a.number - b.number);
      for (let start = 0; start < study.max_trials && !cancelled; start += study.batch_size) {
        const history: Observation[] = mine().filter((t) => t.number < start).map((t) => ({ params: t.params, value: t.value }));
        const numbers = Array.from({ length: Math.min(study.batch_size, study.max_trials - start) }, (_, i) => start + i);
        await Promise.all(numbers.map(async (number) => {
          const params = propose(space, history, settings, number);
          const { overrides, posterior } = applyParams({}, plan, params);
          const sampler = { name: plan.method, seed, overrides, ...(posterior ? { posterior } : {}) };
          const existing = file.trials.find((t) => t.problem === p.index && t.method === plan.method && t.number === number);
          if (existing && canonicalJson(existing.params) === canonicalJson(params)) {
            reused++;
            emit({ type: 'trial', problem: p.index, method: plan.method, record: existing, reused: true, message: 'reused' });
            return;
          }
          if (cancelled) return;
          const out = await executor.run({ key: taskKey(`p${p.index}-${plan.method}-t${number}`), spec: trialSpec(p, sampler), timeout_s: study.budget.trial_sec });
          if (!out.ok && out.error.kind === 'cancelled') return;
          const base = {
            number, problem: p.index, method: plan.method, params, sampler,
            llc_mean: null, llc_mcse: null, reference: ref.per_trial ? null : ref.value, abs_error: null, rel_error: null,
            total_fge: null, walltime_s: out.walltime_s, nbeta: null, step_size: null, run_dir: null,
          };
          let record: TrialRecord;
          if (!out.ok) {
            record = { ...base, state: out.error.kind === 'timeout' ? 'timeout' : 'failed', value: null, error: outcomeError(out) };
          } else {
            const r = parseContract(trialTaskResult, out.result, `trial ${number} of ${plan.method}`, 'trial result');
            if (r.reused) runsReused++;
            const reference = referenceFor(p, ref, r);
            const llc = r.llc_mean;
            const common = {
              ...base, llc_mean: llc, llc_mcse: r.llc_mcse, reference, total_fge: r.total_fge, walltime_s: r.walltime_s,
              nbeta: r.n * r.beta, step_size: r.step_size, run_dir: r.run_dir,
            };
            record = llc === null || !Number.isFinite(llc)
              ? { ...common, state: 'failed', value: null, error: `no estimate: ${r.warnings[0] ?? 'no usable draws'}` }
              : {
                  ...common, state: 'complete', value: objectiveValue(study.objective, llc, reference),
                  abs_error: Math.abs(llc - reference), rel_error: reference !== 0 ? (llc - reference) / reference : null, error: null,
                };
          }
          if (record.state !== 'complete') failed++;
          ran++;
          file.trials = file.trials.filter((t) => !(t.problem === p.index && t.method === plan.method && t.number === number));
          file.trials.push(record);
          file.trials.sort((a, b) => a.problem - b.problem || a.method.localeCompare(b.method) || a.number - b.number);
          save();
          emit({ type: 'trial', problem: p.index, method: plan.method, record, reused: false, message: record.state });
        }));
      }
    };
    const searches: Promise<void>[] = [];
    for (const p of study.problems) for (const m of study.methods) searches.push(search(p, m));
    await Promise.all(searches);
  } finally {
    opts.signal?.removeEventListener('abort', onAbort);
    if (!cancelled) await executor.close();
  }
  return { dir, file, cancelled, reused, ran, runs_reused: runsReused, failed, walltime_s: (performance.now() - t0) / 1000 };
}

