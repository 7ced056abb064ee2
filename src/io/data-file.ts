/**
 * A dataset from a file: inputs X [n, d] and either integer class labels y [n] (classification)
 * or real targets Y [n, q] (regression). Formats, by extension:
 * - `.npz` (numpy.savez / savez_compressed): arrays `X` and `y` (integer labels) or `Y` (targets);
 * - `A.npy,B.npy` (two numpy.save files): inputs, then labels or targets;
 * - `.safetensors`: tensors `X` and `y` or `Y`;
 * - `.feather` / `.arrow` / `.csv`: one column per feature; the label or target column is named
 *   `y`, `label` or `target`, several target columns `y0`, `y1`, ... (`y_0` too).
 * Whether targets are labels is decided by their stored type (integers: labels), which decides
 * the default loss.
 */
import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { tableFromIPC } from 'apache-arrow';
import { decodeNpy, type NpyArray } from './npy.js';
import { decodeNpz } from './npz.js';
import { decodeSafetensors, isFloatDType } from '../store/safetensors.js';

export interface DataFile {
  /** What the user named (a path, or two paths joined by a comma). */
  path: string;
  n: number;
  inDim: number;
  /** Row-major [n, inDim]. */
  X: Float64Array;
  /** Integer labels (classification) or real targets. */
  target:
    | { kind: 'labels'; labels: Float64Array; dtype: string; name: string }
    | { kind: 'targets'; Y: Float64Array; outDim: number; dtype: string; name: string };
}

interface Array2 {
  shape: number[];
  data: Float64Array;
  /** Integer (or bool) storage. */
  integer: boolean;
  dtype: string;
  /** Where it came from, for errors: `file: X`. */
  label: string;
}

function readBytes(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read the data file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function fromNpy(a: NpyArray, label: string): Array2 {
  return { shape: a.shape, data: a.data, integer: a.kind !== 'f', dtype: a.descr, label };
}

const LABEL_COLUMNS = ['y', 'label', 'labels', 'target'];
const MULTI_TARGET = /^[yY]_?\d+$/;

/** Splits named columns into features and targets; `integer` says each column's storage. */
function fromColumns(path: string, columns: { name: string; values: Float64Array; integer: boolean; dtype: string }[]): [Array2, Array2] {
  const isTarget = (c: { name: string }): boolean => LABEL_COLUMNS.includes(c.name) || MULTI_TARGET.test(c.name);
  const targets = columns.filter(isTarget);
  const features = columns.filter((c) => !isTarget(c));
  if (targets.length === 0) {
    throw new Error(`${path}: no label or target column (name it y, label or target; several targets y0, y1, ...); columns: ${columns.map((c) => c.name).join(', ')}`);
  }
  if (features.length === 0) throw new Error(`${path}: no feature columns besides ${targets.map((c) => c.name).join(', ')}`);
  const n = columns[0]!.values.length;
  const pack = (cols: typeof columns, label: string): Array2 => {
    const data = new Float64Array(n * cols.length);
    cols.forEach((c, j) => {
      for (let i = 0; i < n; i++) data[i * cols.length + j] = c.values[i]!;
    });
    return { shape: [n, cols.length], data, integer: cols.every((c) => c.integer), dtype: cols[0]!.dtype, label };
  };
  const t = pack(targets, `${path}: ${targets.map((c) => c.name).join(',')}`);
  if (targets.length === 1) t.shape = [n];
  return [pack(features, `${path}: features`), t];
}

function readCsv(path: string): [Array2, Array2] {
  const text = new TextDecoder().decode(readBytes(path));
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
  if (lines.length < 2) throw new Error(`${path}: a CSV data file needs a header line and at least one row`);
  const header = lines[0]!.split(',').map((s) => s.trim().replace(/^"(.*)"$/, '$1'));
  const cols = header.map((name) => ({ name, values: new Float64Array(lines.length - 1), integer: true, dtype: 'csv' }));
  for (let i = 1; i < lines.length; i++) {
    const cells = lines[i]!.split(',');
    if (cells.length !== header.length) throw new Error(`${path}: line ${i + 1} has ${cells.length} cells, the header has ${header.length}`);
    cells.forEach((cell, j) => {
      const s = cell.trim();
      const v = s === '' ? NaN : Number(s);
      if (Number.isNaN(v) && !/^nan$/i.test(s)) throw new Error(`${path}: line ${i + 1}, column ${header[j]} is not a number ('${s}')`);
      cols[j]!.values[i - 1] = v;
      if (!/^[+-]?\d+$/.test(s)) cols[j]!.integer = false;
    });
  }
  return fromColumns(path, cols);
}

function readFeather(path: string): [Array2, Array2] {
  let table;
  try {
    table = tableFromIPC(readBytes(path));
  } catch (err) {
    throw new Error(`${path}: not a readable Feather (Arrow IPC) file (${(err as Error).message})`);
  }
  const cols = table.schema.fields.map((f, j) => {
    const vec = table.getChildAt(j)!;
    const values = new Float64Array(table.numRows);
    for (let i = 0; i < table.numRows; i++) {
      const v: unknown = vec.get(i);
      values[i] = v === null ? NaN : Number(v as number | bigint);
    }
    const type = String(f.type);
    return { name: f.name, values, integer: /^u?int/i.test(type) || /^Int|^Uint/.test(type), dtype: type };
  });
  return fromColumns(path, cols);
}

function pick(record: Record<string, Array2>, path: string): [Array2, Array2] {
  const X = record.X ?? record.x;
  if (X === undefined) throw new Error(`${path}: no array X (the inputs); it holds ${Object.keys(record).join(', ') || 'nothing'}`);
  const y = record.y;
  const Y = record.Y;
  if (y !== undefined && Y !== undefined && y !== Y) {
    throw new Error(`${path}: holds both y and Y; keep y (integer labels) or Y (regression targets), not both`);
  }
  const t = y ?? Y ?? record.labels ?? record.targets;
  if (t === undefined) throw new Error(`${path}: no array y (integer labels) or Y (targets); it holds ${Object.keys(record).join(', ')}`);
  return [X, t];
}

function load(path: string): [Array2, Array2] {
  const comma = path.split(',');
  if (comma.length === 2) {
    const [px, py] = comma as [string, string];
    return [fromNpy(decodeNpy(readBytes(px), px), px), fromNpy(decodeNpy(readBytes(py), py), py)];
  }
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.npz': {
      const arrays = decodeNpz(readBytes(path), path);
      const rec: Record<string, Array2> = {};
      for (const [k, a] of Object.entries(arrays)) rec[k] = fromNpy(a, `${path}: ${k}`);
      return pick(rec, path);
    }
    case '.safetensors': {
      const file = decodeSafetensors(readBytes(path), path);
      const rec: Record<string, Array2> = {};
      for (const [k, t] of Object.entries(file.tensors)) {
        rec[k] = { shape: t.shape, data: Float64Array.from(t.data), integer: !isFloatDType(t.dtype), dtype: t.dtype, label: `${path}: ${k}` };
      }
      return pick(rec, path);
    }
    case '.feather':
    case '.arrow':
      return readFeather(path);
    case '.csv':
      return readCsv(path);
    case '.npy':
      throw new Error(`${path}: a single .npy holds one array; give inputs and labels as two files, --data X.npy,y.npy`);
    default:
      throw new Error(`${path}: unsupported data file extension '${ext}' (expected .npz, X.npy,y.npy, .safetensors, .feather or .csv)`);
  }
}

