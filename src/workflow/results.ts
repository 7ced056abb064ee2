/**
 * The results table of one workflow invocation: one row per target x sampler of THIS run only
 * (the Python system swept in runs of earlier invocations), as results.csv and results.feather
 * in the invocation's run directory, plus the terminal summary table. Every row carries the
 * known λ where there is one (truth), and its trust: `ok` or `warn (N): <reason>` from the run's
 * analysis warnings, the target's (w* not a minimum) and cross-sampler disagreement.
 */
import { basename } from 'node:path';
import { Float64, Table, tableToIPC, Utf8, vectorFromArray, type Vector } from 'apache-arrow';
import { writeFileAtomic } from '../store/index.js';
import { invocationFiles, runFiles, targetFiles } from '../store/layout.js';
import {
  analysisFile, buildTaskResult, diagnosis, parseContract, RESULT_COLUMNS, sampleTaskResult, targetMeta, runManifest, tryReadContractFile,
  WARNING_SEPARATOR, type ResultRow as ResultFileRow, type RowStatus, type TargetMeta,
} from '../contracts/index.js';
import { truthOf } from '../report/truth.js';
import { AGREEMENT_Z, crossSamplerAgreement, disagreementReason, type AgreementCheck } from './agreement.js';
import type { NodeOutcome } from './graph.js';
import type { PlannedPair } from './plan.js';
import { targetWarnings, trustOf } from './trust.js';

export { RESULT_COLUMNS, WARNING_SEPARATOR, type RowStatus };

/** A results row as the workflow holds it: the file's columns and this row's cross-sampler comparison. */
export interface ResultRow extends ResultFileRow {
  agreement: AgreementCheck | null;
}

const NUMERIC = new Set(['llc_mean', 'llc_mcse', 'r_hat', 'ess_bulk', 'walltime', 'truth', 'agreement_z']);


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

/** "DLN 4-4-4-4 rank 2", "MLP 4-4-4-1 relu", "quadratic d=10", "MLP 10-8-3 relu (model.safetensors)". */
export function describeTarget(meta: Pick<TargetMeta, 'config'> | null): string | null {
  const model = meta?.config?.model;
  if (!model) return null;
  if (model.family === 'quadratic') return `quadratic d=${model.dim}`;
  const widths = [model.in_dim, ...model.widths, model.out_dim].join('-');
  if (model.family === 'dln') {
    const t = meta.config.teacher;
    return `DLN ${widths}${t?.family === 'dln' ? ` rank ${t.rank}` : ''}`;
  }
  const training = meta.config.training;
  // A network from a file is named by its file: several user networks often share a shape.
  const file = training?.init === 'file' ? ` (${basename(training.model_file)})` : '';
  return `MLP ${widths} ${model.activation}${file}`;
}

export function resultRows(pairs: readonly PlannedPair[], outcomes: ReadonlyMap<string, NodeOutcome>): ResultRow[] {
  // A weight-restricted posterior is another estimand: only runs of one target and one
  // restriction are compared with each other.
  const restrictionOf = new Map<string, string>();
  const rows = pairs.map((p): ResultRow => {
    const chain = [p.build, p.sample, p.diagnose].map((id) => outcomes.get(id)!);
    const firstBad = chain.find((o) => o.status !== 'done');
    const build = outcomes.get(p.build)!;
    const sample = outcomes.get(p.sample)!;
    const diag = outcomes.get(p.diagnose)!;
    const built = build.status === 'done' ? parseContract(buildTaskResult, build.result, `result of ${p.build}`, 'build result') : null;
    const run = sample.status === 'done' ? parseContract(sampleTaskResult, sample.result, `result of ${p.sample}`, 'sample result') : null;
    const d = diag.status === 'done' ? parseContract(diagnosis, diag.result, `result of ${p.diagnose}`, 'diagnosis') : null;
    const analysis = (run !== null ? tryReadContractFile(runFiles(run.dir).analysis, analysisFile) : undefined) ?? null;
    const meta = (built !== null ? tryReadContractFile(targetFiles(built.dir).meta, targetMeta) : undefined) ?? null;
    const manifest = run !== null ? tryReadContractFile(runFiles(run.dir).manifest, runManifest) : undefined;
    const restrict = manifest?.posterior_settings.restrict;
    if (restrict !== undefined) restrictionOf.set(p.sample, restrict.join(','));
    let walltime = num(analysis?.walltime_s);
    if (walltime === null && sample.status === 'done') walltime = sample.walltime_s;
    // A pair whose build failed never sampled: its own status is dependency_failed.
    const status: RowStatus = !firstBad
      ? 'ok'
      : firstBad.status === 'cancelled' ? 'cancelled'
      : firstBad.status === 'dependency_failed' || firstBad.id === p.build ? 'dependency_failed'
      : 'failed';
    const analysisWarnings = d?.warnings ?? analysis?.warnings ?? [];
    let truth: number | null = null;
    if (meta !== null && analysis !== null) truth = truthOf(meta, analysis)?.value ?? null;
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
      model: describeTarget(meta) === null || restrict === undefined ? describeTarget(meta) : `${describeTarget(meta)} restricted to ${restrict.join(',')}`,
      truth,
      trust: status,
      agreement_z: null,
      warnings: status === 'ok' ? [...targetWarnings(meta), ...analysisWarnings] : [],
      agreement: null,
    };
  });
  // Samplers of one target must agree within their MCSEs: compare them, then set the trust.
  const byTarget = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const key = `${r.target}|${restrictionOf.get(pairs[i]!.sample) ?? ''}`;
    byTarget.set(key, [...(byTarget.get(key) ?? []), i]);
  });
  for (const idx of byTarget.values()) {
    const withEstimate = idx.filter((i) => rows[i]!.status === 'ok' && rows[i]!.llc_mean !== null);
    if (withEstimate.length < 2) continue;
    // Rows are keyed by their run directory: that is what summary.json names.
    const keyOf = (i: number): string => rows[i]!.run_dir ?? `row ${i}`;
    const byKey = new Map(withEstimate.map((i) => [keyOf(i), rows[i]!]));
    const result = crossSamplerAgreement(
      withEstimate.map((i) => ({
        key: keyOf(i),
        sampler: rows[i]!.sampler,
        mean: rows[i]!.llc_mean,
        mcse: rows[i]!.llc_mcse,
        trusted: rows[i]!.warnings.length === 0,
        variational: rows[i]!.warnings.some((w) => w.startsWith('variational')),
      })),
    );
    for (const c of result.checks) {
      const row = byKey.get(c.key)!;
      row.agreement = c;
      row.agreement_z = c.z;
      if (c.disagrees) row.warnings.push(disagreementReason(c, result.z_threshold));
    }
  }
  for (const r of rows) if (r.status === 'ok') r.trust = trustOf(r.warnings).label;
  return rows;
}

