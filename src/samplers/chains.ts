/**
 * Runs all chains of a run, in this thread or in worker threads (piscina). The numbers do
 * not depend on which: every chain's keys come from (seed, chain, step) only, and the
 * chains are reassembled in chain order.
 */
import { fileURLToPath } from 'node:url';
import { MessageChannel } from 'node:worker_threads';
import { openPosterior, type PosteriorSource } from '../posterior/source.js';
import type { Posterior } from './types.js';
import type { ChainSettings } from './config.js';
import { loadSampler } from './registry.js';
import { concatTraces, resolveSchedule, runChain, type ChainResult, type Progress, type Schedule } from './runner.js';

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
  port?: import('node:worker_threads').MessagePort;
}

export async function runChains(req: RunChainsRequest): Promise<RunChainsResult> {
  const loaded = await loadSampler(req.sampler);
  const schedule = resolveSchedule(loaded.def, req.cfg, req.chains);
  const count = req.chains.count;
  const threads = Math.min(req.chains.threads, count);
  let results: ChainResult[];
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
      for (let c = 0; c < count; c++) {
        results.push(
          runChain({ posterior, def: loaded.def, cfg: req.cfg, chains: req.chains, seed: req.seed, chain: c, ...(req.onProgress ? { onProgress: req.onProgress } : {}) }),
        );
      }
    } finally {
      opened?.dispose();
    }
  } else {
    if (!req.source) throw new Error('running chains in threads needs a serialisable posterior source');
    results = await runInWorkers(req, req.source, threads);
  }
  results.sort((a, b) => a.chain - b.chain);
  return { results, columns: concatTraces(results), schedule };
}

async function runInWorkers(req: RunChainsRequest, source: PosteriorSource, threads: number): Promise<ChainResult[]> {
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
    const tasks = Array.from({ length: req.chains.count }, (_, chain) => {
      const task: ChainTask = { source, sampler: req.sampler, cfg: req.cfg, chains: req.chains, seed: req.seed, chain };
      if (!req.onProgress) return pool.run(task) as Promise<ChainResult>;
      const { port1, port2 } = new MessageChannel();
      const onProgress = req.onProgress;
      port1.on('message', (p: Progress) => onProgress(p));
      task.port = port2;
      return (pool.run(task, { transferList: [port2] }) as Promise<ChainResult>).finally(() => port1.close());
    });
    return await Promise.all(tasks);
  } finally {
    await pool.destroy();
  }
}
