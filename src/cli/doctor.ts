/**
 * `lambda-hat doctor [--json]`: one line per thing a run depends on, for bug reports: the
 * runtime, the engine createModel picks (and whether it agrees with the TypeScript reference),
 * the wasm features, worker threads, SLURM, a Chromium for looking at reports, the fonts of the
 * PNG plots and the artifact store. Exit status 1 when something a run needs is broken (the
 * engine, worker threads, the store); optional parts that are absent (SLURM, Chromium) only warn.
 */
import { accessSync, constants, existsSync, renameSync, rmSync, statfsSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { Worker } from 'node:worker_threads';
import type { Command } from 'commander';
import { createModel, relaxedSimdSupported } from '../engine/index.js';
import type { CreateModelOptions, NetworkModel } from '../engine/types.js';
import { simdSupported } from '../engine/wasm-kernels.js';
import { slurmAvailable } from '../executors/slurm.js';
import { chromiumVersion, locateChromium } from '../report/chromium.js';
import { storeHome } from '../store/index.js';
import { packageRoot } from '../config/cards.js';
import { CODE_VERSION } from '../version.js';

export type CheckStatus = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  name: string;
  status: CheckStatus;
  /** One line for humans. */
  summary: string;
  /** Machine-readable facts behind the line. */
  details: Record<string, unknown>;
}

export interface DoctorOptions {
  /** Artifact root to test for writing (default: $LAMBDA_HAT_HOME or ./artifacts). */
  home?: string;
  env?: NodeJS.ProcessEnv;
  /** Where Debian's chromium would be (tests point it elsewhere). */
  chromiumPath?: string;
}

function errorText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

function runtimeCheck(): DoctorCheck {
  const details = { lambda_hat: CODE_VERSION, node: process.version, platform: process.platform, arch: process.arch, cpus: availableParallelism() };
  return {
    name: 'runtime',
    status: 'ok',
    summary: `lambda-hat ${CODE_VERSION}, Node ${process.version}, ${process.platform}-${process.arch}, ${details.cpus} CPUs`,
    details,
  };
}

/** The string-valued facts a model reports about itself (impl, kernel variant, ...), whatever engine it is. */
function modelFacts(model: NetworkModel): Record<string, string> {
  const facts: Record<string, string> = { impl: model.impl };
  for (const [k, v] of Object.entries(model)) {
    if (typeof v === 'string' && k !== 'impl' && k !== 'dtype') facts[k] = v;
  }
  return facts;
}

/** A small network: loss and gradient from the default engine against the TypeScript reference. */
function engineCheck(): DoctorCheck {
  const n = 32;
  const spec = { sizes: [3, 5, 2], activation: 'tanh' as const, bias: true, layerNorm: false };
  const X = Float64Array.from({ length: n * 3 }, (_, i) => Math.sin(1.7 * i + 0.3));
  const Y = Float64Array.from({ length: n * 2 }, (_, i) => Math.cos(0.9 * i));
  const opts: CreateModelOptions = { spec, data: { n, inDim: 3, outDim: 2, X, Y }, loss: { kind: 'mse' }, dtype: 'float64' };
  let model: NetworkModel | null = null;
  let reference: NetworkModel | null = null;
  try {
    model = createModel(opts);
    reference = createModel({ ...opts, impl: 'ts' });
    const theta = Float64Array.from({ length: model.dim }, (_, i) => 0.3 * Math.sin(i + 1));
    const g = new Float64Array(model.dim);
    const gRef = new Float64Array(model.dim);
    const loss = model.lossAndGrad(theta, g);
    const lossRef = reference.lossAndGrad(theta, gRef);
    let num = (loss - lossRef) ** 2;
    let den = lossRef ** 2;
    for (let i = 0; i < g.length; i++) {
      num += (g[i]! - gRef[i]!) ** 2;
      den += gRef[i]! ** 2;
    }
    const relErr = Math.sqrt(num / den);
    const facts = modelFacts(model);
    const label = Object.entries(facts).map(([k, v]) => (k === 'impl' ? v : `${k} ${v}`)).join(', ');
    // Reassociated sums (SIMD, FMA) differ from the reference by rounding only.
    const agrees = Number.isFinite(relErr) && relErr < 1e-10;
    return {
      name: 'engine',
      status: agrees ? 'ok' : 'fail',
      summary: agrees
        ? `${label}: loss and gradient agree with the TypeScript reference (rel. diff ${relErr.toExponential(1)})`
        : `${label}: loss and gradient DIFFER from the TypeScript reference (rel. diff ${relErr.toExponential(1)})`,
      details: { ...facts, rel_diff_vs_ts: Number.isFinite(relErr) ? relErr : null },
    };
  } catch (err) {
    return { name: 'engine', status: 'fail', summary: `createModel failed: ${errorText(err)}`, details: { error: errorText(err) } };
  } finally {
    model?.dispose();
    reference?.dispose();
  }
}

