// `npm run bench engine`: loss + gradient throughput of the engine on workloads A-D (below),
// both dtypes, both implementations. Writes bench/results/engine.json.
//
// Hidden layers use ReLU (A-C) so the timing is dominated by the GEMMs;
// D is the deep linear network (identity, no bias). The 'ts' float32 rows are the TypeScript
// engine with Float32Array storage (its arithmetic is JS double), so they measure memory
// traffic, not f32 arithmetic. Timings on a shared 2-core machine are noisy: each cell is timed
// in several rounds and the median and best round are reported (ms_per_eval and gflops are the
// median wall time). When other processes compete for the cores, wall time overstates the cost
// of an eval; cpu_ms_per_eval / gflops_cpu count only the CPU time this process got.
import { cpus } from 'node:os';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createModel, relaxedSimdSupported } from '../src/engine/index.js';
import type { DType, EngineImpl, MlpSpec, NetworkModel } from '../src/engine/index.js';

interface Workload {
  name: string;
  spec: MlpSpec;
  n: number;
}

const WORKLOADS: Workload[] = [
  { name: 'A', spec: { sizes: [2, 64, 64, 1], activation: 'relu', bias: true, layerNorm: false }, n: 256 },
  { name: 'B', spec: { sizes: [16, 256, 256, 1], activation: 'relu', bias: true, layerNorm: false }, n: 1024 },
  { name: 'C', spec: { sizes: [64, 512, 512, 512, 10], activation: 'relu', bias: true, layerNorm: false }, n: 1024 },
  { name: 'D', spec: { sizes: [10, 10, 10, 10, 10], activation: 'identity', bias: false, layerNorm: false }, n: 10000 },
];

interface Row {
  workload: string;
  dtype: DType;
  impl: EngineImpl;
  variant: string;
  ms_per_eval: number;
  cpu_ms_per_eval: number;
  gflops: number;
  ms_best: number;
  gflops_best: number;
  /** From CPU time: what one core does when the machine is shared (see the header note). */
  gflops_cpu: number;
  rounds: number;
  evals_per_round: number;
}

function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 4294967296 - 0.5;
  };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

function timeModel(model: NetworkModel, theta: Float64Array, grad: Float64Array, budgetMs: number) {
  // Warm up (wasm tiers up from Liftoff to TurboFan, caches fill) for ~200 ms or one eval.
  const t0 = performance.now();
  let warm = 0;
  while (warm < 1 || performance.now() - t0 < 200) {
    model.lossAndGrad(theta, grad);
    warm++;
  }
  const perEval = (performance.now() - t0) / warm;
  // Up to 5 rounds of ~budget/5 each; slow cells (the TypeScript engine on C) get at least 2
  // rounds of one eval, which keeps the whole benchmark within about two minutes.
  const rounds = Math.max(2, Math.min(5, Math.floor(budgetMs / perEval)));
  const evals = Math.max(1, Math.round(budgetMs / rounds / perEval));
  const wall: number[] = [];
  const cpu: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const c0 = process.cpuUsage();
    const w0 = performance.now();
    for (let i = 0; i < evals; i++) model.lossAndGrad(theta, grad);
    const w1 = performance.now();
    const c1 = process.cpuUsage(c0);
    wall.push((w1 - w0) / evals);
    cpu.push((c1.user + c1.system) / 1000 / evals);
  }
  return { wall, cpu, evals, rounds };
}

function runCells(impls: EngineImpl[]): Row[] {
  const rows: Row[] = [];
  for (const w of WORKLOADS) {
    const rnd = lcg(7);
    const inDim = w.spec.sizes[0]!;
    const outDim = w.spec.sizes[w.spec.sizes.length - 1]!;
    const X = Float64Array.from({ length: w.n * inDim }, rnd);
    const Y = Float64Array.from({ length: w.n * outDim }, rnd);
    for (const dtype of ['float64', 'float32'] as DType[]) {
      for (const cell of cells(impls)) {
        const impl = cell.impl;
        const model = createModel({
          spec: w.spec,
          data: { n: w.n, inDim, outDim, X, Y },
          loss: { kind: 'mse' },
          dtype,
          impl,
          ...(cell.kernels ? { wasmKernels: cell.kernels } : {}),
        });
        const theta = Float64Array.from({ length: model.dim }, () => rnd() * 0.3);
        const grad = new Float64Array(model.dim);
        const flops = 6 * w.n * model.dim;
        const t = timeModel(model, theta, grad, impl === 'wasm' ? 1500 : 2500);
        const ms = median(t.wall);
        const best = Math.min(...t.wall);
        const row: Row = {
          workload: w.name,
          dtype,
          impl,
          variant: impl === 'wasm' ? ((model as { variant?: string }).variant ?? 'wasm') : 'ts',
          ms_per_eval: +ms.toFixed(4),
          cpu_ms_per_eval: +median(t.cpu).toFixed(4),
          gflops: +(flops / ms / 1e6).toFixed(3),
          ms_best: +best.toFixed(4),
          gflops_best: +(flops / best / 1e6).toFixed(3),
          gflops_cpu: +(flops / median(t.cpu) / 1e6).toFixed(3),
          rounds: t.rounds,
          evals_per_round: t.evals,
        };
        rows.push(row);
        model.dispose();
        console.error(
          `${w.name} ${dtype.padEnd(7)} ${row.variant.padEnd(7)} ${row.ms_per_eval.toFixed(3).padStart(9)} ms ` +
            `(cpu ${row.cpu_ms_per_eval.toFixed(3)}, best ${row.ms_best.toFixed(3)})  ` +
            `${row.gflops.toFixed(2).padStart(6)} GFLOP/s (best ${row.gflops_best.toFixed(2)}, by cpu ${row.gflops_cpu.toFixed(2)})`,
        );
      }
    }
  }
  return rows;
}

/** The wasm engine in both kernel builds (fused multiply-add where the runtime has it), then TS. */
function cells(impls: EngineImpl[]): { impl: EngineImpl; kernels?: 'simd' | 'relaxed' }[] {
  const out: { impl: EngineImpl; kernels?: 'simd' | 'relaxed' }[] = [];
  for (const impl of impls) {
    if (impl !== 'wasm') out.push({ impl });
    else for (const kernels of relaxedSimdSupported() ? (['relaxed', 'simd'] as const) : (['simd'] as const)) out.push({ impl, kernels });
  }
  return out;
}

export default async function main(): Promise<void> {
  const relaxed = relaxedSimdSupported();
  const rows = runCells(['wasm', 'ts']);
  const out = {
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      node: process.version,
      relaxedSimd: relaxed,
      flops_per_eval: '6 * n * dim',
      activation: 'relu for A-C, identity for D; loss mse',
      date: new Date().toISOString(),
    },
    results: rows,
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}engine.json.tmp`, JSON.stringify(out, null, 2) + '\n');
  renameSync(`${dir}engine.json.tmp`, `${dir}engine.json`);
  console.log(`wrote ${dir}engine.json`);
}
