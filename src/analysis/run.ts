/**
 * Reading a run directory (`manifest.json` + `traces.feather`) into per-chain series.
 *
 * The manifest is read leniently: the file contract names the fields (target id, sampler,
 * hyperparameters, n, beta, gamma, L0, chains, timings, work in FGE) but not every nesting, so
 * each field is looked up under the few names a writer may reasonably use, and a missing field
 * becomes null rather than an exception: a diagnosis of a partial run is still useful.
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import { readTraces, type TraceColumns } from '../store/traces.js';

export type Json = Record<string, unknown>;

export interface RunManifest {
  /** The manifest exactly as stored, for the report's "configs used". */
  raw: Json;
  run_id: string;
  target_id: string | null;
  sampler: string | null;
  hyperparameters: Json;
  n: number | null;
  beta: number | null;
  gamma: number | null;
  L0: number | null;
  /** Chains the run was asked for (may exceed the chains present in the traces). */
  chains: number | null;
  /** Burn-in as the manifest records it (sampler steps or recorded draws). */
  burn_in: number;
  /**
   * Recorded draws to discard before estimating: burn_in when the traces still hold the
   * burn-in, 0 when the sampler already dropped it (`traces_include_burn_in: false`).
   */
  discard_draws: number;
  total_fge: number | null;
  walltime_s: number | null;
  /** Chains the sampler reported as failed, with their error, when it says so. */
  failed_chains: { chain: number; error: string }[];
}

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
}

export interface LoadedRun {
  dir: string;
  manifest: RunManifest;
  chains: ChainTrace[];
}

function isObject(v: unknown): v is Json {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

function num(v: unknown): number | null {
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/** First finite number found at any of the dotted paths. */
function pick(obj: Json, paths: string[]): number | null {
  for (const p of paths) {
    let cur: unknown = obj;
    for (const part of p.split('.')) cur = isObject(cur) ? cur[part] : undefined;
    const v = num(cur);
    if (v !== null) return v;
  }
  return null;
}

function pickString(obj: Json, paths: string[]): string | null {
  for (const p of paths) {
    let cur: unknown = obj;
    for (const part of p.split('.')) cur = isObject(cur) ? cur[part] : undefined;
    if (typeof cur === 'string' && cur.length > 0) return cur;
  }
  return null;
}

export function parseManifest(raw: Json, runId: string): RunManifest {
  const hyper = isObject(raw.hyperparameters) ? raw.hyperparameters : {};
  const samplerField = raw.sampler;
  const sampler =
    typeof samplerField === 'string'
      ? samplerField
      : isObject(samplerField)
        ? pickString(samplerField, ['name'])
        : null;
  const failed: { chain: number; error: string }[] = [];
  // src/tasks/sample.ts writes `failures: [{chain, step, reason}]`; `failed_chains` is accepted
  // for hand-written or older manifests.
  for (const field of [raw.failures, raw.failed_chains]) {
    if (!Array.isArray(field)) continue;
    for (const f of field) {
      if (typeof f === 'number') failed.push({ chain: f, error: 'failed' });
      else if (isObject(f)) {
        const at = num(f.step) !== null ? `at step ${f.step}: ` : '';
        failed.push({ chain: num(f.chain) ?? -1, error: at + String(f.reason ?? f.error ?? 'failed') });
      }
    }
  }
  const burnIn = Math.max(0, Math.floor(pick(raw, ['burn_in', 'hyperparameters.burn_in', 'chains.burn_in']) ?? 0));
  return {
    raw,
    run_id: pickString(raw, ['run_id', 'id']) ?? runId,
    target_id: pickString(raw, ['target_id', 'target.id']),
    sampler,
    hyperparameters: hyper,
    n: pick(raw, ['n', 'posterior.n', 'dims.n']),
    beta: pick(raw, ['beta', 'posterior.beta']),
    gamma: pick(raw, ['gamma', 'posterior.gamma']),
    L0: pick(raw, ['L0', 'posterior.L0']),
    chains: typeof raw.chains === 'number' ? raw.chains : pick(raw, ['chains.count', 'chains.n', 'num_chains']),
    burn_in: burnIn,
    discard_draws: raw.traces_include_burn_in === false ? 0 : burnIn,
    total_fge: pick(raw, ['total_fge', 'work.total_fge', 'work.fge', 'fge', 'timings.total_fge']),
    walltime_s: pick(raw, [
      'walltime_s',
      'timings.walltime_s',
      'timings.wall_s',
      'timings.total_s',
      'timings.sampling_s',
      'timings.sample_s',
      'timings.wall_s',
    ]),
    failed_chains: failed,
  };
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
    });
  }
  return out;
}

export function manifestPath(runDirPath: string): string {
  return join(runDirPath, 'manifest.json');
}

export function tracesPath(runDirPath: string): string {
  return join(runDirPath, 'traces.feather');
}

export function readManifest(runDirPath: string): RunManifest {
  const path = manifestPath(runDirPath);
  if (!existsSync(path)) throw new Error(`${runDirPath} is not a run directory: no manifest.json`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new Error(`cannot parse ${path}: ${(err as Error).message}`);
  }
  if (!isObject(raw)) throw new Error(`${path} does not hold a JSON object`);
  return parseManifest(raw, basename(runDirPath));
}

export function loadRun(runDirPath: string): LoadedRun {
  const manifest = readManifest(runDirPath);
  const tpath = tracesPath(runDirPath);
  if (!existsSync(tpath)) throw new Error(`${runDirPath} has no traces.feather`);
  return { dir: runDirPath, manifest, chains: splitChains(readTraces(tpath)) };
}
