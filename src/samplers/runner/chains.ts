/**
 * Runs all chains of a run, in this thread or in worker threads: the only sampling code that
 * starts threads (tasks/sample.ts, the other caller of the store, writes what it returns). The
 * numbers do not depend on where a chain runs: every chain's keys come from (seed, chain, step)
 * only, and the chains are reassembled in chain order.
 *
 * Each chain is prepared (adapted) exactly once, whatever the thread count. With threads, the
 * chains are dealt to `threads` workers (chain c to worker c mod threads); a worker keeps its
 * prepared chains until it samples them. A sampler that pools its tuning over the chains
 * (SamplerTraits.shares, e.g. SGLD's one step size per run) runs in two phases: every chain is
 * prepared and reports its tuned values, the runner pools them, then every chain samples with the
 * pooled values.
 */
import { Worker } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import {
  chainWorkerMessage, parseContract, type ChainResult, type ChainSettings, type ChainWorkerInit, type ChainWorkerShare,
  type JsonObject, type PosteriorSource,
} from '../../contracts/index.js';
import { openPosterior } from '../../posterior/source.js';
import type { Posterior } from '../../posterior/types.js';
import type { ConfiguredSampler, Schedule, SharedTuning, TunedValues } from '../sampler.js';
import { loadSampler } from '../registry.js';
import { chainDeadline, concatTraces, prepareChain, resolveSchedule, sampleChain, shareTuning, type Progress } from './chain.js';

export interface RunChainsRequest {
  /** Needed when chains.threads > 1 (workers rebuild the posterior from it). */
  source?: PosteriorSource;
  /** Used in this thread when given (else opened from source). */
  posterior?: Posterior;
  /** Sampler name or alias. */
  sampler: string;
  /** The sampler's resolved config (registry.resolveSamplerConfig). */
  cfg: JsonObject;
  chains: ChainSettings;
  seed: number;
  onProgress?: (p: Progress) => void;
  /** Unix ms by which sampling must end (a time budget); each chain gets its share. */
  deadlineMs?: number | null;
  /** Called once for each chain when it is prepared (adapted), wherever it runs. */
  onPrepared?: (chain: number) => void;
}

export interface RunChainsResult {
  results: ChainResult[];
  columns: Record<string, Float64Array | Int32Array>;
  schedule: Schedule;
}

export async function runChains(req: RunChainsRequest): Promise<RunChainsResult> {
  const sampler = loadSampler(req.sampler).sampler.configure(req.cfg);
  resolveSchedule(sampler, req.chains); // config errors before any work
  const threads = Math.min(req.chains.threads, req.chains.count);
  let out: { results: ChainResult[]; shared: SharedTuning | undefined };
  if (threads <= 1) {
    let opened: Awaited<ReturnType<typeof openPosterior>> | null = null;
    let posterior = req.posterior;
    if (!posterior) {
      if (!req.source) throw new Error('runChains needs a posterior or a posterior source');
      opened = await openPosterior(req.source);
      posterior = opened.posterior;
    }
    try {
      out = runHere(req, sampler, posterior);
    } finally {
      opened?.dispose();
    }
  } else {
    if (!req.source) throw new Error('running chains in threads needs a serialisable posterior source');
    out = await runInWorkers(req, req.source, sampler, threads);
  }
  const results = [...out.results].sort((a, b) => a.chain - b.chain);
  return { results, columns: concatTraces(results), schedule: resolveSchedule(sampler, req.chains, out.shared) };
}

function runHere(req: RunChainsRequest, sampler: ConfiguredSampler, posterior: Posterior): { results: ChainResult[]; shared: SharedTuning | undefined } {
  const base = { posterior, sampler, chains: req.chains, seed: req.seed };
  const opts = { ...base, ...(req.onProgress ? { onProgress: req.onProgress } : {}) };
  const chains = Array.from({ length: req.chains.count }, (_, c) => c);
  const prepare = (chain: number): ReturnType<typeof prepareChain> => {
    const p = prepareChain({ ...opts, chain });
    req.onPrepared?.(chain);
    return p;
  };
  const deadlineOf = (i: number): number | null => chainDeadline(req.deadlineMs, chains.length - i);
  if (sampler.share) {
    const prepared = chains.map(prepare);
    const shared = shareTuning(sampler, prepared.map((p) => p.prepared.tuned));
    return { results: prepared.map((p, i) => sampleChain({ ...opts, chain: p.chain, deadlineMs: deadlineOf(i) }, p, shared)), shared };
  }
  return {
    results: chains.map((c, i) => {
      const p = prepare(c);
      return sampleChain({ ...opts, chain: c, deadlineMs: deadlineOf(i) }, p, undefined);
    }),
    shared: undefined,
  };
}

/** The worker thread's entry: the compiled file, or from source a bootstrap that loads TypeScript. */
function workerFile(): URL {
  return new URL(import.meta.url.endsWith('.ts') ? './chain-worker-tsx.mjs' : './chain-worker.js', import.meta.url);
}

async function runInWorkers(
  req: RunChainsRequest,
  source: PosteriorSource,
  sampler: ConfiguredSampler,
  threads: number,
): Promise<{ results: ChainResult[]; shared: SharedTuning | undefined }> {
  const pools = sampler.share !== undefined;
  const workers: Worker[] = [];
  const results: ChainResult[] = [];
  const tuned = new Map<number, TunedValues>();
  let shared: SharedTuning | undefined;
  try {
    await new Promise<void>((resolve, reject) => {
      let running = threads;
      const fail = (err: Error): void => reject(err);
      for (let w = 0; w < threads; w++) {
        const chainIds = Array.from({ length: req.chains.count }, (_, c) => c).filter((c) => c % threads === w);
        const init: ChainWorkerInit = {
          source, sampler: req.sampler, cfg: req.cfg, chains: req.chains, seed: req.seed, chainIds, progress: req.onProgress !== undefined,
          deadline_ms: req.deadlineMs ?? null,
        };
        const worker = new Worker(fileURLToPath(workerFile()), { workerData: init });
        workers.push(worker);
        worker.on('message', (raw: unknown) => {
          let msg;
          try {
            msg = parseContract(chainWorkerMessage, raw, `chain worker ${w}`, 'chain worker message');
          } catch (err) {
            fail(err as Error);
            return;
          }
          switch (msg.type) {
            case 'prepared':
              req.onPrepared?.(msg.chain);
              tuned.set(msg.chain, msg.tuned);
              if (pools && tuned.size === req.chains.count) {
                try {
                  // Pooled in chain order, as in one thread.
                  shared = shareTuning(sampler, [...tuned.entries()].sort((a, b) => a[0] - b[0]).map(([, t]) => t));
                } catch (err) {
                  fail(err as Error);
                  return;
                }
                const share: ChainWorkerShare = { type: 'share', shared: shared ?? {} };
                for (const x of workers) x.postMessage(share);
              }
              break;
            case 'progress':
              req.onProgress?.(msg.progress);
              break;
            case 'result':
              results.push(msg.result);
              break;
            case 'error': {
              const err = new Error(msg.message);
              if (msg.stack) err.stack = msg.stack;
              fail(err);
              break;
            }
          }
        });
        worker.on('error', fail);
        worker.on('exit', (code) => {
          if (code !== 0) fail(new Error(`chain worker ${w} exited with code ${code}`));
          else if (--running === 0) resolve();
        });
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  if (results.length !== req.chains.count) {
    throw new Error(`chain workers returned ${results.length} of ${req.chains.count} chains`);
  }
  return { results, shared };
}
