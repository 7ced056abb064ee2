/**
 * NumPy's .npy format (versions 1-3), any number of dimensions: the magic `\x93NUMPY`, a
 * version, a header length, a Python dict literal `{'descr': '<f8', 'fortran_order': False,
 * 'shape': (100, 3), }`, then the raw values. Values come back in C (row-major) order as
 * float64, whatever the stored type; `kind` keeps whether they were floats, signed or unsigned
 * integers or booleans (a label vector is told from a target vector by it).
 */

export type NpyKind = 'f' | 'i' | 'u' | 'b';

export interface NpyArray {
  /** The dtype as numpy wrote it, e.g. '<f8', '<i8', '|b1'. */
  descr: string;
  kind: NpyKind;
  shape: number[];
  /** Row-major values. int64 beyond 2^53 lose precision (labels and sizes never get there). */
  data: Float64Array;
}

interface NpyHeader {
  descr: string;
  fortranOrder: boolean;
  shape: number[];
}

function parseHeader(header: string, source: string): NpyHeader {
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
  if (shape.some((d) => !Number.isInteger(d) || d < 0)) throw new Error(`${source}: malformed .npy shape (${shapeText})`);
  return { descr, fortranOrder: fortran === 'True', shape };
}

type Reader = (view: DataView, offset: number, littleEndian: boolean) => number;

function halfToFloat(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const f = h & 0x3ff;
  if (e === 0) return s * f * 2 ** -24;
  if (e === 31) return f === 0 ? s * Infinity : NaN;
  return s * (1 + f / 1024) * 2 ** (e - 15);
}

const READERS: Record<string, { size: number; kind: NpyKind; read: Reader }> = {
  f8: { size: 8, kind: 'f', read: (v, o, le) => v.getFloat64(o, le) },
  f4: { size: 4, kind: 'f', read: (v, o, le) => v.getFloat32(o, le) },
  f2: { size: 2, kind: 'f', read: (v, o, le) => halfToFloat(v.getUint16(o, le)) },
  i8: { size: 8, kind: 'i', read: (v, o, le) => Number(v.getBigInt64(o, le)) },
  i4: { size: 4, kind: 'i', read: (v, o, le) => v.getInt32(o, le) },
  i2: { size: 2, kind: 'i', read: (v, o, le) => v.getInt16(o, le) },
  i1: { size: 1, kind: 'i', read: (v, o) => v.getInt8(o) },
  u8: { size: 8, kind: 'u', read: (v, o, le) => Number(v.getBigUint64(o, le)) },
  u4: { size: 4, kind: 'u', read: (v, o, le) => v.getUint32(o, le) },
  u2: { size: 2, kind: 'u', read: (v, o, le) => v.getUint16(o, le) },
  u1: { size: 1, kind: 'u', read: (v, o) => v.getUint8(o) },
  b1: { size: 1, kind: 'b', read: (v, o) => v.getUint8(o) },
};

export { halfToFloat };

/** Parses a .npy buffer; `source` names it in errors (a path, or `file.npz: X.npy`). */
export function decodeNpy(bytes: Uint8Array, source: string): NpyArray {
  const magic = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59];
  if (bytes.length < 10 || magic.some((b, i) => bytes[i] !== b)) throw new Error(`${source}: not a .npy file (bad magic bytes)`);
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
  const text = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(headerStart, dataStart));
  const { descr, fortranOrder, shape } = parseHeader(text, source);
  const order = descr[0];
  const reader = READERS[descr.slice(1)];
  if (reader === undefined || (order !== '<' && order !== '>' && order !== '|')) {
    throw new Error(`${source}: unsupported dtype '${descr}' (expected a float, integer or bool type; object arrays need pickle)`);
  }
  const count = shape.reduce((a, b) => a * b, 1);
  const needed = count * reader.size;
  if (bytes.length - dataStart < needed) {
    throw new Error(
      `${source}: truncated .npy data, shape (${shape.join(', ')}) of '${descr}' needs ${needed} bytes, file has ${bytes.length - dataStart}`,
    );
  }
  const le = order !== '>';
  const data = new Float64Array(count);
  if (!fortranOrder || shape.length < 2) {
    for (let i = 0; i < count; i++) data[i] = reader.read(view, dataStart + i * reader.size, le);
  } else {
    // Fortran order: the first index varies fastest; walk the C-order index and map it.
    const strides = new Array<number>(shape.length);
    let s = 1;
    for (let k = 0; k < shape.length; k++) {
      strides[k] = s;
      s *= shape[k]!;
    }
    const idx = new Array<number>(shape.length).fill(0);
    for (let i = 0; i < count; i++) {
      let f = 0;
      for (let k = 0; k < shape.length; k++) f += idx[k]! * strides[k]!;
      data[i] = reader.read(view, dataStart + f * reader.size, le);
      for (let k = shape.length - 1; k >= 0; k--) {
        if (++idx[k]! < shape[k]!) break;
        idx[k] = 0;
      }
    }
  }
  return { descr, kind: reader.kind, shape, data };
}
