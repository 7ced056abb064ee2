/**
 * Splittable counter-based random keys with JAX's semantics (threefry2x32, the
 * "partitionable" scheme that is JAX's default since 0.5): key(seed) = [0, seed],
 * split(key, n)[i] = foldIn(key, i) = threefry(key, (0, i)), random bits of draw i come from
 * threefry(key, (0, i)).
 *
 * Everything random in lambda-hat is derived from (seed, purpose, chain, step) through foldIn,
 * so results never depend on how work is scheduled.
 */
import { threefry2x32Into } from './threefry.js';

export { threefry2x32, threefry2x32Into } from './threefry.js';

/** A key is a pair of uint32 words. */
export type Key = readonly [number, number];

const TWO_POW_M32 = 2 ** -32;
const TWO_POW_M52 = 2 ** -52;
const TWO_POW_20 = 2 ** 20;
const TWO_PI = 2 * Math.PI;

function checkWord(x: number, what: string): void {
  if (!Number.isInteger(x) || x < 0 || x > 0xffffffff) {
    throw new Error(`${what} must be an integer in [0, 2^32), got ${x}`);
  }
}

/** The key of an integer seed, as jax.random.key(seed) for 0 <= seed < 2^53. */
export function key(seed: number): Key {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`seed must be a non-negative safe integer, got ${seed}`);
  }
  return [Math.floor(seed / 2 ** 32) >>> 0, seed >>> 0];
}

/** A new key from a key and a non-negative 32-bit integer, as jax.random.fold_in. */
export function foldIn(k: Key, data: number): Key {
  checkWord(data, 'fold_in data');
  const out = new Uint32Array(2);
  threefry2x32Into(k[0], k[1], 0, data, out, 0);
  return [out[0]!, out[1]!];
}

/**
 * foldIn without allocating, for hot loops: the key is written into `out` (which may not be
 * `k` itself); `scratch` is a 2-word buffer. No range check on `data`.
 */
export function foldInInto(k: Key, data: number, out: [number, number], scratch: Uint32Array): [number, number] {
  threefry2x32Into(k[0], k[1], 0, data, scratch, 0);
  out[0] = scratch[0]!;
  out[1] = scratch[1]!;
  return out;
}

/** `num` independent keys, as jax.random.split. */
export function split(k: Key, num = 2): Key[] {
  const keys: Key[] = [];
  for (let i = 0; i < num; i++) keys.push(foldIn(k, i));
  return keys;
}

/** Folds a path of integers into a key: keyAt(seed, a, b) = foldIn(foldIn(key(seed), a), b). */
export function keyAt(seed: number, ...path: number[]): Key {
  let k = key(seed);
  for (const p of path) k = foldIn(k, p);
  return k;
}

/** Purposes folded into a run's key, so that e.g. initialisation and steps never share draws. */
export const Stream = {
  data: 1,
  teacher: 2,
  noise: 3,
  init: 4,
  train: 5,
  chain: 6,
  tune: 7,
  minibatch: 8,
  step: 9,
} as const;

/** 32 random bits per element (bits1 XOR bits2 of block i, as JAX's partitionable scheme). */
export function bitsInto(k: Key, out: Uint32Array): Uint32Array {
  const block = new Uint32Array(2);
  for (let i = 0; i < out.length; i++) {
    threefry2x32Into(k[0], k[1], 0, i, block, 0);
    out[i] = (block[0]! ^ block[1]!) >>> 0;
  }
  return out;
}

/** Uniform draws in [0, 1) with 52 random mantissa bits, as jax.random.uniform in float64. */
export function uniformInto(k: Key, out: Float64Array): Float64Array {
  const block = new Uint32Array(2);
  for (let i = 0; i < out.length; i++) {
    threefry2x32Into(k[0], k[1], 0, i, block, 0);
    out[i] = (block[0]! * TWO_POW_20 + (block[1]! >>> 12)) * TWO_POW_M52;
  }
  return out;
}

/** Element 0 of uniformInto(k, ...) without allocating (`scratch` is a 2-word buffer). */
export function uniform01(k: Key, scratch: Uint32Array): number {
  threefry2x32Into(k[0], k[1], 0, 0, scratch, 0);
  return (scratch[0]! * TWO_POW_20 + (scratch[1]! >>> 12)) * TWO_POW_M52;
}

/**
 * Uniform integers in [0, bound), e.g. minibatch rows drawn with replacement. `scratch` (a
 * 2-word buffer) avoids the one allocation, for hot loops.
 */
export function randintInto(k: Key, out: Int32Array, bound: number, scratch?: Uint32Array): Int32Array {
  if (!Number.isInteger(bound) || bound <= 0 || bound > 0x7fffffff) {
    throw new Error(`randint bound must be a positive 31-bit integer, got ${bound}`);
  }
  const block = scratch ?? new Uint32Array(2);
  for (let i = 0; i < out.length; i++) {
    threefry2x32Into(k[0], k[1], 0, i, block, 0);
    // Multiply-shift maps 32 bits to [0, bound) with bias below bound / 2^32.
    out[i] = Math.floor(((block[0]! ^ block[1]!) >>> 0) * TWO_POW_M32 * bound);
  }
  return out;
}

/**
 * Standard normal draws by Box-Muller: each threefry block gives two 32-bit uniforms and
 * two normals, so one cipher call per two draws. Tails are exact to about 6.6 sigma.
 */
export function normalInto(k: Key, out: Float64Array, scratch?: Uint32Array): Float64Array {
  const block = scratch ?? new Uint32Array(2);
  const n = out.length;
  for (let i = 0, j = 0; i < n; i += 2, j++) {
    threefry2x32Into(k[0], k[1], 0, j, block, 0);
    const u1 = (block[0]! + 0.5) * TWO_POW_M32; // in (0, 1): log is finite
    const u2 = block[1]! * TWO_POW_M32;
    const r = Math.sqrt(-2 * Math.log(u1));
    const t = TWO_PI * u2;
    out[i] = r * Math.cos(t);
    if (i + 1 < n) out[i + 1] = r * Math.sin(t);
  }
  return out;
}

/** Convenience allocation forms for non-hot code. */
export function normal(k: Key, count: number): Float64Array {
  return normalInto(k, new Float64Array(count));
}
export function uniform(k: Key, count: number): Float64Array {
  return uniformInto(k, new Float64Array(count));
}
