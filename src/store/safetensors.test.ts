import { describe, expect, it } from 'vitest';
import { decodeSafetensors, encodeSafetensors } from './safetensors.js';

describe('safetensors', () => {
  it('round-trips F64 and F32 tensors, including empty ones', () => {
    const w = Float64Array.from([1.5, -2.25, Math.PI, 1e-300, -0, 6]);
    const b = Float32Array.from([0.1, 0.2]);
    const bytes = encodeSafetensors(
      {
        'layers.0.weight': { dtype: 'F64', shape: [2, 3], data: w },
        'layers.0.bias': { dtype: 'F32', shape: [2], data: b },
        X: { dtype: 'F64', shape: [4, 0], data: new Float64Array(0) },
      },
      { format: 'lambda-hat' },
    );
    const back = decodeSafetensors(bytes);
    expect(back.metadata).toEqual({ format: 'lambda-hat' });
    expect(back.tensors['layers.0.weight']).toEqual({ dtype: 'F64', shape: [2, 3], data: w });
    expect(back.tensors['layers.0.bias']!.data).toBeInstanceOf(Float32Array);
    expect(Array.from(back.tensors['layers.0.bias']!.data)).toEqual(Array.from(b));
    expect(back.tensors.X!.shape).toEqual([4, 0]);
    expect(Object.is(back.tensors['layers.0.weight']!.data[4], -0)).toBe(true);
  });

  it('writes the layout the format specifies: LE u64 header length, sorted keys, space padding, aligned data', () => {
    const bytes = encodeSafetensors({
      b: { dtype: 'F64', shape: [1], data: Float64Array.of(1) },
      a: { dtype: 'F32', shape: [1], data: Float64Array.of(2) },
    });
    const view = new DataView(bytes.buffer, bytes.byteOffset);
    const hlen = Number(view.getBigUint64(0, true));
    expect((8 + hlen) % 8).toBe(0);
    const header = new TextDecoder().decode(bytes.subarray(8, 8 + hlen));
    expect(header.trimEnd()).toBe('{"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},"b":{"dtype":"F64","shape":[1],"data_offsets":[4,12]}}');
    expect(/^ *$/.test(header.slice(header.trimEnd().length))).toBe(true);
    expect(bytes.length).toBe(8 + hlen + 12);
    expect(view.getFloat32(8 + hlen, true)).toBe(2);
    expect(view.getFloat64(8 + hlen + 4, true)).toBe(1);
  });

  it('is deterministic: the same tensors in any insertion order give the same bytes', () => {
    const t1 = { dtype: 'F64' as const, shape: [2], data: Float64Array.of(1, 2) };
    const t2 = { dtype: 'F64' as const, shape: [1], data: Float64Array.of(3) };
    expect(encodeSafetensors({ x: t1, y: t2 })).toEqual(encodeSafetensors({ y: t2, x: t1 }));
  });

  it('rejects bad shapes and corrupt files', () => {
    expect(() => encodeSafetensors({ x: { dtype: 'F64', shape: [3], data: new Float64Array(2) } })).toThrow(/2 values but shape \[3\]/);
    const good = encodeSafetensors({ x: { dtype: 'F64', shape: [2], data: Float64Array.of(1, 2) } });
    expect(() => decodeSafetensors(good.subarray(0, 5), 'f')).toThrow(/f: truncated/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 8), 'f')).toThrow(/f: truncated: tensor x ends at byte 80 but the file has 72 bytes/);
    const badHeader = Uint8Array.from(good);
    badHeader[8] = 0x5b; // '[' breaks the JSON object
    expect(() => decodeSafetensors(badHeader, 'f')).toThrow(/header is not valid JSON/);
  });
});
