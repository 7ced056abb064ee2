// `npm run bench engine` (for one-core figures: `taskset -c 0 npm run bench engine`): loss +
// gradient throughput of the engine on workloads A-D of shared/notes/engine.md and on the
// default experiment's base target (32->62->62->62->1 ReLU, n = 20000), both dtypes,
// every implementation (native in each kernel build this CPU runs, wasm in both builds, plain
// TypeScript), side by side with JAX on the same machine in the same run when a JAX is installed
// (else a stored reference figure), and against one core's measured peak. Writes
// bench/results/engine.json.
//
// Hidden layers use ReLU (A-C) so the timing is dominated by the GEMMs; D is the deep linear
// network (identity, no bias). The 'ts' float32 rows are the TypeScript engine with Float32Array
// storage (its arithmetic is JS double), so they measure memory traffic, not f32 arithmetic.
//
// Timing on a shared 2-core machine is noisy, so every cell runs many rounds and reports the best
// and the median round, by wall time and by the CPU time the process got (which leaves out the
// time other processes held the core). The ratio to JAX compares the same statistic of both,
// measured back to back for each workload: JAX ms / native ms, > 1 means native is faster.
//
// JAX: the python of the venv made by `bash ../shared/tools/jax-reference/setup.sh`
// ($JAX_REF_VENV or ~/.lambda-hat-jax-ref), or the interpreter named by LAMBDA_HAT_JAX_PYTHON.
// The timing script below builds the same networks as the shared engine_bench.py (jit of
// value_and_grad, one XLA thread) and times it in rounds like the cells here.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, homedir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createModel, defaultEngine, relaxedSimdSupported } from '../src/engine/index.js';
import { nativeAddon } from '../src/engine/native-addon.js';
import type { DType, EngineImpl, MlpSpec, NativeKernels, NetworkModel } from '../src/engine/index.js';

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
  { name: 'base', spec: { sizes: [32, 62, 62, 62, 1], activation: 'relu', bias: true, layerNorm: false }, n: 20000 },
];

const DTYPES: DType[] = ['float64', 'float32'];

/**
 * JAX on this machine kind (AMD EPYC, Zen 5, one core pinned, jax 0.10.2 CPU), best round by CPU
 * time, measured with the timing script below on 2026-12-06; used when no JAX is installed.
 */
const JAX_REFERENCE: Record<string, Record<DType, number>> = {
  A: { float64: 0.182, float32: 0.116 },
  B: { float64: 7.37, float32: 2.95 },
  C: { float64: 61.8, float32: 24.1 },
  D: { float64: 1.21, float32: 1.4 },
  base: { float64: 218, float32: 14.9 },
};

interface Timing {
  /** Per-round milliseconds per evaluation. */
  wall: number[];
  cpu: number[];
  evals: number;
}

