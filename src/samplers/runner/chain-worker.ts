// Worker-thread entry for one chain (see chains.ts). Rebuilds the posterior from its
// serialisable source, runs the chain, returns its traces (phase 'tune': only the chain's
// tuned values, for a sampler that pools its tuning over the chains).
import { openPosterior } from '../../posterior/source.js';
import type { ChainTask } from './chains.js';
import { loadSampler } from '../registry.js';
import { prepareChain, runChain, type ChainResult, type TunedValue } from './chain.js';

export default async function runChainTask(task: ChainTask): Promise<ChainResult | Record<string, TunedValue>> {
  const loaded = await loadSampler(task.sampler);
  const opened = await openPosterior(task.source);
  try {
    const port = task.port;
    if (task.phase === 'tune') {
      return prepareChain({ posterior: opened.posterior, def: loaded.def, cfg: task.cfg, chains: task.chains, seed: task.seed, chain: task.chain }).prepared.tuned;
    }
    return runChain({
      posterior: opened.posterior,
      def: loaded.def,
      cfg: task.cfg,
      chains: task.chains,
      seed: task.seed,
      chain: task.chain,
      ...(task.shared ? { shared: task.shared } : {}),
      ...(port ? { onProgress: (p) => port.postMessage(p) } : {}),
    });
  } finally {
    opened.dispose();
    task.port?.close();
  }
}
