/**
 * A run's traces as an ArviZ InferenceData NetCDF4 file (`arviz.from_netcdf(path)` opens it).
 *
 * NetCDF4 is HDF5 with conventions, written here with h5wasm (HDF5 compiled to wasm, host file
 * system through NODERAWFS). What netCDF readers (netCDF-C, and h5netcdf, ArviZ's default engine)
 * need to see dimensions instead of anonymous "phony" ones:
 * - each dimension is a 1-D dataset marked as an HDF5 dimension scale (attribute
 *   CLASS="DIMENSION_SCALE" plus NAME, written by HDF5's own H5DSset_scale through
 *   `Dataset.make_scale`); a scale whose name is the dimension's is also the coordinate variable;
 * - every variable has the scales attached per axis (`attach_scale` writes DIMENSION_LIST on the
 *   variable and REFERENCE_LIST on the scale);
 * - `_Netcdf4Dimid` (int32, unique in the file) on each scale fixes the dimension ids, as
 *   netCDF-C and h5netcdf write it; readers fall back to their own numbering without it, but
 *   then the order can differ between readers.
 * Each group (posterior, sample_stats) has its own `chain` and `draw` scales, as ArviZ writes
 * them, so each group opens as a self-contained xarray Dataset.
 *
 * Layout: `posterior/{llc, Ln}` and `sample_stats/{...}` of dims (chain, draw). Sample-stat
 * columns keep their trace names except `acceptance` -> `acceptance_rate` (ArviZ's name);
 * `diverging` is int8 with attribute dtype="bool", xarray's encoding of booleans (netCDF has no
 * bool type), which xarray decodes back to bool. All other sample stats are float64 so that
 * missing draws can be NaN whatever the column's type in the trace table.
 *
 * Chains of unequal length (a failed chain stops early) are padded at the end with NaN (False for
 * `diverging`); the attributes `padded_with_nan` (0/1), `draws_per_chain` and, when padded,
 * `padding` say so, on the root and on both groups.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, renameSync, rmSync } from 'node:fs';
import { dirname } from 'node:path';
import h5wasm from 'h5wasm/node';
import type { Dataset, Group } from 'h5wasm/node';
import type { TraceColumns } from './traces.js';

export interface TraceNetcdfInput {
  /** One row per chain and recorded draw: at least `chain`, `draw`, `llc`, `Ln`. */
  traces: TraceColumns;
  /** Run attributes (sampler, target_id, n, beta, gamma, L0, ...), written on root and groups. */
  attrs: Record<string, string | number>;
}

/** The (chain, draw) grid the traces were laid out on. */
export interface TraceGrid {
  /** Chain ids in coordinate order (ascending). */
  chains: number[];
  /** Length of the draw dimension: the longest chain's number of draws. */
  draws: number;
  /** Recorded draws of each chain, in `chains` order. */
  drawsPerChain: number[];
  /** True when some (chain, draw) cell has no row and was filled with NaN / False. */
  padded: boolean;
  /** Row of the trace table at each cell, row-major [chain][draw]; -1 where padded. */
  rowAt: Int32Array;
}

/** Columns that form the posterior group; all others (but chain, draw) are sample stats. */
const POSTERIOR_VARS = ['llc', 'Ln'] as const;
const INDEX_COLUMNS = new Set(['chain', 'draw']);
/** Trace column name -> ArviZ sample_stats name, where ArviZ's conventional name differs. */
const ARVIZ_NAMES: Readonly<Record<string, string>> = { acceptance: 'acceptance_rate' };
/**
 * Attribute names that belong to the netCDF / HDF5 dimension-scale machinery or to this
 * writer's own bookkeeping: a run attribute with one of these names would corrupt the file or
 * contradict the padding description, so it is refused.
 */
const RESERVED_ATTRS = new Set([
  'CLASS',
  'NAME',
  'DIMENSION_LIST',
  'REFERENCE_LIST',
  'dtype',
  'padded_with_nan',
  'draws_per_chain',
  'padding',
]);
/** Variable names written: netCDF's classic-safe subset, which every reader accepts. */
const VAR_NAME = /^[A-Za-z_][A-Za-z0-9_.-]*$/;
// h5wasm dtype strings are struct-module codes, not numpy's: the digits in '<i8' / '<f8' are
// ignored ('<i8' is int32, '<f8' float32), so int64 is '<q', float64 '<d', int32 '<i', int8 '<b'.
/** Highest HDF5 format version used: 1.10, so readers built on HDF5 1.10 / 1.12 / 1.14 open it. */
const LIBVER: ['v108', 'v110'] = ['v108', 'v110'];

