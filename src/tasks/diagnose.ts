/**
 * The diagnose task: RUN_DIR -> RUN_DIR/analysis.json + RUN_DIR/plots/<name>.svg|png.
 *
 * Reuse: analysis.json records a sha256 of everything it was computed from (manifest bytes,
 * traces bytes, the target's meta.json when present, the analysis version). A later call with
 * the same inputs and every listed plot present returns the stored result without recomputing;
 * `force` redoes it. A hash, not mtimes, because content-addressed run dirs can be copied or
 * restored with new mtimes but the same content, and a rewritten trace can keep its mtime
 * within the filesystem's resolution.
 *
 * analysis.json is written last, atomically: its presence with a matching hash means the plots
 * it lists were all written before it.
 */
import { existsSync, readFileSync, rmSync, readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { sha256Hex, writeJsonAtomic } from '../store/index.js';
import { ANALYSIS_VERSION, analyzeRun, keptDraws, type Analysis } from '../analysis/index.js';
import { loadRun, manifestPath, readManifest, tracesPath, type RunManifest } from '../analysis/run.js';
import { readTraces } from '../store/traces.js';
import { writeTraceNetcdf } from '../store/netcdf.js';
import { renderPlot, writePlot } from '../plots/render.js';
import { runPlotSpecs, type PlotSpec } from '../plots/run-plots.js';
import { targetPlotSpecs, targetDirOfRun } from '../plots/target-plots.js';
import { CODE_VERSION } from '../version.js';
import type { DiagnoseTaskResult, DiagnoseTaskSpec } from './types.js';

export interface DiagnoseOutcome extends DiagnoseTaskResult {
  /** True when a stored, up-to-date analysis was returned without recomputing. */
  reused: boolean;
  analysis_path: string;
  /** Plot files written (or reused), relative to the run dir, e.g. "plots/trace_llc.svg". */
  plots: string[];
}

export function analysisPath(runDirPath: string): string {
  return join(runDirPath, 'analysis.json');
}

/** The reuse key: sha256 over the analysis version and the bytes of every input file. */
export function diagnoseInputsHash(runDirPath: string): string {
  // The code version too: a new release may compute or draw differently.
  const parts: string[] = [`analysis_version=${ANALYSIS_VERSION}`, `code_version=${CODE_VERSION}`];
  const files: [string, string][] = [
    ['manifest', manifestPath(runDirPath)],
    ['traces', tracesPath(runDirPath)],
  ];
  const manifest = readManifest(runDirPath);
  if (manifest.target_id !== null) {
    const meta = join(targetDirOfRun(runDirPath, manifest.target_id), 'meta.json');
    if (existsSync(meta)) files.push(['target_meta', meta]);
  }
  for (const [role, f] of files) parts.push(`${role}:${sha256Hex(readFileSync(f))}`);
  return sha256Hex(parts.join('\n'));
}

function storedIfCurrent(runDirPath: string, hash: string): Analysis | null {
  const path = analysisPath(runDirPath);
  if (!existsSync(path)) return null;
  let stored: Analysis;
  try {
    stored = JSON.parse(readFileSync(path, 'utf8')) as Analysis;
  } catch {
    return null; // unreadable: recompute
  }
  if (stored.inputs_hash !== hash || stored.analysis_version !== ANALYSIS_VERSION) return null;
  if (!Array.isArray(stored.plots) || !stored.plots.every((p) => existsSync(join(runDirPath, p)))) return null;
  if (!existsSync(join(runDirPath, TRACE_NC))) return null;
  return stored;
}

function toResult(runDirPath: string, a: Analysis, reused: boolean): DiagnoseOutcome {
  return {
    run_dir: runDirPath,
    llc_mean: a.llc_mean,
    llc_mcse: a.llc_mcse,
    r_hat: a.r_hat,
    ess_bulk: a.ess_bulk,
    warnings: a.warnings,
    reused,
    analysis_path: analysisPath(runDirPath),
    plots: a.plots,
  };
}

export async function diagnoseTask(spec: DiagnoseTaskSpec): Promise<DiagnoseOutcome> {
  const dir = resolve(spec.run_dir);
  const hash = diagnoseInputsHash(dir);
  if (!spec.force) {
    const stored = storedIfCurrent(dir, hash);
    if (stored !== null) return toResult(dir, stored, true);
  }
  const run = loadRun(dir);
  const kept = keptDraws(run);
  const specs: PlotSpec[] = [...runPlotSpecs(run, kept)];
  if (run.manifest.target_id !== null) {
    specs.push(...targetPlotSpecs(targetDirOfRun(dir, run.manifest.target_id)));
  }
  const plotsDir = join(dir, 'plots');
  // Plots of an earlier analysis that this one no longer makes (e.g. burn-in now leaves too few
  // draws for a rank plot) would otherwise linger and be shown as current.
  if (existsSync(plotsDir)) {
    const keep = new Set(specs.flatMap((s) => [`${s.name}.svg`, `${s.name}.png`]));
    for (const f of readdirSync(plotsDir)) if (!keep.has(f)) rmSync(join(plotsDir, f), { force: true });
  }
  const written: string[] = [];
  for (const s of specs) {
    const plot = await renderPlot(s.name, s.spec);
    writePlot(plotsDir, plot);
    written.push(`plots/${s.name}.svg`, `plots/${s.name}.png`);
  }
  await writeTraceNetcdf(join(dir, TRACE_NC), {
    traces: readTraces(tracesPath(dir)),
    attrs: netcdfAttrs(run.manifest),
  });
  const analysis = analyzeRun(run, { inputsHash: hash, plots: written });
  writeJsonAtomic(analysisPath(dir), analysis);
  return toResult(dir, analysis, false);
}

/** ArviZ InferenceData of the kept draws, for `arviz.from_netcdf`. */
const TRACE_NC = 'trace.nc';

function netcdfAttrs(m: RunManifest): Record<string, string | number> {
  const attrs: Record<string, string | number> = { run_id: m.run_id };
  if (m.target_id !== null) attrs.target_id = m.target_id;
  if (m.sampler !== null) attrs.sampler = m.sampler;
  for (const [k, v] of [['n', m.n], ['beta', m.beta], ['gamma', m.gamma], ['L0', m.L0]] as const) {
    if (v !== null) attrs[k] = v;
  }
  return attrs;
}