/** summary.json's `agreement`: per target, how its samplers compare (see agreement.ts). */
export function agreementSummary(rows: readonly ResultRow[]): Record<string, { z_threshold: number; checks: AgreementCheck[] }> {
  const out: Record<string, { z_threshold: number; checks: AgreementCheck[] }> = {};
  for (const r of rows) {
    if (r.agreement === null) continue;
    (out[r.target] ??= { z_threshold: AGREEMENT_Z, checks: [] }).checks.push(r.agreement);
  }
  return out;
}

function cellValue(r: ResultRow, c: (typeof RESULT_COLUMNS)[number]): string | number | null {
  const v = r[c];
  return Array.isArray(v) ? v.join(WARNING_SEPARATOR) : v;
}

function csvCell(v: string | number | null): string {
  if (v === null) return '';
  const s = String(v);
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

export function resultsCsv(rows: readonly ResultRow[]): string {
  const lines = [RESULT_COLUMNS.join(',')];
  for (const r of rows) lines.push(RESULT_COLUMNS.map((c) => csvCell(cellValue(r, c))).join(','));
  return `${lines.join('\n')}\n`;
}

export function resultsFeather(rows: readonly ResultRow[]): Uint8Array {
  const cols: Record<string, Vector> = {};
  for (const c of RESULT_COLUMNS) {
    const values = rows.map((r) => cellValue(r, c));
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

/**
 * The terminal table: target, model, sampler, λ̂ ± MCSE, truth, R-hat, ESS, time, trust. The
 * trust column replaces the task status: a row whose tasks succeeded but whose estimate carries
 * a warning says `warn`, never `ok`; a row without an estimate says why (failed, ...).
 */
export function summaryTable(rows: readonly ResultRow[]): string {
  const header = ['target', 'model', 'sampler', 'λ̂ ± MCSE', 'truth', 'R-hat', 'ESS', 'time', 'trust'];
  const body = rows.map((r) => [
    r.target,
    r.model ?? '-',
    r.sampler,
    r.llc_mean === null ? '-' : `${fmt(r.llc_mean, 3)} ± ${fmt(r.llc_mcse, 3)}`,
    r.truth === null ? '-' : fmt(r.truth, 3),
    fmt(r.r_hat, 3),
    r.ess_bulk === null ? '-' : r.ess_bulk.toFixed(0),
    r.walltime === null ? '-' : `${r.walltime.toFixed(1)}s`,
    r.trust,
  ]);
  const widths = header.map((h, i) => Math.max([...h].length, ...body.map((b) => [...b[i]!].length)));
  const line = (cells: string[]): string => cells.map((c, i) => c + ' '.repeat(widths[i]! - [...c].length)).join('  ').trimEnd();
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}

/** Lines under the table for estimates that disagree with the other samplers of their target. */
export function disagreementLines(rows: readonly ResultRow[]): string[] {
  return rows
    .filter((r) => r.agreement?.disagrees)
    .map((r) => `${r.target} ${r.sampler}: ${disagreementReason(r.agreement!)}`);
}
