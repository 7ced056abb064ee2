/**
 * `workflow llc --dry-run`: the plan of an experiment without running anything. It shows the
 * targets and samplers with every resolved setting (the Python keys they came from marked),
 * the executor and store, each task with its id and whether the store already holds its result
 * (the same reuse checks a run makes), and the warnings the run would print.
 */
import type { Card } from '../config/cards.js';
import { invocationsDir } from '../store/layout.js';
import type { LoadedExperiment, StoreChoice } from '../config/experiment.js';
import { formatCompatNote, type CompatNote } from '../config/python-compat.js';
import type { ModelConfig, ResolvedTargetConfig } from '../config/resolve.js';
import { mlpParamCount } from '../config/widths.js';
import { sbatchDirectives } from '../executors/slurm.js';
import type { BuildTaskSpec } from '../contracts/index.js';
import { planWorkflow } from './plan.js';
import { reusedBuild, reusedDiagnosis, reusedSample } from './reuse.js';
import type { ValidatedExperiment } from './validate.js';

export type TaskState = 'done' | 'to run';

export interface DryRunTask {
  id: string;
  stage: string;
  deps: string[];
  /** The artifact the task makes: a target id, a run id, or the run's analysis. */
  artifact?: string;
  state: TaskState;
}

export interface DryRunSampler {
  index: number;
  name: string;
  /** Canonical sampler (an alias such as rmsprop_sgld names its module's sampler). */
  sampler: string;
  seed: number;
  seed_source: 'file' | 'derived';
  /** The sampler's resolved settings, defaults included. */
  settings: Record<string, unknown>;
  /** Our key (relative to the entry) -> the Python key it came from. */
  from_python: Record<string, string>;
}

export interface DryRunPair {
  target_index: number;
  sampler_index: number;
  run_id: string;
  posterior: Record<string, unknown>;
  chains: Record<string, unknown>;
  schedule: { steps: number; burn_in: number; eval_every: number };
  /** The schedule depends on tuning done in the run (SGLD `steps: auto`): these are its upper bounds. */
  provisional: boolean;
}

export interface DryRunPlan {
  experiment: string;
  experiment_from: string;
  file: string | undefined;
  dtype: string;
  store: StoreChoice;
  card: {
    source: string;
    executor: string;
    label: string;
    max_workers: number;
    max_workers_rule: string;
    retries: number;
    run_dir: string;
    worker_init: string;
    sbatch?: string[];
    /** How a --backend (or LAMBDA_HAT_BACKEND) was read, when it was. */
    note?: string;
  };
  notes: CompatNote[];
  targets: Array<{ index: number; target_id: string; state: TaskState; summary: string; config: ResolvedTargetConfig }>;
  samplers: DryRunSampler[];
  pairs: DryRunPair[];
  tasks: DryRunTask[];
}

function modelSummary(m: ModelConfig): string {
  if (m.family === 'quadratic') return `quadratic, ${m.dim} parameters`;
  const sizes = [m.in_dim, ...m.widths, m.out_dim];
  if (m.family === 'dln') return `dln ${sizes.join('-')} (${mlpParamCount(sizes, false)} parameters)`;
  const p = mlpParamCount(sizes, m.bias);
  return `mlp ${sizes.join('-')} ${m.activation}${m.bias ? '' : ' no bias'}${m.layernorm ? ' + layernorm' : ` (${p} parameters)`}`;
}

export function targetSummary(c: ResolvedTargetConfig): string {
  const d = c.data;
  const data = d.x_dist === undefined ? `n ${d.n}` : `n ${d.n} ${d.x_dist}, noise ${d.noise_model} ${d.noise_scale}`;
  const t = c.teacher === null ? '' : c.teacher.family === 'dln' ? `; teacher dln rank ${c.teacher.rank}` : `; teacher ${c.teacher.activation} [${c.teacher.widths.join(', ')}]`;
  const tr = c.training === null
    ? ''
    : c.training.init === 'teacher'
      ? '; w* = the teacher'
      : c.training.init === 'file'
        ? `; w* from ${c.training.model_file}, data ${c.training.data_file}, loss ${c.training.loss.kind}`
        : `; training ${c.training.optimizer} lr ${c.training.lr}, ${c.training.steps} steps${c.training.early_stop === false ? '' : ', early stop'}`;
  return `${modelSummary(c.model)}; data ${data}${t}${tr}; seed ${c.seed}; ${c.dtype}`;
}

