/**
 * The per-step randomness of the stochastic-gradient kernels (SGLD, SGNHT): minibatch rows from
 * sub-key 0 of the step key (drawn with replacement; none when batchSize >= n, which means full
 * data) and standard normal noise from sub-key 1, so the two are independent streams. Buffers
 * are allocated once here; the draws allocate nothing.
 */
import { foldInInto, normalInto, randintInto, type Key } from '../../rng/index.js';

export interface StepDraws {
  /** The minibatch rows (refilled by drawRows), or undefined for full data. */
  readonly rows: Int32Array | undefined;
  /** Work of one gradient on that batch in full-gradient equivalents (b / n, or 1). */
  readonly fge: number;
  /** Draws this step's minibatch rows (a no-op for full data); returns `rows`. */
  drawRows(key: Key): Int32Array | undefined;
  /** Fills `out` with this step's N(0, I) noise. */
  drawNoise(key: Key, out: Float64Array): void;
}

export function stepDraws(n: number, batchSize: number): StepDraws {
  const full = batchSize >= n;
  const rows = full ? undefined : new Int32Array(batchSize);
  const block = new Uint32Array(2);
  const sub: [number, number] = [0, 0];
  return {
    rows,
    fge: full ? 1 : batchSize / n,
    drawRows(key) {
      if (rows) randintInto(foldInInto(key, 0, sub, block), rows, n, block);
      return rows;
    },
    drawNoise(key, out) {
      normalInto(foldInInto(key, 1, sub, block), out, block);
    },
  };
}
