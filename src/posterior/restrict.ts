/**
 * Weight-restricted posteriors: the loss as a function of a subset of the parameters, the others
 * held at w*. A Posterior built on it (makePosterior) samples only that subset, so every sampler
 * supports restriction without knowing about it; its LLC is the restricted (weight-refined) LLC.
 */
import type { LossFunction } from '../engine/types.js';

export interface NamedTensor {
  /** Source name, e.g. `2.weight` or `layers.1.bias`. */
  name: string;
  /** Module name, e.g. `2` or `layers.1`. */
  module: string;
  offset: number;
  size: number;
}

/** True when `name` is `prefix` or continues it after a dot (`2` matches `2.weight`, not `21.weight`). */
function underPrefix(name: string, prefix: string): boolean {
  return name === prefix || name.startsWith(`${prefix}.`);
}

/** The flat indices of the tensors under the prefixes (sorted); an unmatched prefix is an error. */
export function restrictionIndices(tensors: readonly NamedTensor[], prefixes: readonly string[], where = 'restrict'): Int32Array {
  const picked = new Set<NamedTensor>();
  for (const p of prefixes) {
    const hit = tensors.filter((t) => underPrefix(t.name, p));
    if (hit.length === 0) {
      const modules = [...new Set(tensors.map((t) => t.module))];
      throw new Error(
        `${where}: '${p}' matches no tensor; the network's tensors are ${tensors.map((t) => t.name).join(', ')} ` +
          `(a module name such as ${modules[0]} selects its weight and bias)`,
      );
    }
    for (const t of hit) picked.add(t);
  }
  const idx: number[] = [];
  for (const t of [...picked].sort((a, b) => a.offset - b.offset)) for (let i = 0; i < t.size; i++) idx.push(t.offset + i);
  return Int32Array.from(idx);
}

/** The modules of a network in order (each once). */
export function modulesOf(tensors: readonly NamedTensor[]): string[] {
  return [...new Set(tensors.map((t) => t.module))];
}

/**
 * L(w_S) = L_full(w* with the coordinates S replaced by w_S). One evaluation costs one full
 * evaluation of the network (the gradient of the other coordinates is computed and dropped).
 */
export function restrictLoss(loss: LossFunction, wStar: Float64Array, indices: Int32Array): LossFunction {
  if (wStar.length !== loss.dim) throw new Error(`w* has ${wStar.length} entries but the loss has ${loss.dim} parameters`);
  const full = Float64Array.from(wStar);
  const fullGrad = new Float64Array(loss.dim);
  const k = indices.length;
  if (k === 0) throw new Error('a restricted posterior needs at least one parameter');
  const place = (w: Float64Array): void => {
    if (w.length !== k) throw new Error(`restricted parameters have length ${w.length}, expected ${k}`);
    for (let i = 0; i < k; i++) full[indices[i]!] = w[i]!;
  };
  return {
    dim: k,
    n: loss.n,
    loss(w: Float64Array, rows?: Int32Array): number {
      place(w);
      return loss.loss(full, rows);
    },
    lossAndGrad(w: Float64Array, grad: Float64Array, rows?: Int32Array): number {
      place(w);
      const L = loss.lossAndGrad(full, fullGrad, rows);
      for (let i = 0; i < k; i++) grad[i] = fullGrad[indices[i]!]!;
      return L;
    },
  };
}

/** The sub-vector of v at the indices. */
export function gatherAt(v: Float64Array, indices: Int32Array): Float64Array {
  const out = new Float64Array(indices.length);
  for (let i = 0; i < indices.length; i++) out[i] = v[indices[i]!]!;
  return out;
}
