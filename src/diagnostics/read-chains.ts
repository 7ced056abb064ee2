/**
 * Readers for [chain][draw] arrays of draws: `.json` (array of arrays), `.npy` (2-D) and `.csv`
 * (one column per chain). Every error message names the file, because the CLI reports them as
 * they are.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import { decodeNpy } from '../io/npy.js';

/** Reads draws from `path`, choosing the format by extension. Result is [chain][draw]. */
export async function readChainsFile(path: string): Promise<Float64Array[]> {
  let bytes: Buffer;
  try {
    bytes = await readFile(path);
  } catch (err) {
    throw new Error(`${path}: cannot read file (${(err as Error).message})`);
  }
  const ext = extname(path).toLowerCase();
  switch (ext) {
    case '.json':
      return parseChainsJson(bytes.toString('utf8'), path);
    case '.npy':
      return parseNpy(new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), path);
    case '.csv':
      return parseChainsCsv(bytes.toString('utf8'), path);
    default:
      throw new Error(`${path}: unsupported extension '${ext}' (expected .json, .npy or .csv)`);
  }
}

function requireRectangular(chains: Float64Array[], source: string): Float64Array[] {
  if (chains.length === 0) throw new Error(`${source}: no chains found`);
  const n = chains[0]!.length;
  chains.forEach((c, j) => {
    if (c.length !== n) {
      throw new Error(
        `${source}: ragged input, chain 0 has ${n} draws but chain ${j} has ${c.length}`,
      );
    }
  });
  if (n === 0) throw new Error(`${source}: chains have no draws`);
  return chains;
}

/** JSON: an array of arrays of numbers, outer index = chain. */
export function parseChainsJson(text: string, source: string): Float64Array[] {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new Error(`${source}: not valid JSON (${(err as Error).message})`);
  }
  if (!Array.isArray(data) || !data.every((c) => Array.isArray(c))) {
    throw new Error(`${source}: expected an array of arrays of numbers, [chain][draw]`);
  }
  const chains = (data as unknown[][]).map((chain, j) =>
    Float64Array.from(chain, (v, i) => {
      if (typeof v !== 'number') {
        throw new Error(`${source}: chain ${j}, draw ${i} is not a number (${JSON.stringify(v)})`);
      }
      return v;
    }),
  );
  return requireRectangular(chains, source);
}

const SPECIAL_NUMBERS: Record<string, number> = {
  nan: Number.NaN,
  inf: Infinity,
  '+inf': Infinity,
  '-inf': -Infinity,
  infinity: Infinity,
  '+infinity': Infinity,
  '-infinity': -Infinity,
};

/**
 * Parses one CSV cell as a number; NaN/inf spellings of numpy, pandas and R are accepted so that
 * such draws reach the diagnostics (which report them) instead of failing the read.
 */
function parseCell(cell: string): number | undefined {
  const t = cell.trim().replace(/^"(.*)"$/, '$1').trim();
  if (t === '') return undefined;
  const special = SPECIAL_NUMBERS[t.toLowerCase()];
  if (special !== undefined) return special;
  const v = Number(t);
  return Number.isNaN(v) ? undefined : v;
}

/**
 * CSV: one column per chain, one row per draw, comma-separated. The first row is taken as a
 * header when any of its non-empty cells is not a number. Cells may be double-quoted. Blank lines
 * are skipped.
 */
export function parseChainsCsv(text: string, source: string): Float64Array[] {
  const lines = text.split(/\r?\n/);
  const rows: { line: number; cells: string[] }[] = [];
  lines.forEach((l, i) => {
    if (l.trim() !== '') rows.push({ line: i + 1, cells: l.split(',') });
  });
  if (rows.length === 0) throw new Error(`${source}: empty CSV file`);
  const hasHeader = rows[0]!.cells.some((c) => c.trim() !== '' && parseCell(c) === undefined);
  const body = hasHeader ? rows.slice(1) : rows;
  const width = rows[0]!.cells.length;
  if (body.length === 0) throw new Error(`${source}: CSV has a header but no draws`);
  const chains = Array.from({ length: width }, () => new Float64Array(body.length));
  body.forEach(({ line, cells }, i) => {
    if (cells.length !== width) {
      throw new Error(
        `${source}: ragged CSV, line ${line} has ${cells.length} columns, expected ${width}`,
      );
    }
    cells.forEach((cell, j) => {
      const v = parseCell(cell);
      if (v === undefined) {
        throw new Error(`${source}: line ${line}, column ${j + 1} is not a number ('${cell}')`);
      }
      chains[j]![i] = v;
    });
  });
  return requireRectangular(chains, source);
}

/**
 * NumPy .npy (any version decodeNpy reads): a 2-D array of floats or integers, C or Fortran
 * order; rows are chains.
 */
export function parseNpy(bytes: Uint8Array, source: string): Float64Array[] {
  const a = decodeNpy(bytes, source);
  if (a.shape.length !== 2) {
    throw new Error(`${source}: expected a 2-D array [chain, draw], got shape (${a.shape.join(', ')})`);
  }
  const [rows, cols] = a.shape as [number, number];
  const chains = Array.from({ length: rows }, (_, r) => a.data.slice(r * cols, (r + 1) * cols));
  return requireRectangular(chains, source);
}
