import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeVector, Table, tableToIPC } from 'apache-arrow';
import { readModelFile } from './model-file.js';
import { readDataFile } from './data-file.js';
import { npyBytes, npzBytes, torchSafetensors, type TorchTensor } from './testing/python-bytes.js';

const dir = mkdtempSync(join(tmpdir(), 'lh-io-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Uint8Array | string): string {
  const p = join(dir, name);
  writeFileSync(p, bytes);
  return p;
}

/** nn.Sequential(Linear(3,4), ReLU(), Linear(4,2)) with weights of exact binary fractions. */
function sequential(dtype: TorchTensor['dtype'], names = ['0', '2']): Record<string, TorchTensor> {
  const v = (k: number, len: number): number[] => Array.from({ length: len }, (_, i) => (i - k) / 8);
  return {
    [`${names[0]}.weight`]: { dtype, shape: [4, 3], values: v(1, 12) },
    [`${names[0]}.bias`]: { dtype, shape: [4], values: v(2, 4) },
    [`${names[1]}.weight`]: { dtype, shape: [2, 4], values: v(3, 8) },
    [`${names[1]}.bias`]: { dtype, shape: [2], values: v(4, 2) },
  };
}

describe('model files as PyTorch writes them', () => {
  for (const dtype of ['F64', 'F32', 'F16', 'BF16'] as const) {
    it(`reads nn.Sequential of nn.Linear in ${dtype}, layers by module index`, () => {
      const p = file(`seq-${dtype}.safetensors`, torchSafetensors(sequential(dtype), { format: 'pt' }));
      const m = readModelFile(p);
      expect(m.sizes).toEqual([3, 4, 2]);
      expect(m.bias).toBe(true);
      expect(m.modules).toEqual(['0', '2']);
      expect(m.tensorNames).toEqual(['0.weight', '0.bias', '2.weight', '2.bias']);
      const t = sequential('F64');
      const flat = [t['0.weight']!, t['0.bias']!, t['2.weight']!, t['2.bias']!].flatMap((x) => Array.from(x.values));
      expect(Array.from(m.theta)).toEqual(flat);
    });
  }

  it('orders modules numerically (10 after 2) and reads lambda-hat names', () => {
    const t = sequential('F32', ['2', '10']);
    // Make the layers chain the other way if ordered as strings: '10' < '2'.
    const m = readModelFile(file('seq10.safetensors', torchSafetensors(t)));
    expect(m.modules).toEqual(['2', '10']);
    const own = readModelFile(file('own.safetensors', torchSafetensors(sequential('F64', ['layers.0', 'layers.1']))));
    expect(own.modules).toEqual(['layers.0', 'layers.1']);
  });

  it('other names: an error listing them and the --layers option; --layers maps them', () => {
    const t = sequential('F32', ['fc1', 'out']);
    const p = file('named.safetensors', torchSafetensors(t));
    expect(() => readModelFile(p)).toThrow(/fc1\.weight.*out\.bias.*--layers a,b,c/s);
    expect(readModelFile(p, { layers: ['fc1', 'out'] }).sizes).toEqual([3, 4, 2]);
  });

  it('bad model files fail naming the file and the tensor', () => {
    const t = sequential('F32');
    t['2.weight'] = { dtype: 'F32', shape: [2, 5], values: new Array(10).fill(0) };
    const mismatch = file('mismatch.safetensors', torchSafetensors(t));
    expect(() => readModelFile(mismatch)).toThrow(new RegExp(`${mismatch}: tensor 2\\.weight has shape \\[2, 5\\].*0\\) has 4 outputs`));

    const nan = sequential('F32');
    nan['0.bias'] = { dtype: 'F32', shape: [4], values: [0, NaN, 0, 0] };
    expect(() => readModelFile(file('nan.safetensors', torchSafetensors(nan)))).toThrow(/nan\.safetensors: tensor 0\.bias holds NaN at flat index 1/);

    const inf = sequential('F16');
    inf['2.weight'] = { dtype: 'F16', shape: [2, 4], values: [0, 0, Infinity, 0, 0, 0, 0, 0] };
    expect(() => readModelFile(file('inf.safetensors', torchSafetensors(inf)))).toThrow(/tensor 2\.weight holds Infinity/);

    const whole = torchSafetensors(sequential('F32'));
    const cut = file('cut.safetensors', whole.subarray(0, whole.length - 5));
    expect(() => readModelFile(cut)).toThrow(/cut\.safetensors: truncated: tensor 2\.weight ends at byte/);
    const zip = file('model.pt', npzBytes({ a: npyBytes('<f8', [1], [1]) }));
    expect(() => readModelFile(zip)).toThrow(/model\.pt: truncated or not a safetensors file.*torch\.save.*save_file/);

    const mixed = sequential('F32');
    delete mixed['2.bias'];
    expect(() => readModelFile(file('mixed.safetensors', torchSafetensors(mixed)))).toThrow(/tensor 2\.bias is missing but module 0 has bias/);

    const conv = sequential('F32');
    conv['0.weight'] = { dtype: 'F32', shape: [4, 3, 1, 1], values: new Array(12).fill(0) };
    expect(() => readModelFile(file('conv.safetensors', torchSafetensors(conv)))).toThrow(/tensor 0\.weight has shape \[4,3,1,1\].*cannot run/);
    expect(() => readModelFile(join(dir, 'absent.safetensors'))).toThrow(/absent\.safetensors: cannot read the model file \(ENOENT\)/);
  });
});

describe('data files as numpy, PyTorch and pandas write them', () => {
  const X = [0.5, -1, 2, 0.25, 3, -0.75];
  const y = [2, 0];

  it('.npz from numpy.savez and savez_compressed, int64 labels', () => {
    for (const compressed of [false, true]) {
      const p = file(`d${compressed}.npz`, npzBytes({ X: npyBytes('<f8', [2, 3], X), y: npyBytes('<i8', [2], y) }, compressed));
      const d = readDataFile(p);
      expect(d.n).toBe(2);
      expect(d.inDim).toBe(3);
      expect(Array.from(d.X)).toEqual(X);
      expect(d.target.kind).toBe('labels');
      if (d.target.kind === 'labels') expect(Array.from(d.target.labels)).toEqual(y);
    }
    const reg = readDataFile(file('reg.npz', npzBytes({ X: npyBytes('<f4', [2, 3], X), Y: npyBytes('<f4', [2, 2], [1, 2, 3, 4]) })));
    expect(reg.target.kind === 'targets' && reg.target.outDim).toBe(2);
  });

  it('.npy pairs, safetensors, CSV and Feather', () => {
    const px = file('X.npy', npyBytes('<f8', [2, 3], X));
    const py = file('y.npy', npyBytes('<i8', [2], y));
    const pair = readDataFile(`${px},${py}`);
    expect(pair.target.kind === 'labels' && Array.from(pair.target.labels)).toEqual(y);
    const st = readDataFile(file('d.safetensors', torchSafetensors({ X: { dtype: 'F32', shape: [2, 3], values: X }, y: { dtype: 'I64', shape: [2], values: y } })));
    expect(st.target.kind).toBe('labels');
    const csv = readDataFile(file('d.csv', 'a,b,c,y\n0.5,-1,2,2\n0.25,3,-0.75,0\n'));
    expect(Array.from(csv.X)).toEqual(X);
    expect(csv.target.kind === 'labels' && Array.from(csv.target.labels)).toEqual(y);
    const table = new Table({ a: makeVector(Float64Array.from([0.5, 0.25])), b: makeVector(Float64Array.from([-1, 3])), c: makeVector(Float64Array.from([2, -0.75])), y: makeVector(BigInt64Array.from([2n, 0n])) });
    const fe = readDataFile(file('d.feather', tableToIPC(table, 'file')));
    expect(Array.from(fe.X)).toEqual(X);
    expect(fe.target.kind === 'labels' && Array.from(fe.target.labels)).toEqual(y);
  });

  it('bad data files fail naming the file and the array', () => {
    const rows = file('rows.npz', npzBytes({ X: npyBytes('<f8', [2, 3], X), y: npyBytes('<i8', [3], [0, 1, 0]) }));
    expect(() => readDataFile(rows)).toThrow(/rows\.npz: y has 3 rows but .*rows\.npz: X has 2/);
    const nan = file('nan.npz', npzBytes({ X: npyBytes('<f8', [2, 3], [0, 0, NaN, 0, 0, 0]), y: npyBytes('<i8', [2], y) }));
    expect(() => readDataFile(nan)).toThrow(/nan\.npz: X holds NaN at flat index 2/);
    const neg = file('neg.npz', npzBytes({ X: npyBytes('<f8', [2, 3], X), y: npyBytes('<i8', [2], [0, -1]) }));
    expect(() => readDataFile(neg)).toThrow(/neg\.npz: y: label -1 at row 1 is negative/);
    const noX = file('nox.npz', npzBytes({ inputs: npyBytes('<f8', [2, 3], X) }));
    expect(() => readDataFile(noX)).toThrow(/nox\.npz: no array X.*inputs/);
    const whole = npzBytes({ X: npyBytes('<f8', [2, 3], X), y: npyBytes('<i8', [2], y) });
    expect(() => readDataFile(file('cut.npz', whole.subarray(0, 60)))).toThrow(/cut\.npz: not a readable \.npz archive/);
  });
});