interface Row {
  workload: string;
  dtype: DType;
  impl: EngineImpl | 'jax';
  variant: string;
  /** Whether createModel picks this cell by default on this machine. */
  default: boolean;
  ms_per_eval: number;
  cpu_ms_per_eval: number;
  ms_best: number;
  cpu_ms_best: number;
  gflops: number;
  gflops_best: number;
  /** From the best round's CPU time: what one core does when the machine is shared. */
  gflops_cpu: number;
  /** gflops_cpu as a share of one core's measured FMA peak in this dtype. */
  peak_share: number | null;
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

function timeModel(model: NetworkModel, theta: Float64Array, grad: Float64Array, budgetMs: number): Timing {
  // Warm up (wasm tiers up from Liftoff to TurboFan, caches fill) for ~150 ms or one eval.
  const t0 = performance.now();
  let warm = 0;
  while (warm < 1 || performance.now() - t0 < 150) {
    model.lossAndGrad(theta, grad);
    warm++;
  }
  const perEval = (performance.now() - t0) / warm;
  // Rounds of >= 20 ms (or one eval), as many as fit the budget, between 3 and 25: the best
  // round needs many rounds on a shared machine; slow cells (TypeScript on C) get 3 of one eval.
  const evals = Math.max(1, Math.round(20 / perEval));
  const rounds = Math.max(3, Math.min(25, Math.floor(budgetMs / (evals * perEval))));
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
  return { wall, cpu, evals };
}

function rowOf(
  w: Workload,
  dtype: DType,
  impl: Row['impl'],
  variant: string,
  isDefault: boolean,
  dim: number,
  t: Timing,
  peak: Record<DType, number> | null,
): Row {
  const flops = 6 * w.n * dim;
  const ms = median(t.wall);
  const best = Math.min(...t.wall);
  const cpuBest = Math.min(...t.cpu);
  const gflopsCpu = flops / cpuBest / 1e6;
  return {
    workload: w.name,
    dtype,
    impl,
    variant,
    default: isDefault,
    ms_per_eval: +ms.toFixed(4),
    cpu_ms_per_eval: +median(t.cpu).toFixed(4),
    ms_best: +best.toFixed(4),
    cpu_ms_best: +cpuBest.toFixed(4),
    gflops: +(flops / ms / 1e6).toFixed(3),
    gflops_best: +(flops / best / 1e6).toFixed(3),
    gflops_cpu: +gflopsCpu.toFixed(3),
    peak_share: peak === null ? null : +(gflopsCpu / peak[dtype]).toFixed(3),
    rounds: t.wall.length,
    evals_per_round: t.evals,
  };
}

function printRow(r: Row): void {
  const tag = `${r.impl}${r.variant === r.impl ? '' : `/${r.variant}`}${r.default ? '*' : ''}`;
  console.error(
    `${r.workload} ${r.dtype.padEnd(7)} ${tag.padEnd(18)} best ${r.cpu_ms_best.toFixed(3).padStart(9)} ms cpu ` +
      `(median ${r.cpu_ms_per_eval.toFixed(3)}; wall best ${r.ms_best.toFixed(3)}, median ${r.ms_per_eval.toFixed(3)})  ` +
      `${r.gflops_cpu.toFixed(1).padStart(6)} GFLOP/s` +
      (r.peak_share === null ? '' : ` = ${(100 * r.peak_share).toFixed(0)}% of peak`),
  );
}

interface Cell {
  impl: EngineImpl;
  variant: string;
  opts: { nativeKernels?: NativeKernels; wasmKernels?: 'simd' | 'relaxed' };
}

function engineCells(): Cell[] {
  const out: Cell[] = [];
  const native = nativeAddon();
  if (native.available) {
    for (const k of native.addon.supported) out.push({ impl: 'native', variant: k, opts: { nativeKernels: k } });
  } else {
    console.error(`native engine unavailable: ${native.reason}`);
  }
  for (const k of relaxedSimdSupported() ? (['relaxed', 'simd'] as const) : (['simd'] as const)) {
    out.push({ impl: 'wasm', variant: `wasm-${k}`, opts: { wasmKernels: k } });
  }
  out.push({ impl: 'ts', variant: 'ts', opts: {} });
  return out;
}

// ---------------------------------------------------------------------------------------------
// One core's peak: independent fused multiply-adds in the native build's widest registers.

function measurePeak(): { kernels: NativeKernels; gflops: Record<DType, number> } | null {
  const native = nativeAddon();
  if (!native.available) return null;
  const k = native.addon.kernels;
  const gflops = { float64: 0, float32: 0 };
  // The best of many short rounds: on a shared machine a short round is likelier to run alone.
  for (const dtype of DTYPES) {
    for (let r = 0; r < 40; r++) {
      const c0 = process.cpuUsage();
      const flops = native.addon.fmaPeak(k, dtype === 'float32', 2_000_000);
      const c = process.cpuUsage(c0);
      gflops[dtype] = Math.max(gflops[dtype], flops / ((c.user + c.system) * 1e3));
    }
  }
  return { kernels: k, gflops };
}

// ---------------------------------------------------------------------------------------------
// JAX on this machine.

const JAX_SCRIPT = String.raw`
import os, sys, json, time
os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1")
import numpy as np, jax, jax.numpy as jnp
jax.config.update("jax_enable_x64", True)
W = {"A": ([2, 64, 64, 1], True, 256), "B": ([16, 256, 256, 1], True, 1024),
     "C": ([64, 512, 512, 512, 10], True, 1024), "D": ([10, 10, 10, 10, 10], False, 10000),
     "base": ([32, 62, 62, 62, 1], True, 20000)}
def run(name, dt, budget):
    sizes, mlp, n = W[name]
    rng = np.random.default_rng(0)
    X = jnp.asarray(rng.standard_normal((n, sizes[0])), dt); Y = jnp.asarray(rng.standard_normal((n, sizes[-1])), dt)
    params = [(jnp.asarray(rng.standard_normal((a, b)) / np.sqrt(a), dt), jnp.asarray(np.zeros(b), dt) if mlp else None)
              for a, b in zip(sizes, sizes[1:])]
    def loss(p):
        h = X
        for l, (w, b) in enumerate(p):
            h = h @ w
            if b is not None: h = h + b
            if mlp and l < len(p) - 1: h = jax.nn.relu(h)
        return jnp.mean((h - Y) ** 2)
    vg = jax.jit(jax.value_and_grad(loss))
    jax.block_until_ready(vg(params))
    t0, k = time.perf_counter(), 0
    while k < 1 or time.perf_counter() - t0 < 0.15:
        jax.block_until_ready(vg(params)); k += 1
    per = (time.perf_counter() - t0) / k * 1e3
    evals = max(1, round(20 / per)); rounds = max(3, min(25, int(budget / (evals * per))))
    wall, cpu = [], []
    for r in range(rounds):
        c0, w0 = time.process_time(), time.perf_counter()
        for i in range(evals): jax.block_until_ready(vg(params))
        wall.append((time.perf_counter() - w0) / evals * 1e3); cpu.append((time.process_time() - c0) / evals * 1e3)
    return {"workload": name, "dtype": "float64" if dt == jnp.float64 else "float32", "wall": wall, "cpu": cpu, "evals": evals,
            "jax": jax.__version__}
for dt in (jnp.float64, jnp.float32):
    print(json.dumps(run(sys.argv[1], dt, float(sys.argv[2]))), flush=True)
`;

function jaxPython(): string | null {
  const explicit = process.env.LAMBDA_HAT_JAX_PYTHON;
  if (explicit) return explicit;
  const venv = process.env.JAX_REF_VENV ?? join(homedir(), '.lambda-hat-jax-ref');
  const py = join(venv, 'bin', 'python');
  return existsSync(py) ? py : null;
}

/** This process's CPU list when it is pinned to exactly one core, else null. */
function pinnedCore(): string | null {
  try {
    const m = /Cpus_allowed_list:\s*(\S+)/.exec(readFileSync('/proc/self/status', 'utf8'));
    return m && /^\d+$/.test(m[1]!) ? m[1]! : null;
  } catch {
    return null;
  }
}

interface JaxTiming extends Timing {
  dtype: DType;
  jax: string;
}

function runJax(py: string, workload: string, budgetMs: number): { timings: JaxTiming[]; error?: string } {
  // JAX runs helper threads: pin it to one core like the engine (inherited when this process is
  // pinned; otherwise pin it to core 0 where taskset exists).
  const pinned = pinnedCore();
  const hasTaskset = existsSync('/usr/bin/taskset') || existsSync('/bin/taskset');
  const [cmd, args] =
    pinned === null && hasTaskset
      ? ['taskset', ['-c', '0', py, '-c', JAX_SCRIPT, workload, String(budgetMs)]]
      : [py, ['-c', JAX_SCRIPT, workload, String(budgetMs)]];
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 600_000 });
  if (r.status !== 0) return { timings: [], error: `${r.error?.message ?? ''}${r.stderr ?? ''}`.trim().split('\n').slice(-3).join(' | ') };
  const timings = r.stdout
    .trim()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as JaxTiming);
  return { timings };
}

