// Sampler throughput: SGLD steps/s (batch 256, f64) on the 45-parameter (small preset:
// 4 -> [4, 4] -> 1, n = 100) and 9921-parameter (base preset: 32 -> [62, 62, 62] -> 1,
// n = 20000) networks, 1 chain and 2 chains in 2 threads, with the wasm engine (when built)
// and the naive TS engine; and full-gradient evaluations/s (what HMC spends its time on).
// Writes bench/results/samplers.json. `npm run bench samplers`.
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { keyAt, normalInto, Stream } from '../src/rng/index.js';
import { createModel } from '../src/engine/index.js';
import type { EngineImpl, NetworkModel } from '../src/engine/types.js';
import { makePosterior } from '../src/posterior/posterior.js';
import { sgldKernel } from '../src/samplers/kernels/sgld.js';
import { foldIn } from '../src/rng/index.js';

interface Net {
  name: string;
  sizes: number[];
  n: number;
}
const NETS: Net[] = [
  { name: 'small-45', sizes: [4, 4, 4, 1], n: 100 },
  { name: 'base-9921', sizes: [32, 62, 62, 62, 1], n: 20000 },
];

function model(net: Net, impl: EngineImpl): { m: NetworkModel; w: Float64Array } {
  const inDim = net.sizes[0]!;
  const X = normalInto(keyAt(1, Stream.data), new Float64Array(net.n * inDim));
  const Y = normalInto(keyAt(1, Stream.noise), new Float64Array(net.n));
  const m = createModel({ spec: { sizes: net.sizes, activation: 'relu', bias: true, layerNorm: false }, data: { n: net.n, inDim, outDim: 1, X, Y }, loss: { kind: 'mse' }, dtype: 'float64', impl });
  const w = normalInto(keyAt(1, Stream.init), new Float64Array(m.dim));
  for (let i = 0; i < w.length; i++) w[i] = w[i]! * 0.3;
  return { m, w };
}

/** SGLD steps/s of one chain for `seconds`. */
export function sgldRate(netName: string, impl: EngineImpl, seconds: number): number {
  const net = NETS.find((x) => x.name === netName)!;
  const { m, w } = model(net, impl);
  const post = makePosterior({ loss: m, wStar: w });
  const k = sgldKernel(post, { stepSize: 1e-7, batchSize: 256, precond: 'none', beta1: 0.9, beta2: 0.999, precondEps: 1e-4, malaEvery: 0 });
  let s = k.init(w, keyAt(0, 0));
  const ck = keyAt(2, Stream.chain, 0);
  let steps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    for (let j = 0; j < 20; j++) s = k.step(s, foldIn(ck, steps++)).state;
  }
  const rate = steps / ((performance.now() - t0) / 1000);
  m.dispose();
  return rate;
}

function gradRate(net: Net, impl: EngineImpl, seconds: number): number {
  const { m, w } = model(net, impl);
  const g = new Float64Array(m.dim);
  let evals = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    m.lossAndGrad(w, g);
    evals++;
  }
  const rate = evals / ((performance.now() - t0) / 1000);
  m.dispose();
  return rate;
}

async function twoChains(netName: string, impl: EngineImpl, seconds: number): Promise<number> {
  const { Piscina } = await import('piscina');
  const filename = fileURLToPath(new URL('./sgld-rate.worker.ts', import.meta.url));
  const pool = new Piscina({ filename, minThreads: 2, maxThreads: 2, execArgv: ['--import', 'tsx'] });
  try {
    const rates = (await Promise.all([0, 1].map(() => pool.run({ net: netName, impl, seconds })))) as number[];
    return rates[0]! + rates[1]!;
  } finally {
    await pool.destroy();
  }
}

export default async function samplers(): Promise<void> {
  const secs = Number(process.env.BENCH_SECONDS ?? 3);
  const rows: Record<string, unknown>[] = [];
  for (const impl of ['wasm', 'ts'] as EngineImpl[]) {
    for (const net of NETS) {
      let one: number;
      try {
        one = sgldRate(net.name, impl, secs);
      } catch (err) {
        rows.push({ net: net.name, impl, error: (err as Error).message });
        continue;
      }
      const two = await twoChains(net.name, impl, secs).catch((err: Error) => {
        console.error(`2-thread measure failed: ${err.message}`);
        return Number.NaN;
      });
      const grads = gradRate(net, impl, secs);
      const row = { net: net.name, impl, dtype: 'float64', batch: 256, n: net.n, sgld_steps_per_s_1chain: one, sgld_steps_per_s_2chains_2threads: two, full_grad_evals_per_s: grads };
      console.log(JSON.stringify(row));
      rows.push(row);
    }
  }
  const out = join(dirname(fileURLToPath(import.meta.url)), 'results', 'samplers.json');
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, `${JSON.stringify({ command: 'npm run bench samplers', seconds_per_measure: secs, note: 'HMC cost = full gradient evaluations (leapfrog steps); measured on a shared 2-core machine', rows }, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  console.log(`wrote ${out}`);
}
