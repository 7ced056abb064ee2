/**
 * The study plan `workflow tune --dry-run` prints: problems and their references, the searches
 * (parameters, their ranges and the sampler settings they set), budgets, the executor, the
 * Python keys read and those with no effect, and how many trials the study file already holds.
 */
import type { Card } from '../config/cards.js';
import { formatCompatNote } from '../config/python-compat.js';
import { targetSummary } from '../workflow/dry-run.js';
import type { StudyConfig } from './config.js';
import { knownTruth, loadStudyFile, studyDirOf } from './study.js';
import type { ParamSpec } from './tpe.js';

export interface StudyPlan {
  study: string;
  study_id: string;
  file: string;
  dir: string;
  home: string;
  executor: string;
  max_workers: number;
  search: StudyConfig['search'];
  objective: StudyConfig['objective'];
  max_trials_per_method: number;
  batch_size: number;
  budget: StudyConfig['budget'];
  search_spaces_from: string;
  problems: { index: number; target_id: string; target: string; reference: string }[];
  methods: { method: string; params: { name: string; sets: string; range: string }[]; not_searched: string[] }[];
  trials: { planned: number; recorded: number };
  notes: { kind: string; where: string; key: string; message: string }[];
}

function rangeOf(s: ParamSpec): string {
  if (s.dist === 'categorical') return `one of ${s.choices.map((c) => JSON.stringify(c)).join(', ')}`;
  return `${s.dist} [${s.low}, ${s.high}]${s.log ? ' log' : ''}${s.step !== null && !(s.dist === 'int' && s.step === 1) ? ` step ${s.step}` : ''}`;
}

export function studyPlan(study: StudyConfig, card: Card, home: string): StudyPlan {
  const dir = studyDirOf(home, study);
  let recorded = 0;
  try {
    recorded = loadStudyFile(dir)?.trials.length ?? 0;
  } catch {
    recorded = 0;
  }
  return {
    study: study.name,
    study_id: study.study_id,
    file: study.file,
    dir,
    home,
    executor: card.executor,
    max_workers: card.max_workers,
    search: study.search,
    objective: study.objective,
    max_trials_per_method: study.max_trials,
    batch_size: study.batch_size,
    budget: study.budget,
    search_spaces_from: study.space_source,
    problems: study.problems.map((p) => {
      const truth = knownTruth(p);
      const reference = study.reference.value !== undefined
        ? `the file's value ${study.reference.value}`
        : truth !== null
          ? `known truth: ${truth.value !== null ? `${truth.value} ` : ''}(${truth.source})`
          : `${study.reference.sampler} run (seed ${study.reference.seed}${Object.keys(study.reference.overrides).length > 0 ? `, ${JSON.stringify(study.reference.overrides)}` : ''}; budget ${study.budget.hmc_sec} s)`;
      return { index: p.index, target_id: p.target_id, target: targetSummary(p.config), reference };
    }),
    methods: study.methods.map((m) => ({
      method: m.method,
      params: m.params.map((p) => ({ name: p.name, sets: p.to.join('.'), range: rangeOf(p.spec) })),
      not_searched: m.dropped,
    })),
    trials: { planned: study.problems.length * study.methods.length * study.max_trials, recorded },
    notes: study.log.sorted().map((n) => ({ kind: n.kind, where: n.where, key: n.key, message: n.message })),
  };
}

export function renderStudyPlan(p: StudyPlan): string {
  const lines: string[] = [];
  lines.push(`study ${p.study} (${p.study_id}) from ${p.file}`);
  lines.push(`  directory ${p.dir}`);
  lines.push(`  executor ${p.executor} (max_workers=${p.max_workers}); trials in batches of ${p.batch_size}, ${p.budget.trial_sec} s budget each; reference runs ${p.budget.hmc_sec} s`);
  lines.push(`  search ${p.search.type} (seed ${p.search.seed}, ${p.search.n_startup_trials} random start-up trials), objective ${p.objective.type}${p.objective.type === 'huber' ? ` (delta ${p.objective.delta})` : ''} of λ̂ - reference, ${p.max_trials_per_method} trials per method`);
  lines.push('problems:');
  for (const q of p.problems) lines.push(`  ${q.index}: ${q.target_id}  ${q.target}\n     reference: ${q.reference}`);
  lines.push(`methods (search spaces from ${p.search_spaces_from}):`);
  for (const m of p.methods) {
    lines.push(`  ${m.method}`);
    for (const q of m.params) lines.push(`    ${q.name.padEnd(14)} -> ${q.sets.padEnd(22)} ${q.range}`);
    if (m.not_searched.length > 0) lines.push(`    not searched (no effect here): ${m.not_searched.join(', ')}`);
  }
  lines.push(`trials: ${p.trials.planned} planned, ${p.trials.recorded} already recorded in the study file (reused)`);
  if (p.notes.length > 0) {
    lines.push('Python keys:');
    for (const n of p.notes) lines.push(`  ${n.kind === 'no_effect' ? 'warning: ' : ''}${formatCompatNote({ ...n, kind: n.kind as 'mapped', value: null })}`);
  }
  return lines.join('\n');
}
