/**
 * safetensors, by hand: 8-byte little-endian header length N, N bytes of JSON header
 * `{name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__"?: {str: str}}`, then the
 * raw little-endian tensor bytes. We write keys sorted and data in key order, and pad the
 * header with spaces to a multiple of 8 bytes, so identical tensors give identical files and
 * the data is 8-byte aligned for zero-copy readers.
 */

import { halfToFloat } from '../io/npy.js';

/** The dtypes we write. */
export type SafeDType = 'F64' | 'F32';
/** The dtypes we read (PyTorch writes all of these); non-F64/F32 values come back as float64. */
export type ReadDType = SafeDType | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

export interface Tensor {
  dtype: ReadDType;
  shape: number[];
  /** Row-major values; Float64 values are rounded to f32 when dtype is F32. */
  data: Float64Array | Float32Array;
}

export interface SafetensorsFile {
  tensors: Record<string, Tensor>;
  metadata?: Record<string, string>;
}

const BYTES: Record<SafeDType, number> = { F64: 8, F32: 4 };

type Reader = (view: DataView, offset: number) => number;
const READ: Record<Exclude<ReadDType, SafeDType>, { size: number; read: Reader }> = {
  F16: { size: 2, read: (v, o) => halfToFloat(v.getUint16(o, true)) },
  // bfloat16 is the top half of a float32.
  BF16: { size: 2, read: (v, o) => new Float32Array(new Uint32Array([v.getUint16(o, true) << 16]).buffer)[0]! },
  I64: { size: 8, read: (v, o) => Number(v.getBigInt64(o, true)) },
  I32: { size: 4, read: (v, o) => v.getInt32(o, true) },
  I16: { size: 2, read: (v, o) => v.getInt16(o, true) },
  I8: { size: 1, read: (v, o) => v.getInt8(o) },
  U8: { size: 1, read: (v, o) => v.getUint8(o) },
  BOOL: { size: 1, read: (v, o) => v.getUint8(o) },
};

/** Bytes per element of a dtype we read, or undefined. */
function widthOf(dtype: string): number | undefined {
  if (dtype === 'F64' || dtype === 'F32') return BYTES[dtype];
  return (READ as Record<string, { size: number }>)[dtype]?.size;
}

/** True for the floating-point dtypes (a label tensor is told from a target tensor by this). */
export function isFloatDType(dtype: ReadDType): boolean {
  return dtype === 'F64' || dtype === 'F32' || dtype === 'F16' || dtype === 'BF16';
}

function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

export function encodeSafetensors(tensors: Record<string, Tensor>, metadata?: Record<string, string>): Uint8Array {
  const names = Object.keys(tensors).sort();
  const header: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) {
    const md: Record<string, string> = {};
    for (const k of Object.keys(metadata).sort()) md[k] = String(metadata[k]);
    header.__metadata__ = md;
  }
  let offset = 0;
  for (const name of names) {
    if (name === '__metadata__') throw new Error("safetensors: '__metadata__' is reserved, not a tensor name");
    const t = tensors[name]!;
    if (t.dtype !== 'F64' && t.dtype !== 'F32') throw new Error(`safetensors: tensor ${name} has unsupported dtype ${String(t.dtype)}`);
    if (!t.shape.every((s) => Number.isInteger(s) && s >= 0)) {
      throw new Error(`safetensors: tensor ${name} has an invalid shape ${JSON.stringify(t.shape)}`);
    }
    const count = numel(t.shape);
    if (t.data.length !== count) {
      throw new Error(`safetensors: tensor ${name} has ${t.data.length} values but shape ${JSON.stringify(t.shape)} needs ${count}`);
    }
    const size = count * BYTES[t.dtype];
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + size] };
    offset += size;
  }
  const json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil((8 + json.length) / 8) * 8 - 8;
  const out = new Uint8Array(8 + padded + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(padded), true);
  out.set(json, 8);
  out.fill(0x20, 8 + json.length, 8 + padded);
  let pos = 8 + padded;
  for (const name of names) {
    const t = tensors[name]!;
    const n = t.data.length;
    if (t.dtype === 'F64') {
      for (let i = 0; i < n; i++, pos += 8) view.setFloat64(pos, t.data[i]!, true);
    } else {
      for (let i = 0; i < n; i++, pos += 4) view.setFloat32(pos, t.data[i]!, true);
    }
  }
  return out;
}