function checkFinite(a: Array2): void {
  for (let i = 0; i < a.data.length; i++) {
    const v = a.data[i]!;
    if (!Number.isFinite(v)) throw new Error(`${a.label} holds ${v} at flat index ${i}: the data must be finite`);
  }
}

export function readDataFile(path: string): DataFile {
  const [X, T] = load(path);
  if (X.shape.length !== 2) throw new Error(`${X.label} has shape ${JSON.stringify(X.shape)}, expected [n, features]`);
  const [n, inDim] = X.shape as [number, number];
  if (n === 0) throw new Error(`${X.label} has no rows`);
  checkFinite(X);
  checkFinite(T);
  if (T.shape[0] !== n) throw new Error(`${T.label} has ${T.shape[0]} rows but ${X.label} has ${n}: one label or target per input row`);
  const name = T.label;
  if (T.integer) {
    if (!(T.shape.length === 1 || (T.shape.length === 2 && T.shape[1] === 1))) {
      throw new Error(`${T.label} holds integers of shape ${JSON.stringify(T.shape)}: class labels are one integer per row, shape [n]`);
    }
    for (let i = 0; i < n; i++) {
      if (T.data[i]! < 0) throw new Error(`${T.label}: label ${T.data[i]} at row ${i} is negative; labels are class indices 0..K-1`);
    }
    return { path, n, inDim, X: X.data, target: { kind: 'labels', labels: T.data, dtype: T.dtype, name } };
  }
  if (T.shape.length > 2) throw new Error(`${T.label} has shape ${JSON.stringify(T.shape)}, expected [n] or [n, outputs]`);
  const outDim = T.shape.length === 1 ? 1 : T.shape[1]!;
  return { path, n, inDim, X: X.data, target: { kind: 'targets', Y: T.data, outDim, dtype: T.dtype, name } };
}
