/**
 * Threefry-2x32 with 20 rounds (Salmon et al. 2011, Random123), the block cipher behind JAX's
 * default PRNG. A counter-based generator: output depends only on (key, counter), so any draw
 * can be recomputed from its coordinates without replaying a stream.
 */

const SKEIN_PARITY = 0x1bd11bda;

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r));
}

/**
 * Encrypts the counter (c0, c1) under the key (k0, k1) and writes the two output words to
 * out[offset], out[offset + 1]. All values are uint32.
 */
export function threefry2x32Into(
  k0: number,
  k1: number,
  c0: number,
  c1: number,
  out: Uint32Array,
  offset: number,
): void {
  const k2 = (k0 ^ k1 ^ SKEIN_PARITY) | 0;
  let x0 = (c0 + k0) | 0;
  let x1 = (c1 + k1) | 0;
  // Five groups of four rounds with a key injection after each; unrolled because this is
  // the inner loop of every random draw.
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 13) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 15) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 26) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 6) ^ x0;
  x0 = (x0 + k1) | 0; x1 = (x1 + k2 + 1) | 0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 17) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 29) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 16) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 24) ^ x0;
  x0 = (x0 + k2) | 0; x1 = (x1 + k0 + 2) | 0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 13) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 15) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 26) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 6) ^ x0;
  x0 = (x0 + k0) | 0; x1 = (x1 + k1 + 3) | 0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 17) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 29) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 16) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 24) ^ x0;
  x0 = (x0 + k1) | 0; x1 = (x1 + k2 + 4) | 0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 13) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 15) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 26) ^ x0;
  x0 = (x0 + x1) | 0; x1 = rotl(x1, 6) ^ x0;
  x0 = (x0 + k2) | 0; x1 = (x1 + k0 + 5) | 0;
  out[offset] = x0 >>> 0;
  out[offset + 1] = x1 >>> 0;
}

/** Threefry-2x32 of one counter block, as a pair of uint32. */
export function threefry2x32(k0: number, k1: number, c0: number, c1: number): [number, number] {
  const out = new Uint32Array(2);
  threefry2x32Into(k0, k1, c0, c1, out, 0);
  return [out[0]!, out[1]!];
}
