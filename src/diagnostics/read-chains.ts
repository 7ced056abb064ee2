/**
 * Readers for [chain][draw] arrays of draws: `.json` (array of arrays), `.npy` (2-D) and `.csv`
 * (one column per chain). Every error message names the file, because the CLI reports them as
 * they are.
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';

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

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

function parseNpyHeader(header: string, source: string): NpyHeader {
  // The header is a Python dict literal written by numpy, e.g.
  // {'descr': '<f8', 'fortran_order': False, 'shape': (4, 1000), }
  const descr = /'descr'\s*:\s*'([^']*)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeText = /'shape'\s*:\s*\(([^)]*)\)/.exec(header)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new Error(`${source}: malformed .npy header ${JSON.stringify(header.trim())}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((s) => Number(s.replace(/L$/, '')));
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) {
    throw new Error(`${source}: malformed .npy shape (${shapeText})`);
  }
  return { descr, fortranOrder: fortran === 'True', shape };
}

type Reader = (view: DataView, offset: number, littleEndian: boolean) => number;

const NPY_READERS: Record<string, { size: number; read: Reader }> = {
  f8: { size: 8, read: (v, o, le) => v.getFloat64(o, le) },
  f4: { size: 4, read: (v, o, le) => v.getFloat32(o, le) },
  i8: { size: 8, read: (v, o, le) => Number(v.getBigInt64(o, le)) },
  i4: { size: 4, read: (v, o, le) => v.getInt32(o, le) },
  i2: { size: 2, read: (v, o, le) => v.getInt16(o, le) },
  i1: { size: 1, read: (v, o) => v.getInt8(o) },
  u8: { size: 8, read: (v, o, le) => Number(v.getBigUint64(o, le)) },
  u4: { size: 4, read: (v, o, le) => v.getUint32(o, le) },
  u2: { size: 2, read: (v, o, le) => v.getUint16(o, le) },
  u1: { size: 1, read: (v, o) => v.getUint8(o) },
};

/**
 * NumPy .npy (format versions 1-3): a 2-D array of float64/float32/(unsigned) integers,
 * little-endian (big-endian is read too), C or Fortran order; rows are chains.
 */
export function parseNpy(bytes: Uint8Array, source: string): Float64Array[] {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) {
    throw new Error(`${source}: not a .npy file (bad magic bytes)`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const major = bytes[6]!;
  let headerLen: number;
  let headerStart: number;
  if (major === 1) {
    headerLen = view.getUint16(8, true);
    headerStart = 10;
  } else if (major === 2 || major === 3) {
    if (bytes.length < 12) throw new Error(`${source}: truncated .npy header`);
    headerLen = view.getUint32(8, true);
    headerStart = 12;
  } else {
    throw new Error(`${source}: unsupported .npy format version ${major}`);
  }
  const dataStart = headerStart + headerLen;
  if (dataStart > bytes.length) throw new Error(`${source}: truncated .npy header`);
  const headerText = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(
    bytes.subarray(headerStart, dataStart),
  );
  const { descr, fortranOrder, shape } = parseNpyHeader(headerText, source);
  if (shape.length !== 2) {
    throw new Error(
      `${source}: expected a 2-D array [chain, draw], got shape (${shape.join(', ')})`,
    );
  }
  const order = descr[0];
  const code = descr.slice(1);
  const reader = NPY_READERS[code];
  if (reader === undefined || (order !== '<' && order !== '>' && order !== '|')) {
    throw new Error(
      `${source}: unsupported dtype '${descr}' (expected float64, float32 or an integer type)`,
    );
  }
  const littleEndian = order !== '>';
  const [rows, cols] = shape as [number, number];
  const needed = rows * cols * reader.size;
  if (bytes.length - dataStart < needed) {
    throw new Error(
      `${source}: truncated .npy data, shape (${rows}, ${cols}) of '${descr}' needs ${needed} ` +
        `bytes, file has ${bytes.length - dataStart}`,
    );
  }
  const chains = Array.from({ length: rows }, () => new Float64Array(cols));
  for (let r = 0; r < rows; r++) {
    const chain = chains[r]!;
    for (let c = 0; c < cols; c++) {
      const index = fortranOrder ? c * rows + r : r * cols + c;
      chain[c] = reader.read(view, dataStart + index * reader.size, littleEndian);
    }
  }
  return requireRectangular(chains, source);
}
