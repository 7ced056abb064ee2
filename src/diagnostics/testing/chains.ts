/** Test support only: deterministic chains for the diagnostics tests, independent of src/rng. */

/** iid N(0, 1) chains from a 32-bit seed (mulberry32 + Box-Muller). */
export function iidNormalChains(m: number, n: number, seed: number): Float64Array[] {
  let a = seed >>> 0;
  const u = (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return Array.from({ length: m }, () =>
    Float64Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u())),
  );
}