function wasmCheck(): DoctorCheck {
  const simd = simdSupported();
  const relaxed = relaxedSimdSupported();
  const builds = Object.fromEntries(
    (['simd', 'relaxed'] as const).map((v) => [v, existsSync(join(packageRoot(), 'build', `kernels-${v}.wasm`))]),
  );
  const missing = Object.entries(builds).filter(([, ok]) => !ok).map(([v]) => v);
  const status: CheckStatus = simd && missing.length === 0 ? 'ok' : 'warn';
  const parts = [`SIMD ${simd ? 'yes' : 'no'}`, `relaxed SIMD (FMA) ${relaxed ? 'yes' : 'no'}`];
  parts.push(missing.length === 0 ? 'kernels built' : `kernels missing: ${missing.join(', ')} (run \`npm run build:wasm\`)`);
  return { name: 'wasm', status, summary: parts.join(', '), details: { simd, relaxed_simd: relaxed, kernels_built: builds } };
}

function threadsCheck(): Promise<DoctorCheck> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    let worker: Worker;
    try {
      worker = new Worker("require('node:worker_threads').parentPort.postMessage(6 * 7)", { eval: true });
    } catch (err) {
      resolve({ name: 'threads', status: 'fail', summary: `cannot start a worker thread: ${errorText(err)}`, details: { error: errorText(err) } });
      return;
    }
    const timer = setTimeout(() => {
      void worker.terminate();
      resolve({ name: 'threads', status: 'fail', summary: 'a worker thread did not answer within 10 s', details: {} });
    }, 10_000);
    worker.once('message', (v: unknown) => {
      clearTimeout(timer);
      const ms = performance.now() - t0;
      void worker.terminate();
      const ok = v === 42;
      resolve({
        name: 'threads',
        status: ok ? 'ok' : 'fail',
        summary: ok
          ? `worker threads start and answer (${ms.toFixed(0)} ms); ${availableParallelism()} usable in parallel`
          : `a worker thread answered ${String(v)} instead of 42`,
        details: { startup_ms: ms, available_parallelism: availableParallelism() },
      });
    });
    worker.once('error', (err) => {
      clearTimeout(timer);
      resolve({ name: 'threads', status: 'fail', summary: `worker thread failed: ${errorText(err)}`, details: { error: errorText(err) } });
    });
  });
}

/** True when `cmd` is an executable file on env.PATH. */
function onPath(cmd: string, env: NodeJS.ProcessEnv): boolean {
  return (env.PATH ?? '').split(delimiter).some((d) => {
    try {
      accessSync(join(d, cmd), constants.X_OK);
      return true;
    } catch {
      return false;
    }
  });
}

async function slurmCheck(env: NodeJS.ProcessEnv): Promise<DoctorCheck> {
  if (!onPath('sinfo', env)) {
    return {
      name: 'slurm',
      status: 'warn',
      summary: 'not installed (no sinfo on PATH; only the slurm card needs it: scripts/slurm/start.sh installs and starts a local cluster)',
      details: { reachable: false, reason: 'sinfo is not on PATH' },
    };
  }
  const s = await slurmAvailable(env);
  return {
    name: 'slurm',
    status: s.ok ? 'ok' : 'warn',
    summary: s.ok ? `reachable (sinfo: ${s.reason})` : `not reachable: ${s.reason} (only the slurm card needs it)`,
    details: { reachable: s.ok, reason: s.reason },
  };
}