// ---------------------------------------------------------------------------------------------

interface Comparison {
  workload: string;
  dtype: DType;
  native_kernels: string;
  native_ms_best_cpu: number;
  native_ms_median_cpu: number;
  jax_ms_best_cpu: number;
  jax_ms_median_cpu: number | null;
  jax_source: 'measured' | 'reference';
  /** JAX ms / native ms from the best rounds: > 1 means the native engine is faster. */
  ratio: number;
  /** The same from the median rounds (measured JAX only). */
  ratio_median: number | null;
}

export default async function main(): Promise<void> {
  const pinned = pinnedCore();
  if (pinned === null) {
    console.error('note: not pinned to one core; for one-core figures run `taskset -c 0 npm run bench engine`');
  }
  const chosen = defaultEngine();
  const peak = measurePeak();
  if (peak !== null) {
    console.error(
      `one core's peak (${peak.kernels} FMA loop): ${peak.gflops.float64.toFixed(1)} GFLOP/s f64, ` +
        `${peak.gflops.float32.toFixed(1)} GFLOP/s f32`,
    );
  }
  const py = jaxPython();
  let jaxNote = py === null ? 'no JAX found: ratios use the stored reference figures' : `JAX from ${py}`;
  console.error(jaxNote);

  const rows: Row[] = [];
  const comparisons: Comparison[] = [];
  const cells = engineCells();
  for (const w of WORKLOADS) {
    const jax = py === null ? { timings: [] as JaxTiming[] } : runJax(py, w.name, 1500);
    if (py !== null && jax.timings.length === 0) {
      jaxNote = `JAX at ${py} failed (${jax.error ?? 'no output'}); ratios use the stored reference figures`;
      console.error(jaxNote);
    }
    const rnd = lcg(7);
    const inDim = w.spec.sizes[0]!;
    const outDim = w.spec.sizes[w.spec.sizes.length - 1]!;
    const X = Float64Array.from({ length: w.n * inDim }, rnd);
    const Y = Float64Array.from({ length: w.n * outDim }, rnd);
    for (const dtype of DTYPES) {
      let dim = 0;
      for (const cell of cells) {
        const model = createModel({
          spec: w.spec,
          data: { n: w.n, inDim, outDim, X, Y },
          loss: { kind: 'mse' },
          dtype,
          impl: cell.impl,
          ...cell.opts,
        });
        dim = model.dim;
        const theta = Float64Array.from({ length: model.dim }, () => rnd() * 0.3);
        const grad = new Float64Array(model.dim);
        const budget = cell.impl === 'native' ? 1500 : cell.impl === 'wasm' ? 1200 : 2500;
        const t = timeModel(model, theta, grad, budget);
        const isDefault = cell.impl === chosen.impl && model.kernels === chosen.kernels;
        const row = rowOf(w, dtype, cell.impl, cell.variant, isDefault, model.dim, t, peak?.gflops ?? null);
        rows.push(row);
        printRow(row);
        model.dispose();
      }
      const jt = jax.timings.find((t) => t.dtype === dtype);
      if (jt) {
        const row = rowOf(w, dtype, 'jax', `jax-${jt.jax}`, false, dim, jt, peak?.gflops ?? null);
        rows.push(row);
        printRow(row);
      }
      const nat = rows.find((r) => r.workload === w.name && r.dtype === dtype && r.impl === 'native' && r.variant === peak?.kernels);
      if (nat) {
        const jaxBest = jt ? Math.min(...jt.cpu) : JAX_REFERENCE[w.name]![dtype];
        const jaxMedian = jt ? median(jt.cpu) : null;
        const c: Comparison = {
          workload: w.name,
          dtype,
          native_kernels: nat.variant,
          native_ms_best_cpu: nat.cpu_ms_best,
          native_ms_median_cpu: nat.cpu_ms_per_eval,
          jax_ms_best_cpu: +jaxBest.toFixed(4),
          jax_ms_median_cpu: jaxMedian === null ? null : +jaxMedian.toFixed(4),
          jax_source: jt ? 'measured' : 'reference',
          ratio: +(jaxBest / nat.cpu_ms_best).toFixed(3),
          ratio_median: jaxMedian === null ? null : +(jaxMedian / nat.cpu_ms_per_eval).toFixed(3),
        };
        comparisons.push(c);
      }
    }
  }

  console.log('\nnative engine vs JAX, one core, CPU ms per loss+grad (best round; median in brackets):');
  console.log('| workload | dtype | native | JAX | JAX / native | % of peak |');
  console.log('|---|---|---|---|---|---|');
  for (const c of comparisons) {
    const nat = rows.find((r) => r.workload === c.workload && r.dtype === c.dtype && r.impl === 'native' && r.variant === c.native_kernels)!;
    const jaxCell = c.jax_ms_median_cpu === null ? `${c.jax_ms_best_cpu} (stored)` : `${c.jax_ms_best_cpu} (${c.jax_ms_median_cpu})`;
    const ratio = c.ratio_median === null ? `${c.ratio.toFixed(2)}x` : `${c.ratio.toFixed(2)}x (${c.ratio_median.toFixed(2)}x)`;
    const share = nat.peak_share === null ? '-' : `${(100 * nat.peak_share).toFixed(0)}%`;
    console.log(`| ${c.workload} | ${c.dtype} | ${c.native_ms_best_cpu} (${c.native_ms_median_cpu}) | ${jaxCell} | ${ratio} | ${share} |`);
  }

  const out = {
    machine: {
      cpu: cpus()[0]?.model ?? 'unknown',
      cores: cpus().length,
      pinned_core: pinned,
      node: process.version,
      relaxedSimd: relaxedSimdSupported(),
      default_engine: chosen,
      peak_gflops: peak,
      jax: jaxNote,
      flops_per_eval: '6 * n * dim',
      activation: 'relu for A-C, identity for D; loss mse',
      date: new Date().toISOString(),
    },
    comparison: comparisons,
    results: rows,
  };
  const dir = fileURLToPath(new URL('./results/', import.meta.url));
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}engine.json.tmp`, JSON.stringify(out, null, 2) + '\n');
  renameSync(`${dir}engine.json.tmp`, `${dir}engine.json`);
  console.log(`wrote ${dir}engine.json`);
}
