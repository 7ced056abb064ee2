/**
 * The static HTML report: one page, no network, no scripts. Plots are copied next to it as
 * `plots/<run id>/<name>.svg|png` (one file per plot and run: run ids are content hashes, so
 * one run's plot never overwrites another's) and linked relatively, so the report directory
 * can be moved, archived or served as is.
 *
 * The workflow calls `writeReport({home, runDirs, outDir, title})` with one invocation's runs;
 * the CLI picks the runs of an experiment (see collect.ts).
 */
import { copyFileSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { writeFileAtomic } from '../store/index.js';
import { artifactId, runFiles, targetDirOfRun } from '../store/layout.js';
import { readManifest } from '../analysis/run.js';
import { diagnoseTask, readAnalysis } from '../tasks/diagnose.js';
import { readTargetMeta } from '../plots/target-plots.js';
import { renderPlot, writePlot } from '../plots/render.js';
import { PLOT_TITLES } from '../plots/run-plots.js';
import { comparisonPlotSpecs } from './compare.js';
import { renderHtml } from './html.js';
import { truthOf, type Truth } from './truth.js';
import { CODE_VERSION } from '../version.js';
import { samplerTraits } from '../samplers/registry.js';
import type { SamplerTraits } from '../samplers/sampler.js';
import type { Analysis, FailedPair, JsonValue, RunManifest, ResolvedTargetConfig } from '../contracts/index.js';
import { crossSamplerAgreement, disagreementReason, type AgreementCheck } from '../workflow/agreement.js';
import { targetWarnings, trustOf, type Trust } from '../workflow/trust.js';

export interface ReportOptions {
  runDirs: string[];
  /** Directory to write index.html and plots/ into (created). */
  outDir: string;
  title: string;
  /** Pairs of the invocation that produced no run, listed on the page. */
  failures?: FailedPair[];
  /** The experiment config, shown under "configs used". */
  config?: JsonValue;
  /** Diagnose runs whose analysis is missing or stale first (default true). */
  diagnose?: boolean;
  /** Further sections (HTML fragments) after the results, e.g. a tuning study's. */
  sections?: string[];
}

export interface ReportRow {
  run_id: string;
  run_dir: string;
  target_id: string | null;
  sampler: string | null;
  analysis: Analysis | null;
  /** Why there is no analysis (diagnose failed), when so. */
  error: string | null;
  truth: Truth | null;
  /** (λ̂ - truth) / truth. */
  rel_error: number | null;
  /** Plot files relative to the report dir, by plot name (svg and png). */
  plots: { name: string; title: string; svg: string; png: string }[];
  manifest: RunManifest | null;
  target_config: ResolvedTargetConfig | null;
  /** What the run's sampler declares about its estimates (null for a sampler this version does not know). */
  sampler_traits: SamplerTraits | null;
  /** The target's own warnings (w* not a minimum). */
  target_warnings: string[];
  /** ok / warn (N): reason, from the target, the analysis and cross-sampler agreement. */
  trust: Trust;
  /** This run against the other samplers of its target, when there were any. */
  agreement: AgreementCheck | null;
}

export interface ReportResult {
  path: string;
  outDir: string;
  rows: ReportRow[];
}

/** Gathers one run's row: its analysis (diagnosing if needed), truth, and copied plots. */
async function rowOf(opts: ReportOptions, runDirIn: string, plotsOut: string): Promise<ReportRow> {
  const runDir = resolve(runDirIn);
  let manifest: RunManifest | null = null;
  let error: string | null = null;
  let analysis: Analysis | null = null;
  try {
    manifest = readManifest(runDir);
    if (opts.diagnose !== false) await diagnoseTask({ kind: 'diagnose', run_dir: runDir });
    if (existsSync(runFiles(runDir).analysis)) analysis = readAnalysis(runDir);
    else error = 'no analysis.json (run `lambda-hat diagnose` on it)';
  } catch (err) {
    error = (err as Error).message;
  }
  const runId = manifest?.run_id ?? artifactId(runDir);
  const targetId = analysis?.target_id ?? manifest?.target_id ?? null;
  const meta = targetId !== null ? readTargetMeta(targetDirOfRun(runDir, targetId)) : null;
  const truth = meta !== null && analysis !== null ? truthOf(meta, analysis) : null;
  const rel =
    truth !== null && analysis?.llc_mean != null && truth.value !== 0
      ? (analysis.llc_mean - truth.value) / truth.value
      : null;
  const plots: ReportRow['plots'] = [];
  const src = runFiles(runDir).plots;
  if (analysis !== null && existsSync(src)) {
    const dest = join(plotsOut, runId);
    mkdirSync(dest, { recursive: true });
    const names = analysis.plots
      .filter((p) => p.endsWith('.svg'))
      .map((p) => p.slice('plots/'.length, -'.svg'.length));
    for (const name of names) {
      const svg = join(src, `${name}.svg`);
      const png = join(src, `${name}.png`);
      if (!existsSync(svg) || !existsSync(png)) continue;
      copyFileSync(svg, join(dest, `${name}.svg`));
      copyFileSync(png, join(dest, `${name}.png`));
      plots.push({ name, title: PLOT_TITLES[name] ?? name, svg: `plots/${runId}/${name}.svg`, png: `plots/${runId}/${name}.png` });
    }
  }
  return {
    run_id: runId,
    run_dir: runDir,
    target_id: targetId,
    sampler: analysis?.sampler ?? manifest?.sampler ?? null,
    analysis,
    error,
    truth,
    rel_error: rel !== null && Number.isFinite(rel) ? rel : null,
    plots,
    manifest,
    target_config: meta?.config ?? null,
    sampler_traits: samplerOf(analysis, manifest),
    target_warnings: targetWarnings(meta),
    trust: trustOf([...targetWarnings(meta), ...(analysis?.warnings ?? [])]),
    agreement: null,
  };
}

function samplerOf(analysis: Analysis | null, manifest: RunManifest | null): SamplerTraits | null {
  const name = analysis?.sampler ?? manifest?.sampler ?? null;
  return name === null ? null : samplerTraits(name) ?? null;
}

/** Compares the samplers of each target (see src/workflow/agreement.ts) and updates the trust. */
function addAgreement(rows: ReportRow[]): void {
  const byTarget = new Map<string, ReportRow[]>();
  for (const r of rows) {
    if (r.target_id === null || r.analysis === null) continue;
    byTarget.set(r.target_id, [...(byTarget.get(r.target_id) ?? []), r]);
  }
  for (const group of byTarget.values()) {
    if (group.length < 2) continue;
    const result = crossSamplerAgreement(
      group.map((r) => ({
        key: r.run_id,
        sampler: r.sampler ?? '?',
        mean: r.analysis!.llc_mean,
        mcse: r.analysis!.llc_mcse,
        trusted: r.trust.reasons.length === 0,
        variational: r.analysis!.warnings.some((w) => w.startsWith('variational')),
      })),
    );
    for (const c of result.checks) {
      const row = group.find((r) => r.run_id === c.key)!;
      row.agreement = c;
      if (c.disagrees) {
        row.trust = trustOf([...row.target_warnings, ...row.analysis!.warnings, disagreementReason(c, result.z_threshold)]);
      }
    }
  }
}

export async function writeReport(opts: ReportOptions): Promise<ReportResult> {
  const outDir = resolve(opts.outDir);
  const plotsOut = join(outDir, 'plots');
  mkdirSync(plotsOut, { recursive: true });
  const rows: ReportRow[] = [];
  // Sequential: diagnosing renders plots, which is CPU-bound; the workflow parallelises runs.
  for (const d of [...new Set(opts.runDirs.map((r) => resolve(r)))]) rows.push(await rowOf(opts, d, plotsOut));
  rows.sort((a, b) =>
    (a.target_id ?? '').localeCompare(b.target_id ?? '') ||
    (a.sampler ?? '').localeCompare(b.sampler ?? '') ||
    a.run_id.localeCompare(b.run_id),
  );
  addAgreement(rows);
  // Plot folders of runs no longer in this report would be stale gallery entries.
  const keep = new Set([...rows.map((r) => r.run_id), '_report']);
  for (const name of readdirSync(plotsOut)) if (!keep.has(name)) rmSync(join(plotsOut, name), { recursive: true, force: true });

  const comparison: { name: string; title: string; svg: string; png: string }[] = [];
  const reportPlots = join(plotsOut, '_report');
  rmSync(reportPlots, { recursive: true, force: true });
  for (const spec of comparisonPlotSpecs(rows)) {
    const plot = await renderPlot(spec.name, spec.spec);
    writePlot(reportPlots, plot);
    comparison.push({ name: spec.name, title: spec.title, svg: `plots/_report/${spec.name}.svg`, png: `plots/_report/${spec.name}.png` });
  }
  const html = renderHtml({
    title: opts.title,
    rows,
    comparison,
    failures: opts.failures ?? [],
    config: opts.config,
    ...(opts.sections ? { sections: opts.sections } : {}),
    generatedAt: new Date().toISOString(),
    codeVersion: CODE_VERSION,
  });
  const path = join(outDir, 'index.html');
  writeFileAtomic(path, html);
  return { path, outDir, rows };
}