function chromiumCheck(debianPath: string | undefined): DoctorCheck {
  const loc = locateChromium(debianPath ? { debianPath } : {});
  if (loc.kind === 'missing') {
    return { name: 'chromium', status: 'warn', summary: `none: ${loc.reason}`, details: { kind: loc.kind, reason: loc.reason } };
  }
  if (loc.kind === 'bundled' && !loc.ready) {
    return {
      name: 'chromium',
      status: 'ok',
      summary: `bundled @sparticuz/chromium ${loc.version}, inflated to ${loc.path} on first use`,
      details: { kind: loc.kind, path: loc.path, version: loc.version, ready: false },
    };
  }
  const v = chromiumVersion(loc.path);
  const what = loc.kind === 'debian' ? "Debian's" : `bundled (@sparticuz/chromium ${loc.version})`;
  return {
    name: 'chromium',
    status: v.version ? 'ok' : 'warn',
    summary: v.version ? `${what} ${v.version} at ${loc.path}` : `${what} at ${loc.path} does not start: ${v.error}`,
    details: { kind: loc.kind, path: loc.path, version: v.version, error: v.error },
  };
}

const DEJAVU = '/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf';

function fontsCheck(): DoctorCheck {
  const ok = existsSync(DEJAVU);
  return {
    name: 'fonts',
    status: ok ? 'ok' : 'warn',
    summary: ok ? `DejaVu Sans for PNG plots (${DEJAVU})` : 'no DejaVu Sans: PNG plots fall back to other fonts (apt-get install fonts-dejavu-core)',
    details: { dejavu: ok ? DEJAVU : null },
  };
}

function storeCheck(home: string): DoctorCheck {
  // A store that does not exist yet is created by the first run: probe the nearest existing
  // directory instead of creating it here.
  let dir = home;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  const exists = dir === home;
  const probe = join(dir, `.lambda-hat-doctor-${process.pid}-${Date.now()}`);
  try {
    // The store writes every file to a temp name and renames it: test exactly that.
    writeFileSync(`${probe}.tmp`, 'lambda-hat doctor\n');
    renameSync(`${probe}.tmp`, probe);
    rmSync(probe, { force: true });
    const fs = statfsSync(dir);
    const freeGb = (fs.bavail * fs.bsize) / 1e9;
    const where = exists ? `${home} is writable` : `${home} does not exist yet; ${dir} is writable, so a run creates it`;
    return {
      name: 'store',
      status: freeGb < 1 ? 'warn' : 'ok',
      summary: `${where}, ${freeGb.toFixed(1)} GB free${freeGb < 1 ? ' (low)' : ''}`,
      details: { path: home, exists, writable: true, free_gb: freeGb },
    };
  } catch (err) {
    try {
      rmSync(`${probe}.tmp`, { force: true });
    } catch {
      // Nothing was written (the path is not a directory).
    }
    return {
      name: 'store',
      status: 'fail',
      summary: `${exists ? home : dir} is not writable: ${errorText(err)} (set LAMBDA_HAT_HOME to a writable directory)`,
      details: { path: home, exists, writable: false, error: errorText(err) },
    };
  }
}

export async function runDoctor(opts: DoctorOptions = {}): Promise<DoctorCheck[]> {
  const env = opts.env ?? process.env;
  const home = storeHome(opts.home, env);
  return [
    runtimeCheck(),
    engineCheck(),
    wasmCheck(),
    await threadsCheck(),
    await slurmCheck(env),
    chromiumCheck(opts.chromiumPath),
    fontsCheck(),
    storeCheck(home),
  ];
}

export function formatDoctor(checks: readonly DoctorCheck[]): string {
  const width = Math.max(...checks.map((c) => c.name.length));
  return checks.map((c) => `${c.name.padEnd(width)}  ${c.status.padEnd(4)}  ${c.summary}`).join('\n');
}

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('Check what runs depend on (engine, wasm, threads, SLURM, Chromium, fonts, store): one line each, for bug reports')
    .option('--json', 'print the checks as JSON')
    .action(async (o: { json?: boolean }) => {
      const checks = await runDoctor();
      process.stdout.write(o.json ? `${JSON.stringify({ checks }, null, 2)}\n` : `${formatDoctor(checks)}\n`);
      process.exitCode = checks.some((c) => c.status === 'fail') ? 1 : 0;
    });
}
