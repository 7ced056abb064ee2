import { spawnSync } from 'node:child_process';
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createModel, defaultEngine } from './index.js';
import type { NativeAddon } from './native-addon.js';
import { NativeModel } from './native-model.js';
import { CASES, randArray, rng, type Case } from './testing/cases.js';
import { relErr } from './testing/compare.js';
import { nativeOrExplain } from './testing/native.js';
import { gradientProbe } from './testing/probe.js';
import type { CreateModelOptions, DType, MlpSpec, NativeKernels, NetworkModel } from './types.js';

function optionsOf(c: Case): Omit<CreateModelOptions, 'dtype'> {
  const rnd = rng(c.n * 31 + c.sizes.length);
  const inDim = c.sizes[0]!;
  const outDim = c.sizes[c.sizes.length - 1]!;
  const data = { n: c.n, inDim, outDim, X: randArray(c.n * inDim, rnd), Y: randArray(c.n * outDim, rnd) };
  const spec: MlpSpec = { sizes: c.sizes, activation: c.activation, bias: c.bias, layerNorm: c.layerNorm };
  return { spec, data, loss: c.loss ?? { kind: 'mse' } };
}

function thetaFor(model: NetworkModel, seed: number): Float64Array {
  return randArray(model.dim, rng(seed), 1);
}

const addon = nativeOrExplain();
const KERNELS: readonly NativeKernels[] = addon?.supported ?? [];

