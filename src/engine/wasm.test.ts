import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { relErr } from './testing/compare.js';
import { CASES, randArray, rng, type Case } from './testing/cases.js';
import { createModel, relaxedSimdSupported } from './index.js';
import type { MlpSpec, NetworkModel } from './types.js';
import { instantiateKernels } from './wasm-kernels.js';
import { WasmModel } from './wasm-model.js';

function pair(c: Case, dtype: 'float64' | 'float32' = 'float64'): { ts: NetworkModel; wasm: NetworkModel; theta: Float64Array } {
  const rnd = rng(c.n * 31 + c.sizes.length);
  const inDim = c.sizes[0]!;
  const outDim = c.sizes[c.sizes.length - 1]!;
  const data = { n: c.n, inDim, outDim, X: randArray(c.n * inDim, rnd), Y: randArray(c.n * outDim, rnd) };
  const spec: MlpSpec = { sizes: c.sizes, activation: c.activation, bias: c.bias, layerNorm: c.layerNorm };
  const loss = c.loss ?? { kind: 'mse' };
  const ts = createModel({ spec, data, loss, dtype: 'float64', impl: 'ts' });
  const wasm = createModel({ spec, data, loss, dtype, impl: 'wasm' });
  const theta = randArray(ts.dim, rnd, 1);
  return { ts, wasm, theta };
}

describe('wasm engine agrees with the TypeScript reference (f64, <= 1e-12)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const { ts, wasm, theta } = pair(c);
      expect(wasm.impl).toBe('wasm');
      const rows = c.rows ? Int32Array.from(c.rows) : undefined;
      const g1 = new Float64Array(ts.dim);
      const g2 = new Float64Array(ts.dim);
      const l1 = ts.lossAndGrad(theta, g1, rows);
      const l2 = wasm.lossAndGrad(theta, g2, rows);
      expect(Math.abs(l2 - l1) / Math.abs(l1)).toBeLessThan(1e-12);
      expect(relErr(g2, g1)).toBeLessThan(1e-12);
      // Every layer's gradient is non-trivial, so a dropped block would show.
      expect(g1.some((v) => v !== 0)).toBe(true);
      expect(Math.abs(wasm.loss(theta, rows) - l1) / Math.abs(l1)).toBeLessThan(1e-12);
      const rnd = rng(3);
      const Xp = randArray(11 * c.sizes[0]!, rnd);
      expect(relErr(wasm.predict(theta, Xp, 11), ts.predict(theta, Xp, 11))).toBeLessThan(1e-12);
      // Repeated calls give identical results: no state leaks between evaluations.
      const g3 = new Float64Array(ts.dim);
      wasm.loss(theta.map((t) => t * 0.5));
      expect(wasm.lossAndGrad(theta, g3, rows)).toBe(l2);
      expect(g3).toEqual(g2);
      ts.dispose();
      wasm.dispose();
    });
  }

  it('float32 kernels agree with the f64 reference to f32 tolerance on awkward shapes', () => {
    for (const c of CASES) {
      const { ts, wasm, theta } = pair(c, 'float32');
      const rows = c.rows ? Int32Array.from(c.rows) : undefined;
      const g1 = new Float64Array(ts.dim);
      const g2 = new Float64Array(ts.dim);
      const l1 = ts.lossAndGrad(theta, g1, rows);
      const l2 = wasm.lossAndGrad(theta, g2, rows);
      expect(Math.abs(l2 - l1) / Math.abs(l1), c.name).toBeLessThan(1e-4);
      expect(relErr(g2, g1), c.name).toBeLessThan(1e-3);
      ts.dispose();
      wasm.dispose();
    }
  });
});

describe('vector tanh kernel', () => {
  it('matches Math.tanh across magnitudes, signed zeros, saturation and NaN', () => {
    const k = instantiateKernels('simd');
    const n = 20001;
    const x = new Float64Array(n);
    const rnd = rng(17);
    for (let i = 0; i < n; i++) x[i] = (i % 2 ? -1 : 1) * Math.exp(30 * rnd()); // 3e-7 .. 3e6
    x.set([0, -0, 1e-300, -5e-324, 0.34657359027997264, 19.9, 20.1, -700, NaN, Infinity, -Infinity]);
    const p = 65536;
    const deriv = p + n * 8;
    k.memory.grow(Math.ceil((deriv + n * 8) / 65536));
    new Float64Array(k.memory.buffer, p, n).set(x);
    k.hidden_fwd_f64(p, 0, 1, n, 2, deriv, 0, 0);
    const t = new Float64Array(k.memory.buffer, p, n);
    const d = new Float64Array(k.memory.buffer, deriv, n);
    let maxRel = 0;
    for (let i = 0; i < n; i++) {
      const want = Math.tanh(x[i]!);
      if (Number.isNaN(want)) {
        expect(t[i]).toBeNaN();
        continue;
      }
      expect(Object.is(t[i], want) || want !== 0).toBe(true); // keeps the sign of zero
      if (want !== 0) maxRel = Math.max(maxRel, Math.abs(t[i]! - want) / Math.abs(want));
      expect(Math.abs(d[i]! - (1 - want * want))).toBeLessThan(1e-15);
    }
    expect(maxRel).toBeLessThan(2e-15);
  });
});

