/**
 * The results table of one workflow invocation: one row per target x sampler of THIS run only
 * (the Python system swept in runs of earlier invocations), as results.csv and results.feather
 * in the invocation's run directory, plus the terminal summary table.
 */
import { Float64, Table, tableToIPC, Utf8, vectorFromArray, type Vector } from 'apache-arrow';
import { writeFileAtomic } from '../store/index.js';
import { invocationFiles, runFiles } from '../store/layout.js';
import {
  analysisFile, diagnosis, parseContract, RESULT_COLUMNS, sampleTaskResult, tryReadContractFile,
  type ResultRow, type RowStatus,
} from '../contracts/index.js';
import type { NodeOutcome } from './graph.js';
import type { PlannedPair } from './plan.js';

export { RESULT_COLUMNS, type ResultRow, type RowStatus };

const NUMERIC = new Set(['llc_mean', 'llc_mcse', 'r_hat', 'ess_bulk', 'walltime']);

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

function describe(o: NodeOutcome): string {
  const e = o.root_cause?.error ?? o.error;
  const who = o.root_cause?.node ?? o.id;
  const parts = [`${who}: ${e?.kind ?? 'failed'}: ${e?.message ?? ''}`.trim()];
  if (e?.job_id) parts.push(`job ${e.job_id}`);
  if (e?.log_path) parts.push(`log ${e.log_path}`);
  return parts.join('; ');
}

export function resultRows(pairs: readonly PlannedPair[], outcomes: ReadonlyMap<string, NodeOutcome>): ResultRow[] {
  return pairs.map((p) => {
    const chain = [p.build, p.sample, p.diagnose].map((id) => outcomes.get(id)!);
    const firstBad = chain.find((o) => o.status !== 'done');
    const sample = outcomes.get(p.sample)!;
    const diag = outcomes.get(p.diagnose)!;
    const run = sample.status === 'done' ? parseContract(sampleTaskResult, sample.result, `result of ${p.sample}`, 'sample result') : null;
    const d = diag.status === 'done' ? parseContract(diagnosis, diag.result, `result of ${p.diagnose}`, 'diagnosis') : null;
    let walltime: number | null = null;
    if (run !== null) walltime = num(tryReadContractFile(runFiles(run.dir).analysis, analysisFile)?.walltime_s);
    if (walltime === null && sample.status === 'done') walltime = sample.walltime_s;
    // A pair whose build failed never sampled: its own status is dependency_failed.
    const status: RowStatus = !firstBad
      ? 'ok'
      : firstBad.status === 'cancelled' ? 'cancelled'
      : firstBad.status === 'dependency_failed' || firstBad.id === p.build ? 'dependency_failed'
      : 'failed';
    return {
      target: p.target_id,
      sampler: p.sampler,
      llc_mean: num(d?.llc_mean),
      llc_mcse: num(d?.llc_mcse),
      r_hat: num(d?.r_hat),
      ess_bulk: num(d?.ess_bulk),
      walltime,
      status,
      run_dir: run?.dir ?? null,
      error: firstBad ? describe(firstBad) : null,
    };
  });
}

function csvCell(v: unknown): string {
  if (v === null || v === undefined) return '';
  const s = typeof v === 'number' ? String(v) : String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function resultsCsv(rows: readonly ResultRow[]): string {
  const lines = [RESULT_COLUMNS.join(',')];
  for (const r of rows) lines.push(RESULT_COLUMNS.map((c) => csvCell(r[c])).join(','));
  return `${lines.join('\n')}\n`;
}

export function resultsFeather(rows: readonly ResultRow[]): Uint8Array {
  const cols: Record<string, Vector> = {};
  for (const c of RESULT_COLUMNS) {
    const values = rows.map((r) => r[c]);
    cols[c] = NUMERIC.has(c)
      ? vectorFromArray(values as Array<number | null>, new Float64())
      : vectorFromArray(values as Array<string | null>, new Utf8());
  }
  return tableToIPC(new Table(cols), 'file');
}

export function writeResults(runDir: string, rows: readonly ResultRow[]): { csv: string; feather: string } {
  const { resultsCsv: csv, resultsFeather: feather } = invocationFiles(runDir);
  writeFileAtomic(csv, resultsCsv(rows));
  writeFileAtomic(feather, resultsFeather(rows));
  return { csv, feather };
}

function fmt(v: number | null, digits: number): string {
  if (v === null) return '-';
  if (Math.abs(v) >= 1e4 || (Math.abs(v) < 1e-3 && v !== 0)) return v.toExponential(digits - 1);
  return v.toFixed(digits);
}

/** The terminal table: target, sampler, λ̂ ± MCSE, R-hat, ESS, time, status. */
export function summaryTable(rows: readonly ResultRow[]): string {
  const header = ['target', 'sampler', 'λ̂ ± MCSE', 'R-hat', 'ESS', 'time', 'status'];
  const body = rows.map((r) => [
    r.target,
    r.sampler,
    r.llc_mean === null ? '-' : `${fmt(r.llc_mean, 3)} ± ${fmt(r.llc_mcse, 3)}`,
    fmt(r.r_hat, 3),
    r.ess_bulk === null ? '-' : r.ess_bulk.toFixed(0),
    r.walltime === null ? '-' : `${r.walltime.toFixed(1)}s`,
    r.status,
  ]);
  const widths = header.map((h, i) => Math.max([...h].length, ...body.map((b) => [...b[i]!].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c + ' '.repeat(widths[i]! - [...c].length)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