/**
 * Lays the trace rows out on a (chain, draw) grid. A row goes to its chain's position in the
 * sorted chain ids and to index `draw`; `draw` must be a non-negative integer, unique per chain.
 */
export function traceGrid(traces: TraceColumns): TraceGrid {
  const chainCol = traces.chain;
  const drawCol = traces.draw;
  if (!chainCol || !drawCol) throw new Error('traces need `chain` and `draw` columns');
  const rows = chainCol.length;
  for (const [name, col] of Object.entries(traces)) {
    if (col.length !== rows) throw new Error(`trace column ${name} has ${col.length} rows, expected ${rows}`);
  }
  const chains = [...new Set(Array.from(chainCol))].sort((a, b) => a - b);
  const chainIndex = new Map(chains.map((c, i) => [c, i]));
  let draws = 0;
  for (let r = 0; r < rows; r++) {
    const d = drawCol[r]!;
    const c = chainCol[r]!;
    if (!Number.isInteger(d) || d < 0) throw new Error(`trace row ${r}: draw ${d} is not a non-negative integer`);
    if (!Number.isInteger(c)) throw new Error(`trace row ${r}: chain ${c} is not an integer`);
    draws = Math.max(draws, d + 1);
  }
  const rowAt = new Int32Array(chains.length * draws).fill(-1);
  const drawsPerChain = new Array<number>(chains.length).fill(0);
  for (let r = 0; r < rows; r++) {
    const ci = chainIndex.get(chainCol[r]!)!;
    const cell = ci * draws + drawCol[r]!;
    if (rowAt[cell] !== -1) throw new Error(`trace rows ${rowAt[cell]} and ${r} are both chain ${chainCol[r]} draw ${drawCol[r]}`);
    rowAt[cell] = r;
    drawsPerChain[ci]! += 1;
  }
  const padded = drawsPerChain.some((k) => k < draws);
  return { chains, draws, drawsPerChain, padded, rowAt };
}

/** Column values on the grid as float64, NaN where padded. */
function gridFloat(col: ArrayLike<number>, grid: TraceGrid): Float64Array {
  const out = new Float64Array(grid.rowAt.length);
  for (let i = 0; i < out.length; i++) {
    const r = grid.rowAt[i]!;
    out[i] = r < 0 ? Number.NaN : col[r]!;
  }
  return out;
}

/**
 * Divergence flags on the grid, 0 where padded. The chain runner records the number of
 * divergent transitions since the previous recorded draw, so any positive count is a divergence.
 */
function gridBool(col: ArrayLike<number>, grid: TraceGrid): Int8Array {
  const out = new Int8Array(grid.rowAt.length);
  for (let i = 0; i < out.length; i++) {
    const r = grid.rowAt[i]!;
    out[i] = r >= 0 && col[r]! > 0 ? 1 : 0;
  }
  return out;
}

/**
 * Numbers that are safe integers become int64 attributes, others float64, so Python sees
 * `n == 1000` as an int and `beta` as a float, as json.loads would.
 */
function writeAttr(target: Group | Dataset, name: string, value: string | number | Int32Array): void {
  if (typeof value === 'string') target.create_attribute(name, value);
  else if (value instanceof Int32Array) target.create_attribute(name, BigInt64Array.from(value, (v) => BigInt(v)), [value.length], '<q');
  else if (Number.isSafeInteger(value)) target.create_attribute(name, BigInt64Array.of(BigInt(value)), [], '<q');
  else target.create_attribute(name, Float64Array.of(value), [], '<d');
}

/** The attributes every group and the root carry: run attributes plus the padding record. */
function groupAttrs(input: TraceNetcdfInput, grid: TraceGrid): [string, string | number | Int32Array][] {
  for (const name of Object.keys(input.attrs)) {
    if (RESERVED_ATTRS.has(name) || name.startsWith('_')) {
      throw new Error(`attribute name ${JSON.stringify(name)} is reserved for the NetCDF layout`);
    }
  }
  // The producer is fixed: a caller's created_by / inference_library is replaced, not duplicated
  // (HDF5 refuses a second attribute of the same name).
  const producer = { created_by: 'lambda-hat', inference_library: 'lambda-hat' };
  const out: [string, string | number | Int32Array][] = Object.entries({ ...input.attrs, ...producer });
  out.push(['padded_with_nan', grid.padded ? 1 : 0], ['draws_per_chain', Int32Array.from(grid.drawsPerChain)]);
  if (grid.padded) {
    out.push([
      'padding',
      `chains recorded unequal numbers of draws (${grid.drawsPerChain.join(', ')}; a failed chain stops early): ` +
        'missing draws are NaN (diverging: False); drop them before computing diagnostics',
    ]);
  }
  return out;
}

