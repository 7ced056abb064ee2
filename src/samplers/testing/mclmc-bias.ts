/**
 * Measures MCLMC's tuned bias on the quadratic target of mclmc.test.ts (d = 10, n beta = 100,
 * gamma = 1), 4 chains per seed, MCSE from the shared ArviZ diagnostics. Test support only:
 *   npx tsx src/samplers/testing/mclmc-bias.ts 5e-4,2e-5 13,14,15,16,17,18 [draws = 10000]
 * prints, per desired_energy_var and seed, the relative error of λ̂ ± MCSE, the chains' tuned
 * step sizes (standardised units), the sampling mean dE^2 / d and the tuning work.
 */
import { resolveChainSettings } from '../runner/settings.js';
import { runChain } from '../runner/chain.js';
import { sampler as mclmc } from '../kernels/mclmc.js';
import { quadraticPosterior } from './targets.js';
import { mcseMean, mean as pmean } from '../../diagnostics/index.js';
if (process.argv.length < 4) throw new Error('usage: mclmc-bias.ts DEV[,DEV...] SEED[,SEED...] [DRAWS]');
const devs = process.argv[2]!.split(',').map(Number);
const seeds = process.argv[3]!.split(',').map(Number);
const draws = Number(process.argv[4] ?? 10000);
const { posterior, exactLlc } = quadraticPosterior({ dim: 10, nBeta: 100, gamma: 1 });
for (const dev of devs) {
  const out: string[] = [];
  for (const seed of seeds) {
    const sampler = mclmc.configure(mclmc.parseConfig({ draws, desired_energy_var: dev }));
    const settings = resolveChainSettings({ count: 4 });
    const res = [0, 1, 2, 3].map((chain) => runChain({ posterior, sampler, chains: settings, seed, chain }));
    const ch = res.map((r) => r.columns.llc!);
    const m = pmean(ch).value!;
    const se = mcseMean(ch).value!;
    const eps = res.map((r) => (r.tuned.step_size as number).toFixed(3)).join('/');
    let e2 = 0;
    let n = 0;
    for (const r of res) {
      for (const v of r.columns.energy_change!) {
        e2 += v * v;
        n++;
      }
    }
    out.push(
      `seed ${seed}: ${(100 * (m / exactLlc - 1)).toFixed(2)}% ± ${((100 * se) / exactLlc).toFixed(2)}% ` +
        `eps ${eps} dE2/d ${(e2 / n / 10).toExponential(2)} tuneFge ${res[0]!.tune_fge}`,
    );
  }
  console.log(`dev ${dev}\n  ` + out.join('\n  '));
}
