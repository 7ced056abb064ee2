/**
 * Entry point of a chain worker thread (see chains.ts): rebuilds the posterior from its
 * serialisable source, prepares its chains (each exactly once), and samples them, reporting each
 * preparation, the sampling progress and each chain's result to the runner. A sampler that pools
 * its tuning waits, after preparing all its chains, for the run's shared values.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { enableRelaxedSimd } from '../../engine/index.js';
import {
  chainWorkerInit, chainWorkerShare, parseContract, type ChainProgress, type ChainWorkerInit, type ChainWorkerMessage,
} from '../../contracts/index.js';
import type { SharedTuning } from '../sampler.js';
import { openPosterior } from '../../posterior/source.js';
import { loadSampler } from '../registry.js';
import { chainDeadline, prepareChain, sampleChain, type PreparedChain } from './chain.js';

function nextShare(port: MessagePort): Promise<SharedTuning> {
  return new Promise((resolve, reject) => {
    port.once('message', (raw: unknown) => {
      try {
        resolve(parseContract(chainWorkerShare, raw, 'message to a chain worker', 'shared tuning').shared);
      } catch (err) {
        reject(err instanceof Error ? err : new Error(String(err)));
      }
    });
  });
}

async function runWorker(init: ChainWorkerInit, port: MessagePort): Promise<void> {
  const post = (m: ChainWorkerMessage): void => port.postMessage(m);
  const sampler = loadSampler(init.sampler).sampler.configure(init.cfg);
  const opened = await openPosterior(init.source);
  try {
    const base = { posterior: opened.posterior, sampler, chains: init.chains, seed: init.seed };
    const opts = { ...base, ...(init.progress ? { onProgress: (progress: ChainProgress) => post({ type: 'progress', progress }) } : {}) };
    const prepare = (chain: number): PreparedChain => {
      const p = prepareChain({ ...opts, chain });
      post({ type: 'prepared', chain, tuned: p.prepared.tuned });
      return p;
    };
    const deadlineOf = (i: number): number | null => chainDeadline(init.deadline_ms, init.chainIds.length - i);
    if (sampler.share) {
      const prepared = init.chainIds.map(prepare);
      const shared = await nextShare(port);
      prepared.forEach((p, i) => post({ type: 'result', result: sampleChain({ ...opts, chain: p.chain, deadlineMs: deadlineOf(i) }, p, shared) }));
    } else {
      init.chainIds.forEach((c, i) => {
        const p = prepare(c);
        post({ type: 'result', result: sampleChain({ ...opts, chain: c, deadlineMs: deadlineOf(i) }, p, undefined) });
      });
    }
  } finally {
    opened.dispose();
  }
}

if (parentPort) {
  const port = parentPort;
  // The same wasm kernels as the thread that started this one (see enableRelaxedSimd).
  enableRelaxedSimd();
  runWorker(parseContract(chainWorkerInit, workerData, 'chain worker data', 'chain worker instructions'), port).then(
    () => port.close(),
    (err: unknown) => {
      const e = err instanceof Error ? err : new Error(String(err));
      port.postMessage({ type: 'error', message: e.message, ...(e.stack ? { stack: e.stack } : {}) } satisfies ChainWorkerMessage);
      port.close();
    },
  );
}