describe('wasm model lifecycle', () => {
  it('models own their memory: many instances, interleaved use, dispose', () => {
    const c = CASES[0]!;
    const first = pair(c);
    const g = new Float64Array(first.ts.dim);
    const want = first.wasm.lossAndGrad(first.theta, g);
    const others: NetworkModel[] = [];
    for (let i = 0; i < 30; i++) others.push(pair({ ...c, n: 50 + i }).wasm);
    for (const o of others) o.loss(new Float64Array(o.dim).fill(0.1));
    expect(first.wasm.lossAndGrad(first.theta, g)).toBe(want);
    for (const o of others) o.dispose();
    first.wasm.dispose();
    expect(() => first.wasm.loss(first.theta)).toThrow(/disposed/);
  });

  it('grows memory for a large dataset at creation', () => {
    const n = 20000;
    const rnd = rng(1);
    const model = createModel({
      spec: { sizes: [8, 64, 1], activation: 'relu', bias: true, layerNorm: false },
      data: { n, inDim: 8, outDim: 1, X: randArray(n * 8, rnd), Y: randArray(n, rnd) },
      loss: { kind: 'mse' },
      dtype: 'float64',
      impl: 'wasm',
    });
    const theta = randArray(model.dim, rnd, 0.5);
    const g = new Float64Array(model.dim);
    expect(Number.isFinite(model.lossAndGrad(theta, g))).toBe(true);
    model.dispose();
  });

  it("impl 'wasm' runs the wasm kernels, in the variant this runtime supports", () => {
    const m = createModel({
      spec: { sizes: [2, 3, 1], activation: 'relu', bias: true, layerNorm: false },
      data: { n: 2, inDim: 2, outDim: 1, X: new Float64Array(4), Y: new Float64Array(2) },
      loss: { kind: 'mse' },
      dtype: 'float64',
      impl: 'wasm',
    });
    expect(m.impl).toBe('wasm');
    expect(m).toBeInstanceOf(WasmModel);
    expect(m.kernels).toBe(relaxedSimdSupported() ? 'wasm-relaxed' : 'wasm-simd');
    m.dispose();
  });
});

describe('kernel variant choice', () => {
  const opts = {
    spec: { sizes: [3, 5, 2], activation: 'tanh' as const, bias: true, layerNorm: false },
    data: { n: 4, inDim: 3, outDim: 2, X: new Float64Array(12).fill(0.5), Y: new Float64Array(8) },
    loss: { kind: 'mse' as const },
    dtype: 'float64' as const,
  };
  it("wasmKernels 'simd' pins the plain-SIMD build", () => {
    const m = createModel({ ...opts, impl: 'wasm', wasmKernels: 'simd' }) as WasmModel;
    expect(m.variant).toBe('simd');
    expect(m.kernels).toBe('wasm-simd');
    m.dispose();
  });
  it('with relaxed SIMD enabled (as every entry point and the test setup do), models use the fused multiply-add build by default', () => {
    expect(relaxedSimdSupported()).toBe(true);
    const m = createModel({ ...opts, impl: 'wasm' }) as WasmModel;
    expect(m.variant).toBe('relaxed');
    m.dispose();
    const pinned = createModel({ ...opts, impl: 'wasm', wasmKernels: 'relaxed' }) as WasmModel;
    expect(pinned.variant).toBe('relaxed');
    pinned.dispose();
  });
});

describe('relaxed-SIMD build', () => {
  it('is not switched on by importing the engine, is by enableRelaxedSimd in a fresh process, and agrees with the reference', () => {
    // Node 20 validates relaxed SIMD only behind a flag, which every entry point sets before any
    // work (enableRelaxedSimd); importing the engine has no such side effect. A fresh process (as
    // the process executor and SLURM jobs start) that calls it ends up on the same build.
    const dir = mkdtempSync(join(tmpdir(), 'lh-relaxed-'));
    const index = fileURLToPath(new URL('./index.ts', import.meta.url));
    const script = join(dir, 'check.mts');
    writeFileSync(
      script,
      `import { createModel, enableRelaxedSimd, relaxedSimdSupported } from ${JSON.stringify(index)};
const before = relaxedSimdSupported();
enableRelaxedSimd();
const sizes = [5, 37, 19, 3], n = 70;
let s = 9;
const r = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 4294967296 - 0.5);
const data = { n, inDim: 5, outDim: 3, X: Float64Array.from({ length: n * 5 }, r), Y: Float64Array.from({ length: n * 3 }, r) };
const spec = { sizes, activation: 'tanh', bias: true, layerNorm: true };
const out = { before, relaxed: relaxedSimdSupported(), variant: '', err64: 0, err32: 0 };
const ts = createModel({ spec, data, loss: { kind: 'mse' }, dtype: 'float64', impl: 'ts' });
const th = Float64Array.from({ length: ts.dim }, r);
const g0 = new Float64Array(ts.dim); ts.lossAndGrad(th, g0);
const scale = Math.max(...g0.map(Math.abs));
for (const dtype of ['float64', 'float32']) {
  const m = createModel({ spec, data, loss: { kind: 'mse' }, dtype, impl: 'wasm' });
  out.variant = m.variant;
  const g = new Float64Array(m.dim); m.lossAndGrad(th, g);
  out[dtype === 'float64' ? 'err64' : 'err32'] = Math.max(...g.map((v, i) => Math.abs(v - g0[i]))) / scale;
}
console.log(JSON.stringify(out));
`,
    );
    try {
      const res = spawnSync(process.execPath, ['--import', 'tsx', script], {
        encoding: 'utf8',
        env: process.env,
      });
      expect(res.status, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as {
        before: boolean;
        relaxed: boolean;
        variant: string;
        err64: number;
        err32: number;
      };
      expect(out.before).toBe(false);
      expect(out.relaxed).toBe(true);
      expect(out.variant).toBe('relaxed');
      // Fused multiply-add rounds differently, so agreement is to rounding, not bit-for-bit.
      expect(out.err64).toBeLessThan(1e-12);
      expect(out.err32).toBeLessThan(1e-3);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
