/**
 * Files built byte for byte as numpy and PyTorch write them, so the readers are tested on what
 * users hand us without a Python dependency:
 * - npyBytes: numpy.save (format 1.0, header padded with spaces and '\n' to a multiple of 64);
 * - npzBytes: numpy.savez / savez_compressed (Python's zipfile, members `<key>.npy`, zip64
 *   extra field in every local header because numpy forces zip64, deflate level 6);
 * - torchSafetensors: safetensors.torch.save_file (tensors laid out by dtype alignment, then
 *   name; header in that order, padded with spaces to a multiple of 8).
 */
import { deflateRawSync } from 'node:zlib';

export type NpyDescr = '<f8' | '<f4' | '<f2' | '<i8' | '<i4' | '<u1' | '|b1';

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[n] = c >>> 0;
  }
  return t;
})();

function crc32(b: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < b.length; i++) c = CRC_TABLE[(c ^ b[i]!) & 0xff]! ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** IEEE half from a double (round to nearest even; enough for test values). */
export function toHalf(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0]!;
  const sign = (u >>> 16) & 0x8000;
  const exp = ((u >>> 23) & 0xff) - 127 + 15;
  let mant = u & 0x7fffff;
  if (exp <= 0) return sign; // test values never underflow
  if (exp >= 31) return sign | 0x7c00 | (Number.isNaN(x) ? 0x200 : 0);
  let h = sign | (exp << 10) | (mant >>> 13);
  mant &= 0x1fff;
  if (mant > 0x1000 || (mant === 0x1000 && (h & 1) === 1)) h++;
  return h;
}

/** bfloat16 bits of a double (round to nearest even), as torch converts. */
export function toBf16(x: number): number {
  const u = new Uint32Array(new Float32Array([x]).buffer)[0]!;
  if (Number.isNaN(x)) return 0x7fc0;
  return ((u + 0x7fff + ((u >>> 16) & 1)) >>> 16) & 0xffff;
}

function writeValue(view: DataView, at: number, descr: NpyDescr | string, v: number): number {
  switch (descr) {
    case '<f8': case 'F64': view.setFloat64(at, v, true); return 8;
    case '<f4': case 'F32': view.setFloat32(at, v, true); return 4;
    case '<f2': case 'F16': view.setUint16(at, toHalf(v), true); return 2;
    case 'BF16': view.setUint16(at, toBf16(v), true); return 2;
    case '<i8': case 'I64': view.setBigInt64(at, BigInt(v), true); return 8;
    case '<i4': case 'I32': view.setInt32(at, v, true); return 4;
    case '<u1': case '|b1': case 'U8': case 'BOOL': view.setUint8(at, v); return 1;
    default: throw new Error(`no writer for ${descr}`);
  }
}

const SIZE: Record<string, number> = { '<f8': 8, '<f4': 4, '<f2': 2, '<i8': 8, '<i4': 4, '<u1': 1, '|b1': 1, F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, U8: 1, BOOL: 1 };

/** numpy.save of a C-order array. */
export function npyBytes(descr: NpyDescr, shape: number[], values: ArrayLike<number>): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '${descr}', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const hlen = dict.length + 1;
  const pad = 64 - ((8 + 2 + hlen) % 64);
  const header = dict + ' '.repeat(pad) + '\n';
  const size = SIZE[descr]!;
  const out = new Uint8Array(10 + header.length + values.length * size);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const view = new DataView(out.buffer);
  view.setUint16(8, header.length, true);
  for (let i = 0; i < header.length; i++) out[10 + i] = header.charCodeAt(i);
  let at = 10 + header.length;
  for (let i = 0; i < values.length; i++) at += writeValue(view, at, descr, values[i]!);
  return out;
}

