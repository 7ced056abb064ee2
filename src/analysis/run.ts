/**
 * Reading a run directory (`manifest.json` + `traces.feather`, src/contracts/run.ts) into
 * per-chain series. The manifest is checked against its contract; a mismatch names the file and
 * the key.
 */
import { existsSync } from 'node:fs';
import { readTraces, type TraceColumns } from '../store/traces.js';
import { runFiles } from '../store/layout.js';
import { readContractFile, runManifest, TRACE_COLUMNS, type RunManifest } from '../contracts/index.js';

export type { RunManifest };

/** One chain's recorded steps, ordered by draw. Optional columns are null when not recorded. */
export interface ChainTrace {
  chain: number;
  draw: Float64Array;
  step: Float64Array;
  Ln: Float64Array;
  llc: Float64Array;
  cumulative_fge: Float64Array;
  time_s: Float64Array;
  acceptance: Float64Array | null;
  energy: Float64Array | null;
  diverging: Float64Array | null;
  /** SGNHT's minibatch-noise probe (NaN in rows without a probe). */
  gradient_noise: Float64Array | null;
  /** The step of a stochastic-gradient sampler at each row (its step guard may lower it). */
  step_size: Float64Array | null;
}

export interface LoadedRun {
  dir: string;
  manifest: RunManifest;
  chains: ChainTrace[];
}

/**
 * Recorded draws to discard before estimating: the burn-in when the traces still hold it, 0
 * when the runner already dropped it (`traces_include_burn_in: false`).
 */
export function discardDraws(m: RunManifest): number {
  return m.traces_include_burn_in ? m.burn_in : 0;
}

/** The chains the manifest reports as failed, with where and why. */
export function failedChains(m: RunManifest): { chain: number; error: string }[] {
  return m.failures.map((f) => ({ chain: f.chain, error: `at step ${f.step}: ${f.reason}` }));
}

function column(cols: TraceColumns, name: string): Float64Array | Int32Array | null {
  return cols[name] ?? null;
}

/** Splits the long-format trace table into chains, each ordered by its draw index. */
export function splitChains(cols: TraceColumns): ChainTrace[] {
  const chainCol = column(cols, 'chain');
  const llc = column(cols, 'llc');
  if (chainCol === null || llc === null) {
    throw new Error(`traces need the columns chain and llc; found ${Object.keys(cols).join(', ')}`);
  }
  const rows = chainCol.length;
  const byChain = new Map<number, number[]>();
  for (let i = 0; i < rows; i++) {
    const c = chainCol[i]!;
    let list = byChain.get(c);
    if (list === undefined) byChain.set(c, (list = []));
    list.push(i);
  }
  const drawCol = column(cols, 'draw') ?? column(cols, 'step');
  const gather = (name: string, idx: number[]): Float64Array | null => {
    const src = column(cols, name);
    if (src === null) return null;
    return Float64Array.from(idx, (i) => src[i]!);
  };
  const out: ChainTrace[] = [];
  for (const chain of [...byChain.keys()].sort((a, b) => a - b)) {
    const idx = byChain.get(chain)!;
    if (drawCol !== null) idx.sort((a, b) => drawCol[a]! - drawCol[b]!);
    const draw = gather('draw', idx) ?? Float64Array.from(idx, (_, k) => k);
    out.push({
      chain,
      draw,
      step: gather('step', idx) ?? draw,
      Ln: gather('Ln', idx) ?? new Float64Array(idx.length).fill(Number.NaN),
      llc: gather('llc', idx)!,
      cumulative_fge: gather('cumulative_fge', idx) ?? new Float64Array(idx.length).fill(Number.NaN),
      time_s: gather('time_s', idx) ?? new Float64Array(idx.length).fill(Number.NaN),
      acceptance: gather('acceptance', idx),
      energy: gather('energy', idx),
      diverging: gather('diverging', idx),
      gradient_noise: gather('gradient_noise', idx),
      step_size: gather('step_size', idx),
    });
  }
  return out;
}

export function readManifest(runDirPath: string): RunManifest {
  const path = runFiles(runDirPath).manifest;
  if (!existsSync(path)) throw new Error(`${runDirPath} is not a run directory: no manifest.json`);
  return readContractFile(path, runManifest, 'run manifest');
}

export function loadRun(runDirPath: string): LoadedRun {
  const manifest = readManifest(runDirPath);
  const tpath = runFiles(runDirPath).traces;
  if (!existsSync(tpath)) throw new Error(`${runDirPath} has no traces.feather`);
  const columns = readTraces(tpath);
  const missing = TRACE_COLUMNS.filter((c) => columns[c] === undefined);
  if (missing.length > 0) {
    throw new Error(`${tpath}: not a valid trace table: missing the column(s) ${missing.join(', ')}; found ${Object.keys(columns).join(', ')}`);
  }
  return { dir: runDirPath, manifest, chains: splitChains(columns) };
}
