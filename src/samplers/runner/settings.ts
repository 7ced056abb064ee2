/**
 * Chain settings (count, init_noise, burn_in, threads; defined in src/contracts/sampling.ts)
 * resolved from layers, later wins:
 *   defaults < target entry's `chains` < target entry's `burn_in`
 *            < sampler entry's `chains` < sampler entry's `burn_in`
 * and the burn-in they give in steps.
 */
import { chainSettings, chainsLayer, parseContract, type ChainSettings, type ChainsLayer } from '../../contracts/index.js';

export { chainSettings as chainSettingsSchema, type ChainSettings, type ChainsLayer };

/**
 * A chains layer from what a person writes: a number (the chain count) or a mapping, where the
 * names people reach for first (n, num_chains, chains) mean count. `where` names the source.
 */
export function chainsLayerOf(raw: unknown, where: string): ChainsLayer {
  if (typeof raw === 'number') return { count: raw };
  if (raw !== null && typeof raw === 'object' && !Array.isArray(raw)) {
    const l: Record<string, unknown> = { ...raw };
    for (const alias of ['n', 'num_chains', 'chains']) {
      if (alias in l && !('count' in l)) {
        l.count = l[alias];
        delete l[alias];
      }
    }
    return parseContract(chainsLayer, l, where, 'chains setting');
  }
  throw new Error(`${where}: chains must be a number or a mapping, got ${JSON.stringify(raw)}`);
}

/** The layers merged in order (later wins) over the defaults. */
export function resolveChainSettings(...layers: (ChainsLayer | undefined)[]): ChainSettings {
  const merged: ChainsLayer = {};
  for (const layer of layers) if (layer) Object.assign(merged, layer);
  return chainSettings.parse(merged);
}

/** Burn-in in steps from a setting (steps, fraction or null) and the sampler's default. */
export function burnInSteps(setting: number | null, steps: number, samplerDefault: number): number {
  if (setting === null) return Math.min(steps, samplerDefault);
  if (setting > 0 && setting < 1) return Math.floor(setting * steps);
  if (!Number.isInteger(setting)) {
    throw new Error(`burn_in must be an integer number of steps or a fraction in (0, 1), got ${setting}`);
  }
  if (setting >= steps) {
    throw new Error(`burn_in (${setting}) must be smaller than the number of steps (${steps})`);
  }
  return setting;
}
