/**
 * Runs all chains of a run, in this thread or in worker threads (piscina). The numbers do
 * not depend on which: every chain's keys come from (seed, chain, step) only, and the
 * chains are reassembled in chain order.
 *
 * A sampler that pools its tuning over the chains (SamplerDef.share, e.g. SGLD's one step size
 * per run) runs in two phases: every chain is tuned, the tuning is pooled, then every chain
 * samples with the pooled values. In this thread the tuned chains are kept between the phases;
 * in workers, phase 1 returns each chain's tuned values and phase 2 repeats the (deterministic)
 * tuning before sampling, so the traces are the same whatever the thread count.
 */
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { openPosterior, type PosteriorSource } from '../../posterior/source.js';
import type { Posterior } from '../kernels/types.js';
import type { ChainSettings } from './settings.js';
import { loadSampler } from '../registry.js';
import {
  concatTraces,
  prepareChain,
  resolveSchedule,
  sampleChain,
  shareTuning,
  type ChainResult,
  type Progress,
  type Schedule,
  type SharedTuning,
  type TunedValue,
} from './chain.js';

export interface RunChainsRequest {
  /** Needed when chains.threads > 1 (workers rebuild the posterior from it). */
  source?: PosteriorSource;
  /** Used in this thread when given (else opened from source). */
  posterior?: Posterior;
  /** Sampler name or alias. */
  sampler: string;
  /** The sampler's resolved config (registry.resolveSamplerConfig). */
  cfg: Record<string, unknown>;
  chains: ChainSettings;
  seed: number;
  onProgress?: (p: Progress) => void;
}

export interface RunChainsResult {
  results: ChainResult[];
  columns: Record<string, Float64Array | Int32Array>;
  schedule: Schedule;
}

/** One chain's work as a worker task (plain data). */
export interface ChainTask {
  source: PosteriorSource;
  sampler: string;
  cfg: Record<string, unknown>;
  chains: ChainSettings;
  seed: number;
  chain: number;
  /** 'tune': prepare only and return the chain's tuned values; else run it whole. */
  phase?: 'tune' | 'run';
  /** The run's pooled tuning (phase 'run' of a sampler with `share`). */
  shared?: SharedTuning;
  port?: import('node:worker_threads').MessagePort;
}

export async function runChains(req: RunChainsRequest): Promise<RunChainsResult> {
  const loaded = await loadSampler(req.sampler);
  const def = loaded.def;
  resolveSchedule(def, req.cfg, req.chains); // config errors before any work
  const count = req.chains.count;
  const threads = Math.min(req.chains.threads, count);
  let results: ChainResult[];
  let shared: SharedTuning | undefined;
  if (threads <= 1) {
    let opened: Awaited<ReturnType<typeof openPosterior>> | null = null;
    let posterior = req.posterior;
    if (!posterior) {
      if (!req.source) throw new Error('runChains needs a posterior or a posterior source');
      opened = await openPosterior(req.source);
      posterior = opened.posterior;
    }
    results = [];
    try {
      const base = { posterior, def, cfg: req.cfg, chains: req.chains, seed: req.seed };
      const opts = { ...base, ...(req.onProgress ? { onProgress: req.onProgress } : {}) };
      if (def.share) {
        const prepared = Array.from({ length: count }, (_, chain) => prepareChain({ ...base, chain }));
        shared = shareTuning(def, req.cfg, prepared.map((p) => p.prepared.tuned));
        for (const p of prepared) results.push(sampleChain({ ...opts, chain: p.chain }, p, shared));
      } else {
        for (let c = 0; c < count; c++) results.push(sampleChain({ ...opts, chain: c }, prepareChain({ ...base, chain: c }), undefined));
      }
    } finally {
      opened?.dispose();
    }
  } else {
    if (!req.source) throw new Error('running chains in threads needs a serialisable posterior source');
    const out = await runInWorkers(req, req.source, threads, def.share !== undefined);
    results = out.results;
    shared = out.shared;
  }
  results.sort((a, b) => a.chain - b.chain);
  return { results, columns: concatTraces(results), schedule: resolveSchedule(def, req.cfg, req.chains, shared) };
}

async function runInWorkers(
  req: RunChainsRequest,
  source: PosteriorSource,
  threads: number,
  pools: boolean,
): Promise<{ results: ChainResult[]; shared: SharedTuning | undefined }> {
  const { Piscina } = await import('piscina');
  // Under tsx/vitest this file is TypeScript: the worker needs the tsx loader too.
  const isTs = import.meta.url.endsWith('.ts');
  const filename = fileURLToPath(new URL(isTs ? './chain-worker.ts' : './chain-worker.js', import.meta.url));
  const pool = new Piscina({
    filename,
    minThreads: threads,
    maxThreads: threads,
    ...(isTs ? { execArgv: [...process.execArgv.filter((a) => !a.startsWith('--input-type')), '--import', 'tsx'] } : {}),
  });
  try {
    let shared: SharedTuning | undefined;
    if (pools) {
      const tuned = await Promise.all(
        Array.from({ length: req.chains.count }, (_, chain) => {
          const task: ChainTask = { source, sampler: req.sampler, cfg: req.cfg, chains: req.chains, seed: req.seed, chain, phase: 'tune' };
          return pool.run(task) as Promise<Record<string, TunedValue>>;
        }),
      );
      const loaded = await loadSampler(req.sampler);
      shared = shareTuning(loaded.def, req.cfg, tuned);
    }
    const tasks = Array.from({ length: req.chains.count }, (_, chain) => {
      const task: ChainTask = { source, sampler: req.sampler, cfg: req.cfg, chains: req.chains, seed: req.seed, chain, ...(shared ? { shared } : {}) };
      if (!req.onProgress) return pool.run(task) as Promise<ChainResult>;
      const { port1, port2 } = new MessageChannel();
      const onProgress = req.onProgress;
      port1.on('message', (p: Progress) => onProgress(p));
      task.port = port2;
      return (pool.run(task, { transferList: [port2] }) as Promise<ChainResult>).finally(() => port1.close());
    });
    return { results: await Promise.all(tasks), shared };
  } finally {
    await pool.destroy();
  }
}
