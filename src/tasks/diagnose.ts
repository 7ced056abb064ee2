/**
 * The diagnose task: RUN_DIR -> RUN_DIR/analysis.json + RUN_DIR/plots/<name>.svg|png + trace.nc.
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
import { runFiles, runPlotFile, targetDirOfRun, targetFiles } from '../store/layout.js';
import { ANALYSIS_VERSION, analyzeRun, keptDraws } from '../analysis/index.js';
import { loadRun, readManifest, type RunManifest } from '../analysis/run.js';
import { readTraces } from '../store/traces.js';
import { writeTraceNetcdf } from '../store/netcdf.js';
import { renderPlot, writePlot } from '../plots/render.js';
import { runPlotSpecs, type PlotSpec } from '../plots/run-plots.js';
import { targetPlotSpecs } from '../plots/target-plots.js';
import { CODE_VERSION } from '../version.js';
import {
  analysisFile, readContractFile, tryReadContractFile, type Analysis, type DiagnoseTaskSpec, type Diagnosis,
} from '../contracts/index.js';

/** runs/<id>/analysis.json. */
export function analysisPath(runDirPath: string): string {
  return runFiles(runDirPath).analysis;
}

/** A run's analysis.json, checked against its contract. */
export function readAnalysis(runDirPath: string): Analysis {
  return readContractFile(analysisPath(runDirPath), analysisFile, 'analysis');
}

/** The reuse key: sha256 over the analysis version and the bytes of every input file. */
export function diagnoseInputsHash(runDirPath: string): string {
  // The code version too: a new release may compute or draw differently.
  const parts: string[] = [`analysis_version=${ANALYSIS_VERSION}`, `code_version=${CODE_VERSION}`];
  const files = runFiles(runDirPath);
  const inputs: [string, string][] = [
    ['manifest', files.manifest],
    ['traces', files.traces],
  ];
  const manifest = readManifest(runDirPath);
  const meta = targetFiles(targetDirOfRun(runDirPath, manifest.target_id)).meta;
  if (existsSync(meta)) inputs.push(['target_meta', meta]);
  for (const [role, f] of inputs) parts.push(`${role}:${sha256Hex(readFileSync(f))}`);
  return sha256Hex(parts.join('\n'));
}

function storedIfCurrent(runDirPath: string, hash: string): Analysis | null {
  const stored = tryReadContractFile(analysisPath(runDirPath), analysisFile);
  if (stored === undefined) return null; // missing, unreadable or off-contract: recompute
  if (stored.inputs_hash !== hash || stored.analysis_version !== ANALYSIS_VERSION) return null;
  if (!stored.plots.every((p) => existsSync(join(runDirPath, p)))) return null;
  if (!existsSync(runFiles(runDirPath).traceNc)) return null;
  return stored;
}

function diagnosisOf(runDirPath: string, a: Analysis, reused: boolean): Diagnosis {
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

/**
 * The diagnosis a diagnose task would return by reusing the stored analysis of RUN_DIR, or
 * undefined when it would recompute (missing, stale or off-contract analysis, missing files).
 */
export function storedDiagnosis(runDirIn: string): Diagnosis | undefined {
  const dir = resolve(runDirIn);
  if (!existsSync(analysisPath(dir))) return undefined;
  const stored = storedIfCurrent(dir, diagnoseInputsHash(dir));
  return stored === null ? undefined : diagnosisOf(dir, stored, true);
}

export async function diagnoseTask(spec: DiagnoseTaskSpec): Promise<Diagnosis> {
  const dir = resolve(spec.run_dir);
  const hash = diagnoseInputsHash(dir);
  if (!spec.force) {
    const stored = storedIfCurrent(dir, hash);
    if (stored !== null) return diagnosisOf(dir, stored, true);
  }
  const run = loadRun(dir);
  const kept = keptDraws(run);
  const specs: PlotSpec[] = [...runPlotSpecs(run, kept), ...targetPlotSpecs(targetDirOfRun(dir, run.manifest.target_id))];
  const files = runFiles(dir);
  // Plots of an earlier analysis that this one no longer makes (e.g. burn-in now leaves too few
  // draws for a rank plot) would otherwise linger and be shown as current.
  if (existsSync(files.plots)) {
    const keep = new Set(specs.flatMap((s) => [`${s.name}.svg`, `${s.name}.png`]));
    for (const f of readdirSync(files.plots)) if (!keep.has(f)) rmSync(join(files.plots, f), { force: true });
  }
  const written: string[] = [];
  for (const s of specs) {
    const plot = await renderPlot(s.name, s.spec);
    writePlot(files.plots, plot);
    written.push(runPlotFile(s.name, 'svg'), runPlotFile(s.name, 'png'));
  }
  await writeTraceNetcdf(files.traceNc, {
    traces: readTraces(files.traces),
    attrs: netcdfAttrs(run.manifest),
  });
  const analysis = analyzeRun(run, { inputsHash: hash, plots: written });
  writeJsonAtomic(files.analysis, analysis);
  return diagnosisOf(dir, analysis, false);
}

function netcdfAttrs(m: RunManifest): Record<string, string | number> {
  return { run_id: m.run_id, target_id: m.target_id, sampler: m.sampler, n: m.n, beta: m.beta, gamma: m.gamma, L0: m.L0 };
}