describe.runIf(addon !== null)('native engine', () => {
  const native = addon as NativeAddon;

  describe.each(KERNELS)('kernels %s agree with the TypeScript and wasm engines', (kernels) => {
    for (const c of CASES) {
      it(`${c.name} (f64 <= 1e-12, f32 to f32 rounding)`, () => {
        const opts = optionsOf(c);
        const rows = c.rows ? Int32Array.from(c.rows) : undefined;
        const ts = createModel({ ...opts, dtype: 'float64', impl: 'ts' });
        const wasm = createModel({ ...opts, dtype: 'float64', impl: 'wasm' });
        const m64 = createModel({ ...opts, dtype: 'float64', impl: 'native', nativeKernels: kernels });
        const m32 = createModel({ ...opts, dtype: 'float32', impl: 'native', nativeKernels: kernels });
        expect(m64).toBeInstanceOf(NativeModel);
        expect([m64.impl, m64.kernels]).toEqual(['native', kernels]);
        const theta = thetaFor(ts, c.n + 5);
        const gTs = new Float64Array(ts.dim);
        const gWasm = new Float64Array(ts.dim);
        const g64 = new Float64Array(ts.dim);
        const g32 = new Float64Array(ts.dim);
        const lTs = ts.lossAndGrad(theta, gTs, rows);
        const lWasm = wasm.lossAndGrad(theta, gWasm, rows);
        const l64 = m64.lossAndGrad(theta, g64, rows);
        const l32 = m32.lossAndGrad(theta, g32, rows);
        expect(gTs.some((v) => v !== 0)).toBe(true);
        expect(Math.abs(l64 - lTs) / Math.abs(lTs)).toBeLessThan(1e-12);
        expect(relErr(g64, gTs)).toBeLessThan(1e-12);
        expect(Math.abs(l64 - lWasm) / Math.abs(lWasm)).toBeLessThan(1e-12);
        expect(relErr(g64, gWasm)).toBeLessThan(1e-12);
        expect(Math.abs(l32 - lTs) / Math.abs(lTs)).toBeLessThan(1e-4);
        expect(relErr(g32, gTs)).toBeLessThan(1e-3);
        expect(Math.abs(m64.loss(theta, rows) - l64)).toBeLessThanOrEqual(1e-15 * Math.abs(l64));
        const Xp = randArray(11 * c.sizes[0]!, rng(3));
        expect(relErr(m64.predict(theta, Xp, 11), ts.predict(theta, Xp, 11))).toBeLessThan(1e-12);
        expect(relErr(m32.predict(theta, Xp, 11), ts.predict(theta, Xp, 11))).toBeLessThan(1e-4);
        // Repeated calls give identical bits: nothing leaks from one evaluation into the next.
        m64.loss(theta.map((t) => t * 0.5));
        const again = new Float64Array(ts.dim);
        expect(m64.lossAndGrad(theta, again, rows)).toBe(l64);
        expect(again).toEqual(g64);
        for (const m of [ts, wasm, m64, m32]) m.dispose();
      });
    }
  });

  describe('gemm against a direct sum, every kernel build and layout', () => {
    // Sizes around every build's register tile (4-12 rows, 4-32 columns) and blocking
    // (mc 64 / 96 rows, kc 256 deep), mixed with arbitrary ones.
    const dimOf = (edges: number[], max: number) => fc.oneof(fc.constantFrom(...edges), fc.integer({ min: 1, max }));
    const shape = fc.record({
      M: dimOf([1, 4, 5, 6, 7, 12, 13, 64, 65, 96, 97], 110),
      N: dimOf([1, 2, 4, 5, 8, 9, 16, 17, 32, 33], 50),
      K: dimOf([1, 2, 3, 255, 256, 257], 300),
      // Each operand row-major, column-major, or with gaps between all elements (strides >= 2,
      // the general packing paths).
      layoutA: fc.constantFrom('rows', 'cols', 'gaps'),
      layoutB: fc.constantFrom('rows', 'cols', 'gaps'),
      padA: fc.integer({ min: 0, max: 3 }),
      padB: fc.integer({ min: 0, max: 3 }),
      padC: fc.integer({ min: 0, max: 3 }),
      accumulate: fc.boolean(),
    });
    for (const kernels of KERNELS) {
      for (const single of [false, true]) {
        it(`${kernels} ${single ? 'f32' : 'f64'}`, () => {
          fc.assert(
            fc.property(shape, fc.integer({ min: 1, max: 2 ** 30 }), (s, seed) => {
              const rnd = rng(seed);
              const { M, N, K } = s;
              const strides = (layout: string, rows: number, cols: number, pad: number): [number, number] =>
                layout === 'cols' ? [1, rows + pad] : layout === 'rows' ? [cols + pad, 1] : [2 * (cols + pad), 2];
              const [rsa, csa] = strides(s.layoutA, M, K, s.padA);
              const [rsb, csb] = strides(s.layoutB, K, N, s.padB);
              const ldc = N + s.padC;
              const Arr = single ? Float32Array : Float64Array;
              // Padding holds NaN: reading it into any result shows up.
              const A = new Arr((M - 1) * rsa + (K - 1) * csa + 1).fill(NaN);
              const B = new Arr((K - 1) * rsb + (N - 1) * csb + 1).fill(NaN);
              const C = new Arr((M - 1) * ldc + N).fill(-7);
              for (let i = 0; i < M; i++) for (let k = 0; k < K; k++) A[i * rsa + k * csa] = rnd();
              for (let k = 0; k < K; k++) for (let j = 0; j < N; j++) B[k * rsb + j * csb] = rnd();
              for (let i = 0; i < M; i++) for (let j = 0; j < N; j++) C[i * ldc + j] = rnd();
              const C0 = Float64Array.from(C);
              native.gemm(kernels, single, M, N, K, A, rsa, csa, B, rsb, csb, C, ldc, s.accumulate);
              // Rounding of any summation order is bounded by (K + 1) u sum |a b| (+ |c0|).
              const u = single ? 2 ** -24 : 2 ** -53;
              for (let i = 0; i < M; i++) {
                for (let j = 0; j < N; j++) {
                  let sum = 0;
                  let abs = s.accumulate ? Math.abs(C0[i * ldc + j]!) : 0;
                  for (let k = 0; k < K; k++) {
                    const p = A[i * rsa + k * csa]! * B[k * rsb + j * csb]!;
                    sum += p;
                    abs += Math.abs(p);
                  }
                  const want = s.accumulate ? C0[i * ldc + j]! + sum : sum;
                  const got = C[i * ldc + j]!;
                  if (!(Math.abs(got - want) <= (K + 2) * u * abs * 2 + 1e-300)) {
                    throw new Error(`C[${i},${j}] = ${got}, want ${want} (${JSON.stringify(s)})`);
                  }
                }
                for (let j = N; j < ldc && i * ldc + j < C.length; j++) {
                  if (C[i * ldc + j] !== -7) throw new Error(`padding C[${i},${j}] was written (${JSON.stringify(s)})`);
                }
              }
            }),
            { seed: 42, numRuns: 120 },
          );
        });
      }
    }
  });

  it('is the default engine, with the best kernel build this CPU runs', () => {
    const c = CASES[0]!;
    const m = createModel({ ...optionsOf(c), dtype: 'float64' });
    expect(m.impl).toBe('native');
    expect(m.kernels).toBe(native.kernels);
    expect(native.supported[0]).toBe(native.kernels);
    expect(defaultEngine()).toEqual({ impl: 'native', kernels: native.kernels });
    m.dispose();
  });

  it('names the kernel builds it cannot run and the ones it does not know', () => {
    const opts = { ...optionsOf(CASES[0]!), dtype: 'float64' as DType, impl: 'native' as const };
    const missing = (['avx512', 'avx2', 'sse2', 'generic'] as const).find((k) => !native.supported.includes(k))!;
    expect(() => createModel({ ...opts, nativeKernels: missing })).toThrow(
      new RegExp(`nativeKernels '${missing}' cannot run on this CPU \\(it runs ${native.supported.join(', ')}\\)`),
    );
    expect(() => createModel({ ...opts, nativeKernels: 'avx9' as NativeKernels })).toThrow(/unknown nativeKernels 'avx9'/);
  });

  it('models own their memory: many instances, interleaved use, dispose', () => {
    const opts = { ...optionsOf(CASES[0]!), dtype: 'float64' as DType, impl: 'native' as const };
    const first = createModel(opts);
    const theta = thetaFor(first, 1);
    const g = new Float64Array(first.dim);
    const want = first.lossAndGrad(theta, g);
    const others = Array.from({ length: 30 }, (_, i) => createModel({ ...opts, dtype: i % 2 ? 'float32' : 'float64' }));
    for (const o of others) o.loss(new Float64Array(o.dim).fill(0.1));
    expect(first.lossAndGrad(theta, g)).toBe(want);
    for (const o of others) o.dispose();
    first.dispose();
    first.dispose();
    expect(() => first.loss(theta)).toThrow(/disposed/);
    expect(() => first.predict(theta, new Float64Array(first.spec.sizes[0]!), 1)).toThrow(/disposed/);
  });

  it('a large dataset runs in row chunks and agrees with the TypeScript engine', () => {
    const n = 20000;
    const rnd = rng(1);
    const opts = {
      spec: { sizes: [8, 40, 3], activation: 'tanh' as const, bias: true, layerNorm: true },
      data: { n, inDim: 8, outDim: 3, X: randArray(n * 8, rnd), Y: randArray(n * 3, rnd) },
      loss: { kind: 'student_t' as const, nu: 4, sigma: 0.5 },
      dtype: 'float64' as DType,
    };
    const ts = createModel({ ...opts, impl: 'ts' });
    const nat = createModel({ ...opts, impl: 'native' });
    const theta = randArray(ts.dim, rnd, 0.5);
    const g1 = new Float64Array(ts.dim);
    const g2 = new Float64Array(ts.dim);
    const l1 = ts.lossAndGrad(theta, g1);
    expect(Math.abs(nat.lossAndGrad(theta, g2) - l1) / l1).toBeLessThan(1e-12);
    expect(relErr(g2, g1)).toBeLessThan(1e-12);
    const rows = Int32Array.from({ length: 3000 }, (_, i) => (i * 7919) % n);
    expect(Math.abs(nat.lossAndGrad(theta, g2, rows) - ts.lossAndGrad(theta, g1, rows)) / l1).toBeLessThan(1e-12);
    expect(relErr(g2, g1)).toBeLessThan(1e-12);
    ts.dispose();
    nat.dispose();
  });

  // One gradient computed in a worker thread and in a fresh process: the same kernels and the
  // same bits as in this thread, which is what keeps the executors of one workflow identical.
  it('a worker thread and a fresh process choose the same kernels and compute the same bits', async () => {
    const here = gradientProbe();
    expect(here.float64.impl).toBe('native');
    expect(here.float32.kernels).toBe(native.kernels);
    const probeUrl = pathToFileURL(fileURLToPath(new URL('./testing/probe.ts', import.meta.url))).href;
    const workerCode = `
const { parentPort } = require('node:worker_threads');
(async () => {
  // Eval'd code resolves bare specifiers from the working directory (the repository).
  const { register } = await import('tsx/esm/api');
  register();
  const { gradientProbe } = await import(${JSON.stringify(probeUrl)});
  parentPort.postMessage(gradientProbe());
})().catch((e) => parentPort.postMessage({ error: String((e && e.stack) || e) }));
`;
    const fromWorker = await new Promise<unknown>((resolve, reject) => {
      const w = new Worker(workerCode, { eval: true });
      w.once('message', (m) => {
        resolve(m);
        void w.terminate();
      });
      w.once('error', reject);
    });
    expect(fromWorker).toEqual(here);

    const dir = mkdtempSync(join(tmpdir(), 'lh-native-'));
    try {
      const script = join(dir, 'probe.mts');
      writeFileSync(script, `import { gradientProbe } from ${JSON.stringify(probeUrl)};\nconsole.log(JSON.stringify(gradientProbe()));\n`);
      const res = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8' });
      expect(res.status, res.stderr).toBe(0);
      expect(JSON.parse(res.stdout.trim().split('\n').pop()!)).toEqual(here);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('without the native addon', () => {
  it('the engine falls back to wasm by default, and impl native says why it is unavailable', () => {
    // A copy of the engine sources next to a build directory holding only the wasm kernels:
    // exactly what an install whose compiler failed leaves behind.
    const dir = mkdtempSync(join(tmpdir(), 'lh-nonative-'));
    try {
      const engineDir = fileURLToPath(new URL('.', import.meta.url));
      const buildDir = fileURLToPath(new URL('../../build/', import.meta.url));
      cpSync(engineDir, join(dir, 'src', 'engine'), { recursive: true, filter: (p) => !p.endsWith('.test.ts') });
      mkdirSync(join(dir, 'build'));
      for (const f of readdirSync(buildDir).filter((f) => f.endsWith('.wasm'))) cpSync(join(buildDir, f), join(dir, 'build', f));
      const index = join(dir, 'src', 'engine', 'index.ts');
      const script = join(dir, 'probe.mts');
      writeFileSync(
        script,
        `import { createModel, defaultEngine } from ${JSON.stringify(index)};
const opts = { spec: { sizes: [2, 3, 1], activation: 'relu', bias: true, layerNorm: false },
  data: { n: 2, inDim: 2, outDim: 1, X: new Float64Array(4), Y: new Float64Array(2) }, loss: { kind: 'mse' }, dtype: 'float64' };
const m = createModel(opts);
let error = '';
try { createModel({ ...opts, impl: 'native' }); } catch (e) { error = e.message; }
console.log(JSON.stringify({ impl: m.impl, kernels: m.kernels, engine: defaultEngine(), error }));
`,
      );
      const res = spawnSync(process.execPath, ['--import', 'tsx', script], { encoding: 'utf8', cwd: fileURLToPath(new URL('../..', import.meta.url)) });
      expect(res.status, res.stderr).toBe(0);
      const out = JSON.parse(res.stdout.trim().split('\n').pop()!) as {
        impl: string;
        kernels: string;
        engine: { impl: string; nativeUnavailable?: string };
        error: string;
      };
      expect(out.impl).toBe('wasm');
      expect(out.kernels).toMatch(/^wasm-(relaxed|simd)$/);
      expect(out.engine.impl).toBe('wasm');
      expect(out.engine.nativeUnavailable).toMatch(/native addon was not built/);
      expect(out.error).toMatch(/engine impl 'native' is unavailable: the native addon was not built .*lambda_hat_native\.node/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