/** What a file that is not safetensors most likely is, for the error message. */
function notSafetensors(buf: Uint8Array, label: string, why: string): Error {
  const zip = buf[0] === 0x50 && buf[1] === 0x4b;
  const pickle = buf[0] === 0x80 && buf.length > 1 && buf[1]! <= 5;
  const hint = zip
    ? ' (it is a zip archive, as torch.save writes: save the weights with safetensors.torch.save_file(model.state_dict(), path))'
    : pickle
      ? ' (it is a Python pickle: save the weights with safetensors.torch.save_file(model.state_dict(), path))'
      : '';
  return new Error(`${label}: truncated or not a safetensors file: ${why}${hint}`);
}

/**
 * Parses a safetensors buffer. F32 tensors come back as Float32Array, F64 as Float64Array, every
 * other dtype (F16, BF16, integers, BOOL) as Float64Array (copies, so the result does not keep
 * the file buffer alive or depend on its alignment). The tensor's `dtype` says what was stored.
 */
export function decodeSafetensors(buf: Uint8Array, label = 'safetensors file'): SafetensorsFile {
  if (buf.length < 8) throw notSafetensors(buf, label, `${buf.length} bytes, no header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const hlen = view.getBigUint64(0, true);
  if (hlen > BigInt(buf.length - 8)) throw notSafetensors(buf, label, `header length ${hlen} exceeds the file size ${buf.length}`);
  const n = Number(hlen);
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n))) as Record<string, unknown>;
  } catch (err) {
    throw notSafetensors(buf, label, `header is not valid JSON (${(err as Error).message})`);
  }
  const dataStart = 8 + n;
  const dataLen = buf.length - dataStart;
  const tensors: Record<string, Tensor> = {};
  let metadata: Record<string, string> | undefined;
  for (const [name, entry] of Object.entries(header)) {
    if (name === '__metadata__') {
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: string; shape?: number[]; data_offsets?: [number, number] };
    const width = widthOf(String(e.dtype));
    if (width === undefined) {
      throw new Error(`${label}: tensor ${name} has unsupported dtype ${String(e.dtype)} (expected F64, F32, F16, BF16 or an integer type)`);
    }
    if (!Array.isArray(e.shape) || !Array.isArray(e.data_offsets)) throw new Error(`${label}: tensor ${name} lacks shape or data_offsets`);
    const [begin, end] = e.data_offsets;
    const count = numel(e.shape);
    if (end > dataLen && end - begin === count * width) {
      throw new Error(`${label}: truncated: tensor ${name} ends at byte ${dataStart + end} but the file has ${buf.length} bytes`);
    }
    if (!(begin >= 0 && end >= begin && end <= dataLen) || end - begin !== count * width) {
      throw new Error(`${label}: tensor ${name} has data_offsets [${begin}, ${end}] inconsistent with shape ${JSON.stringify(e.shape)} or the file size`);
    }
    const at = dataStart + begin;
    if (e.dtype !== 'F64' && e.dtype !== 'F32') {
      const r = READ[e.dtype as Exclude<ReadDType, SafeDType>];
      const data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = r.read(view, at + r.size * i);
      tensors[name] = { dtype: e.dtype as ReadDType, shape: e.shape, data };
    } else if (e.dtype === 'F64') {
      const data = new Float64Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat64(at + 8 * i, true);
      tensors[name] = { dtype: 'F64', shape: e.shape, data };
    } else {
      const data = new Float32Array(count);
      for (let i = 0; i < count; i++) data[i] = view.getFloat32(at + 4 * i, true);
      tensors[name] = { dtype: 'F32', shape: e.shape, data };
    }
  }
  return metadata ? { tensors, metadata } : { tensors };
}
