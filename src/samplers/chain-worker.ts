// Worker-thread entry for one chain (see chains.ts). Rebuilds the posterior from its
// serialisable source, runs the chain, returns its traces.
import { openPosterior } from '../posterior/source.js';
import type { ChainTask } from './chains.js';
import { loadSampler } from './registry.js';
import { runChain, type ChainResult } from './runner.js';

export default async function runChainTask(task: ChainTask): Promise<ChainResult> {
  const loaded = await loadSampler(task.sampler);
  const opened = await openPosterior(task.source);
  try {
    const port = task.port;
    return runChain({
      posterior: opened.posterior,
      def: loaded.def,
      cfg: task.cfg,
      chains: task.chains,
      seed: task.seed,
      chain: task.chain,
      ...(port ? { onProgress: (p) => port.postMessage(p) } : {}),
    });
  } finally {
    opened.dispose();
    task.port?.close();
  }
}
