/**
 * What a study leaves next to its study.json: every trial (`trials.csv|feather`), the Pareto
 * front of accuracy against work per (problem, method) (`pareto.csv|feather`), the ε-β view of
 * the SGLD-family trials (`eps-beta.csv`), plots (`plots/pareto`, `plots/eps-beta`, SVG and
 * PNG) and the report page (`report/index.html`). The best settings of each search print as a
 * ready `--set` line and as a sampler entry for an experiment file.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { Float64, Table, tableToIPC, Utf8, vectorFromArray, type Vector } from 'apache-arrow';
import type { JsonValue, StudyFile, TrialRecord } from '../contracts/index.js';
import { samplerTraits } from '../samplers/registry.js';
import { writeFileAtomic } from '../store/index.js';

export interface TrialRow {
  problem: number;
  target: string;
  method: string;
  number: number;
  state: string;
  value: number | null;
  llc_mean: number | null;
  llc_mcse: number | null;
  reference: number | null;
  rel_error: number | null;
  total_fge: number | null;
  walltime_s: number | null;
  step_size: number | null;
  nbeta: number | null;
  pareto: string;
  params: string;
  set_line: string;
  run_dir: string | null;
  error: string | null;
}

const NUMERIC: ReadonlySet<keyof TrialRow> = new Set<keyof TrialRow>([
  'problem', 'number', 'value', 'llc_mean', 'llc_mcse', 'reference', 'rel_error', 'total_fge', 'walltime_s', 'step_size', 'nbeta',
]);
export const TRIAL_COLUMNS: (keyof TrialRow)[] = [
  'problem', 'target', 'method', 'number', 'state', 'value', 'llc_mean', 'llc_mcse', 'reference', 'rel_error', 'total_fge',
  'walltime_s', 'step_size', 'nbeta', 'pareto', 'params', 'set_line', 'run_dir', 'error',
];

function yamlScalar(v: JsonValue): string {
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** `--set k=v ...` of a trial's sampler entry, for `lambda-hat sample --sampler <method>`. */
export function setLine(t: Pick<TrialRecord, 'sampler'>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(t.sampler.overrides ?? {})) parts.push(`--set ${k}=${yamlScalar(v)}`);
  for (const [k, v] of Object.entries(t.sampler.posterior ?? {})) parts.push(`--set posterior.${k}=${yamlScalar(v as JsonValue)}`);
  return parts.join(' ');
}

/** The trial as a sampler entry of an experiment file (one line of YAML flow style). */
export function samplerEntryLine(t: Pick<TrialRecord, 'sampler'>): string {
  const map = (o: Record<string, unknown>): string => `{${Object.entries(o).map(([k, v]) => `${k}: ${yamlScalar(v as JsonValue)}`).join(', ')}}`;
  const parts = [`name: ${t.sampler.name}`];
  if (t.sampler.overrides && Object.keys(t.sampler.overrides).length > 0) parts.push(`overrides: ${map(t.sampler.overrides)}`);
  if (t.sampler.posterior && Object.keys(t.sampler.posterior).length > 0) parts.push(`posterior: ${map(t.sampler.posterior)}`);
  return `- {${parts.join(', ')}}`;
}

/**
 * The Pareto front of the finished trials of one search: no other trial has both a smaller
 * error |λ̂ - ref| and less work (FGE). Sorted by work.
 */
export function paretoFront(trials: readonly TrialRecord[]): TrialRecord[] {
  const done = trials.filter((t) => t.state === 'complete' && t.abs_error !== null && t.total_fge !== null);
  const front = done.filter((a) => !done.some((b) => b !== a
    && b.abs_error! <= a.abs_error! && b.total_fge! <= a.total_fge!
    && (b.abs_error! < a.abs_error! || b.total_fge! < a.total_fge!)));
  return front.sort((a, b) => a.total_fge! - b.total_fge! || a.number - b.number);
}

/** Trials grouped by (problem, method), in the study's order. */
export function searches(file: StudyFile): { problem: number; method: string; trials: TrialRecord[] }[] {
  const out = new Map<string, { problem: number; method: string; trials: TrialRecord[] }>();
  for (const t of file.trials) {
    const k = `${t.problem}\u0000${t.method}`;
    if (!out.has(k)) out.set(k, { problem: t.problem, method: t.method, trials: [] });
    out.get(k)!.trials.push(t);
  }
  return [...out.values()];
}