export interface DryRunArgs {
  exp: LoadedExperiment;
  validated: ValidatedExperiment;
  card: Card;
  store: StoreChoice;
  promote?: boolean;
  /** How the card was chosen, when a backend was mapped to it. */
  cardNote?: string;
}

/** The plan (nothing runs; the store is only read). */
export async function dryRun({ exp, validated, card, store, promote = false, cardNote }: DryRunArgs): Promise<DryRunPlan> {
  const home = store.home;
  const plan = planWorkflow(exp, home, { promote });
  const built = new Map<number, boolean>();
  for (const t of exp.targets) {
    const spec: BuildTaskSpec = { kind: 'build', home, target: t.config };
    built.set(t.index, (await reusedBuild(spec, t.target_id)) !== undefined);
  }
  const pairKey = (ti: number, sj: number): string => `${ti}/${sj}`;
  const pairs = new Map(validated.pairs.map((p) => [pairKey(p.target_index, p.sampler_index), p]));
  const sampled = new Map<string, string | undefined>();
  const diagnosed = new Set<string>();
  for (const p of validated.pairs) {
    const k = pairKey(p.target_index, p.sampler_index);
    const reused = await reusedSample({ ...p.spec, home });
    sampled.set(k, reused?.dir);
    if (reused?.dir && (await reusedDiagnosis({ kind: 'diagnose', run_dir: reused.dir }))) diagnosed.add(k);
  }
  const tasks: DryRunTask[] = plan.nodes.map((n) => {
    const base = { id: n.id, stage: n.stage, deps: n.deps };
    if (n.stage === 'build') {
      const t = exp.targets.find((x) => `build-t${x.index}` === n.id);
      return { ...base, ...(t ? { artifact: t.target_id } : {}), state: t && built.get(t.index) ? 'done' : 'to run' };
    }
    const pp = plan.pairs.find((x) => x.sample === n.id || x.diagnose === n.id);
    if (!pp) return { ...base, state: 'to run' };
    const k = pairKey(pp.target_index, pp.sampler_index);
    const runId = pairs.get(k)?.resolved.run_id;
    if (n.stage === 'sample') return { ...base, ...(runId ? { artifact: runId } : {}), state: sampled.get(k) ? 'done' : 'to run' };
    return { ...base, ...(runId ? { artifact: `${runId}/analysis.json` } : {}), state: diagnosed.has(k) ? 'done' : 'to run' };
  });
  const origins = exp.origin?.samplers ?? [];
  const samplers: DryRunSampler[] = exp.samplers.map((s, j) => {
    const first = validated.pairs.find((p) => p.sampler_index === j);
    const fromPython: Record<string, string> = {};
    for (const [ours, path] of origins[j]?.mapped ?? []) fromPython[ours] = String(path[path.length - 1]);
    return {
      index: j,
      name: s.name,
      sampler: first?.resolved.sampler ?? s.name,
      seed: s.seed,
      seed_source: origins[j]?.seed ?? 'file',
      settings: first?.resolved.config ?? {},
      from_python: fromPython,
    };
  });
  const runDirOf = invocationsDir(home, card.run_dir);
  return {
    experiment: exp.experiment,
    experiment_from: exp.origin?.experiment_from ?? 'file',
    file: exp.origin?.file,
    dtype: exp.dtype,
    store,
    card: {
      source: card.source,
      executor: card.executor,
      label: card.label,
      max_workers: card.max_workers,
      max_workers_rule: card.max_workers_rule,
      retries: card.retries,
      run_dir: runDirOf,
      worker_init: card.worker_init,
      ...(card.executor === 'slurm' ? { sbatch: sbatchDirectives(card).map((l) => l.replace(/^#SBATCH /, '')) } : {}),
      ...(cardNote ? { note: cardNote } : {}),
    },
    notes: [...(exp.origin?.log.sorted() ?? []), ...card.notes],
    targets: exp.targets.map((t) => ({
      index: t.index, target_id: t.target_id, state: built.get(t.index) ? 'done' : 'to run', summary: targetSummary(t.config), config: t.config,
    })),
    samplers,
    pairs: validated.pairs.map((p) => ({
      target_index: p.target_index,
      sampler_index: p.sampler_index,
      run_id: p.resolved.run_id,
      posterior: { ...p.resolved.posterior },
      chains: { ...p.resolved.chains },
      schedule: { steps: p.schedule.steps, burn_in: p.schedule.burnIn, eval_every: p.schedule.evalEvery },
      provisional: p.resolved.config.steps === 'auto' || p.resolved.config.eval_every === 'auto',
    })),
    tasks,
  };
}

function fmt(v: unknown): string {
  if (typeof v === 'string') return v;
  return JSON.stringify(v);
}

function settingsLine(s: DryRunSampler): string {
  return Object.entries(s.settings)
    .map(([k, v]) => {
      const py = s.from_python[`overrides.${k}`];
      return `${k}=${fmt(v)}${py !== undefined ? ` (${py})` : ''}`;
    })
    .join(' ');
}

/** The plan for a terminal. */
export function renderDryRun(p: DryRunPlan): string {
  const out: string[] = [];
  const push = (s = ''): void => {
    out.push(s);
  };
  push(`dry run: nothing is built, sampled or written`);
  push(`experiment  ${p.experiment} (${p.experiment_from === 'file' ? 'from the file' : p.experiment_from === 'option' ? 'from --experiment' : 'the default: the file names none'})${p.file ? `  ${p.file}` : ''}`);
  push(`precision   ${p.dtype}`);
  push(`store       ${p.store.home}  (${p.store.rule})`);
  const c = p.card;
  push(`executor    ${c.executor} (${c.source}), ${c.max_workers} at once (${c.max_workers_rule}), retries ${c.retries}`);
  push(`run dir     ${c.run_dir}`);
  if (c.worker_init) push(`worker_init ${c.worker_init.split('\n').join('; ')}`);
  if (c.sbatch) push(`sbatch      ${c.sbatch.join(' ')}`);
  if (c.note) push(`note        ${c.note}`);
  const groups: Array<[string, CompatNote[]]> = [
    ['Python keys read as lambda-hat settings', p.notes.filter((n) => n.kind === 'mapped')],
    ['Python keys accepted as what lambda-hat does anyway', p.notes.filter((n) => n.kind === 'same')],
    ['Warnings: keys without effect', p.notes.filter((n) => n.kind === 'no_effect')],
  ];
  for (const [title, notes] of groups) {
    if (notes.length === 0) continue;
    push();
    push(`${title} (${notes.length}):`);
    for (const n of notes) push(`  ${formatCompatNote(n)}`);
  }
  push();
  push(`Targets (${p.targets.length}):`);
  for (const t of p.targets) {
    push(`  t${t.index}  ${t.target_id}  ${t.state === 'done' ? 'built (reused)' : 'to build'}`);
    push(`      ${t.summary}`);
  }
  push();
  push(`Samplers (${p.samplers.length}):`);
  for (const s of p.samplers) {
    const alias = s.name !== s.sampler ? ` (= ${s.sampler})` : '';
    push(`  s${s.index}  ${s.name}${alias}  seed ${s.seed}${s.seed_source === 'derived' ? ' (derived from the experiment name and position: the file gives none)' : ''}`);
    push(`      ${settingsLine(s)}`);
  }
  push();
  push(`Runs (${p.pairs.length}):`);
  for (const r of p.pairs) {
    const post = Object.entries(r.posterior).map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
    const ch = Object.entries(r.chains).filter(([k]) => k !== 'threads').map(([k, v]) => `${k}=${fmt(v)}`).join(' ');
    const sched = `${r.provisional ? 'at most ' : ''}steps ${r.schedule.steps}, burn-in ${r.schedule.burn_in}, every ${r.schedule.eval_every}${r.provisional ? ' (auto: sized in the run from the step size)' : ''}`;
    push(`  t${r.target_index} x s${r.sampler_index}  ${r.run_id}  ${sched}; chains ${ch}; posterior ${post}`);
  }
  push();
  const todo = p.tasks.filter((t) => t.state === 'to run').length;
  push(`Tasks (${p.tasks.length}, ${todo} to run, ${p.tasks.length - todo} already done in the store):`);
  const w = Math.max(...p.tasks.map((t) => t.id.length));
  for (const t of p.tasks) push(`  ${t.id.padEnd(w)}  ${t.state === 'done' ? 'done  ' : 'to run'}  ${t.artifact ?? ''}`);
  return out.join('\n');
}