/**
 * h5wasm's create_dataset returns null (typed as Dataset) when HDF5 fails, after printing
 * HDF5's error stack: turn that into an exception so no half-built file is renamed into place.
 */
function created(ds: Dataset | null, group: string, name: string): Dataset {
  if (!ds) throw new Error(`HDF5 could not create dataset ${group}/${name} (see the HDF5-DIAG output above)`);
  return ds;
}

/**
 * One InferenceData group: chain/draw coordinate variables as dimension scales, then the
 * variables with the scales attached to axes 0 and 1.
 */
function writeGroup(
  root: Group,
  name: string,
  vars: [string, Float64Array | Int8Array][],
  grid: TraceGrid,
  attrs: [string, string | number | Int32Array][],
  firstDimid: number,
): void {
  const g = root.create_group(name, true);
  for (const [k, v] of attrs) writeAttr(g, k, v);
  const shape = [grid.chains.length, grid.draws];
  const coords: [string, BigInt64Array][] = [
    ['chain', BigInt64Array.from(grid.chains, (c) => BigInt(c))],
    ['draw', BigInt64Array.from({ length: grid.draws }, (_, i) => BigInt(i))],
  ];
  coords.forEach(([dim, values], i) => {
    const ds = created(g.create_dataset({ name: dim, data: values, shape: [values.length], dtype: '<q' }), name, dim);
    // NAME equal to the dataset name marks a coordinate variable (a dimension that is also a
    // variable), which netCDF-C and h5netcdf expose as an xarray coordinate.
    ds.make_scale(dim);
    // int32, as netCDF-C writes it (writeAttr would make an int64).
    ds.create_attribute('_Netcdf4Dimid', Int32Array.of(firstDimid + i), [], '<i');
  });
  for (const [vname, data] of vars) {
    const isBool = data instanceof Int8Array;
    const ds = created(g.create_dataset({ name: vname, data, shape, dtype: isBool ? '<b' : '<d' }), name, vname);
    ds.attach_scale(0, `/${name}/chain`);
    ds.attach_scale(1, `/${name}/draw`);
    if (isBool) ds.create_attribute('dtype', 'bool');
  }
}

/**
 * Writes the traces as NetCDF4 InferenceData at `path`, atomically (a temp file in the same
 * directory, renamed when complete and closed). Returns the grid the draws were laid out on.
 */
export async function writeTraceNetcdf(path: string, input: TraceNetcdfInput): Promise<TraceGrid> {
  const { traces } = input;
  for (const v of POSTERIOR_VARS) {
    if (!traces[v]) throw new Error(`traces need a \`${v}\` column for the posterior group`);
  }
  const grid = traceGrid(traces);
  const attrs = groupAttrs(input, grid);
  const posterior: [string, Float64Array][] = POSTERIOR_VARS.map((v) => [v, gridFloat(traces[v]!, grid)]);
  const stats: [string, Float64Array | Int8Array][] = [];
  for (const [col, values] of Object.entries(traces)) {
    if (INDEX_COLUMNS.has(col) || (POSTERIOR_VARS as readonly string[]).includes(col)) continue;
    stats.push([ARVIZ_NAMES[col] ?? col, col === 'diverging' ? gridBool(values, grid) : gridFloat(values, grid)]);
  }
  const names = stats.map(([n]) => n);
  for (const n of names) {
    // HDF5 reads '/' as a path separator, and h5wasm reports a failed create_dataset only by
    // returning null: refuse such names here with a message that names the column.
    if (!VAR_NAME.test(n)) throw new Error(`trace column ${JSON.stringify(n)} is not a valid NetCDF variable name`);
  }
  const dup = names.find((n, i) => names.indexOf(n) !== i);
  if (dup !== undefined) throw new Error(`two trace columns map to sample stat ${dup} (e.g. acceptance and acceptance_rate)`);

  await h5wasm.ready;
  mkdirSync(dirname(path), { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${randomBytes(6).toString('hex')}`;
  // From here to close() there is no await: the wasm HDF5 library is one instance per thread,
  // and nothing else can interleave calls into it while this file is open.
  try {
    const file = new h5wasm.File(tmp, 'w', { track_order: true, libver: LIBVER });
    try {
      for (const [k, v] of attrs) writeAttr(file, k, v);
      writeGroup(file, 'posterior', posterior, grid, attrs, 0);
      if (stats.length > 0) writeGroup(file, 'sample_stats', stats, grid, attrs, 2);
    } finally {
      file.close();
    }
    renameSync(tmp, path);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  return grid;
}