/** The best finished trial of a search (smallest objective; ties: less work). */
export function bestTrial(trials: readonly TrialRecord[]): TrialRecord | undefined {
  return trials
    .filter((t) => t.state === 'complete' && t.value !== null)
    .sort((a, b) => a.value! - b.value! || (a.total_fge ?? 0) - (b.total_fge ?? 0))[0];
}

export function trialRows(file: StudyFile): TrialRow[] {
  const rows: TrialRow[] = [];
  for (const s of searches(file)) {
    const front = new Set(paretoFront(s.trials));
    const target = file.problems.find((p) => p.index === s.problem)?.target_id ?? '';
    for (const t of s.trials) {
      rows.push({
        problem: t.problem, target, method: t.method, number: t.number, state: t.state, value: t.value,
        llc_mean: t.llc_mean, llc_mcse: t.llc_mcse, reference: t.reference, rel_error: t.rel_error,
        total_fge: t.total_fge, walltime_s: t.walltime_s, step_size: t.step_size, nbeta: t.nbeta,
        pareto: front.has(t) ? 'yes' : 'no', params: JSON.stringify(t.params), set_line: setLine(t),
        run_dir: t.run_dir, error: t.error,
      });
    }
  }
  return rows;
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return /[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function rowsCsv<T extends object>(rows: readonly T[], columns: readonly (keyof T)[]): string {
  return `${[columns.join(','), ...rows.map((r) => columns.map((c) => csvCell(r[c])).join(','))].join('\n')}\n`;
}

export function rowsFeather<T extends object>(rows: readonly T[], columns: readonly (keyof T)[], numeric: ReadonlySet<keyof T>): Uint8Array {
  const cols: Record<string, Vector> = {};
  for (const c of columns) {
    const values = rows.map((r) => r[c] as unknown);
    cols[String(c)] = numeric.has(c)
      ? vectorFromArray(values as Array<number | null>, new Float64())
      : vectorFromArray(values.map((v) => (v === null || v === undefined ? null : String(v))), new Utf8());
  }
  return tableToIPC(new Table(cols), 'file');
}

/** Trials of samplers with a step size whose λ̂ is an SGLD-family estimate: the ε-β view. */
export function epsBetaRows(rows: readonly TrialRow[]): TrialRow[] {
  return rows.filter((r) => r.state === 'complete' && r.step_size !== null && r.nbeta !== null
    && samplerTraits(r.method)?.family === 'stochastic-gradient');
}

export interface StudyOutputs {
  trials_csv: string;
  trials_feather: string;
  pareto_csv: string;
  pareto_feather: string;
  eps_beta_csv: string;
  plots: string[];
  report: string;
}

function paretoSpec(rows: readonly TrialRow[]): Record<string, unknown> {
  const data = rows.filter((r) => r.state === 'complete' && r.rel_error !== null && r.total_fge !== null)
    .map((r) => ({ ...r, abs_rel_error: Math.max(Math.abs(r.rel_error!), 1e-6), search: `${r.method} (problem ${r.problem})` }));
  return {
    title: 'Accuracy against work: every finished trial, the Pareto front joined',
    width: 460,
    height: 300,
    data: { values: data },
    layer: [
      {
        mark: { type: 'point', filled: true, opacity: 0.45 },
        encoding: {
          x: { field: 'total_fge', type: 'quantitative', scale: { type: 'log' }, title: 'work (full-gradient evaluations)' },
          y: { field: 'abs_rel_error', type: 'quantitative', scale: { type: 'log' }, title: '|λ̂ - reference| / reference' },
          color: { field: 'search', type: 'nominal', title: 'search' },
        },
      },
      {
        transform: [{ filter: "datum.pareto === 'yes'" }],
        mark: { type: 'line', point: true },
        encoding: {
          x: { field: 'total_fge', type: 'quantitative', scale: { type: 'log' } },
          y: { field: 'abs_rel_error', type: 'quantitative', scale: { type: 'log' } },
          color: { field: 'search', type: 'nominal' },
          order: { field: 'total_fge', type: 'quantitative' },
        },
      },
    ],
  };
}

function epsBetaSpec(rows: readonly TrialRow[]): Record<string, unknown> {
  return {
    title: 'ε-β sweep: λ̂ relative to the reference, by SGLD step and nβ',
    width: 420,
    height: 300,
    data: { values: rows.map((r) => ({ ...r, signed_rel_error: r.rel_error })) },
    mark: { type: 'point', filled: true, size: 140 },
    encoding: {
      x: { field: 'step_size', type: 'quantitative', scale: { type: 'log' }, title: 'step size ε' },
      y: { field: 'nbeta', type: 'quantitative', scale: { type: 'log' }, title: 'nβ' },
      color: {
        field: 'signed_rel_error', type: 'quantitative', title: '(λ̂ - ref) / ref',
        scale: { scheme: 'redblue', domainMid: 0, reverse: true },
      },
      shape: { field: 'method', type: 'nominal' },
      tooltip: [{ field: 'llc_mean' }, { field: 'step_size' }, { field: 'nbeta' }],
    },
  };
}

export async function writeStudyOutputs(dir: string, file: StudyFile): Promise<StudyOutputs> {
  const rows = trialRows(file);
  const front = rows.filter((r) => r.pareto === 'yes');
  const eps = epsBetaRows(rows);
  const out: StudyOutputs = {
    trials_csv: join(dir, 'trials.csv'),
    trials_feather: join(dir, 'trials.feather'),
    pareto_csv: join(dir, 'pareto.csv'),
    pareto_feather: join(dir, 'pareto.feather'),
    eps_beta_csv: join(dir, 'eps-beta.csv'),
    plots: [],
    report: join(dir, 'report', 'index.html'),
  };
  writeFileAtomic(out.trials_csv, rowsCsv(rows, TRIAL_COLUMNS));
  writeFileAtomic(out.trials_feather, rowsFeather(rows, TRIAL_COLUMNS, NUMERIC));
  writeFileAtomic(out.pareto_csv, rowsCsv(front, TRIAL_COLUMNS));
  writeFileAtomic(out.pareto_feather, rowsFeather(front, TRIAL_COLUMNS, NUMERIC));
  const EPS_COLUMNS: (keyof TrialRow)[] = ['problem', 'method', 'number', 'step_size', 'nbeta', 'llc_mean', 'llc_mcse', 'reference', 'rel_error', 'total_fge', 'set_line'];
  writeFileAtomic(out.eps_beta_csv, rowsCsv(eps, EPS_COLUMNS));
  // Plots load vega only here: a study that writes no plot never pays for it.
  const { renderPlot, writePlot } = await import('../plots/render.js');
  const plotsDir = join(dir, 'plots');
  mkdirSync(plotsDir, { recursive: true });
  const plots: { name: string; title: string; svg: string }[] = [];
  if (rows.some((r) => r.state === 'complete')) {
    const p = await renderPlot('pareto', paretoSpec(rows));
    out.plots.push(writePlot(plotsDir, p).svg);
    plots.push({ name: 'pareto', title: 'Accuracy against work', svg: p.svg });
  }
  if (eps.length > 0) {
    const p = await renderPlot('eps-beta', epsBetaSpec(eps));
    out.plots.push(writePlot(plotsDir, p).svg);
    plots.push({ name: 'eps-beta', title: 'ε-β sweep (SGLD family)', svg: p.svg });
  }
  // The report: the reference runs and each search's best run, diagnosed as in any report, with
  // the tuning section (references, best settings, Pareto tables, plots, ε-β table) after them.
  const { tuneSection } = await import('../report/tune.js');
  const { writeReport } = await import('../report/index.js');
  const runDirs = [
    ...file.problems.flatMap((p) => (p.reference?.run_dir ? [p.reference.run_dir] : [])),
    ...searches(file).flatMap((s) => {
      const best = bestTrial(s.trials);
      return best?.run_dir ? [best.run_dir] : [];
    }),
  ];
  const report = await writeReport({
    runDirs,
    outDir: join(dir, 'report'),
    title: `lambda-hat tuning: ${file.name}`,
    sections: [tuneSection({ file, rows, plots, epsRows: eps })],
  });
  out.report = report.path;
  return out;
}