/** numpy.savez (compressed: numpy.savez_compressed) of named .npy members, in order. */
export function npzBytes(members: Record<string, Uint8Array>, compressed = false): Uint8Array {
  const parts: Uint8Array[] = [];
  const central: Uint8Array[] = [];
  let offset = 0;
  // 1980-01-01 00:00:00 in DOS format, what zipfile writes for a fixed date_time.
  const dosTime = 0;
  const dosDate = (0 << 9) | (1 << 5) | 1;
  for (const [key, raw] of Object.entries(members)) {
    const name = new TextEncoder().encode(`${key}.npy`);
    const data = compressed ? new Uint8Array(deflateRawSync(raw)) : raw;
    const crc = crc32(raw);
    const local = new Uint8Array(30 + name.length + 20);
    const lv = new DataView(local.buffer);
    lv.setUint32(0, 0x04034b50, true);
    lv.setUint16(4, 45, true); // zip64 version needed
    lv.setUint16(6, 0, true);
    lv.setUint16(8, compressed ? 8 : 0, true);
    lv.setUint16(10, dosTime, true);
    lv.setUint16(12, dosDate, true);
    lv.setUint32(14, crc, true);
    lv.setUint32(18, 0xffffffff, true);
    lv.setUint32(22, 0xffffffff, true);
    lv.setUint16(26, name.length, true);
    lv.setUint16(28, 20, true);
    local.set(name, 30);
    lv.setUint16(30 + name.length, 1, true);
    lv.setUint16(32 + name.length, 16, true);
    lv.setBigUint64(34 + name.length, BigInt(raw.length), true);
    lv.setBigUint64(42 + name.length, BigInt(data.length), true);
    const cd = new Uint8Array(46 + name.length);
    const cv = new DataView(cd.buffer);
    cv.setUint32(0, 0x02014b50, true);
    cv.setUint16(4, (3 << 8) | 45, true);
    cv.setUint16(6, 45, true);
    cv.setUint16(8, 0, true);
    cv.setUint16(10, compressed ? 8 : 0, true);
    cv.setUint16(12, dosTime, true);
    cv.setUint16(14, dosDate, true);
    cv.setUint32(16, crc, true);
    cv.setUint32(20, data.length, true);
    cv.setUint32(24, raw.length, true);
    cv.setUint16(28, name.length, true);
    cv.setUint32(38, (0o600 << 16) >>> 0, true);
    cv.setUint32(42, offset, true);
    cd.set(name, 46);
    parts.push(local, data);
    central.push(cd);
    offset += local.length + data.length;
  }
  const cdSize = central.reduce((a, b) => a + b.length, 0);
  const eocd = new Uint8Array(22);
  const ev = new DataView(eocd.buffer);
  ev.setUint32(0, 0x06054b50, true);
  ev.setUint16(8, central.length, true);
  ev.setUint16(10, central.length, true);
  ev.setUint32(12, cdSize, true);
  ev.setUint32(16, offset, true);
  const all = [...parts, ...central, eocd];
  const out = new Uint8Array(all.reduce((a, b) => a + b.length, 0));
  let at = 0;
  for (const p of all) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export interface TorchTensor {
  dtype: 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'U8' | 'BOOL';
  shape: number[];
  values: ArrayLike<number>;
}

/** safetensors.torch.save_file(state_dict, path, metadata). */
export function torchSafetensors(tensors: Record<string, TorchTensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort((a, b) => {
    const d = SIZE[tensors[b]!.dtype]! - SIZE[tensors[a]!.dtype]!;
    return d !== 0 ? d : a < b ? -1 : a > b ? 1 : 0;
  });
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  for (const name of names) {
    const t = tensors[name]!;
    const size = t.values.length * SIZE[t.dtype]!;
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  for (let i = 0; i < json.length; i++) out[8 + i] = json.charCodeAt(i);
  let at = 8 + json.length;
  for (const name of names) {
    const t = tensors[name]!;
    for (let i = 0; i < t.values.length; i++) at += writeValue(view, at, t.dtype, t.values[i]!);
  }
  return out;
}
