/**
 * Single-chain effective sample size, for tuning (MCLMC's stage 3 sets L from it), where there
 * is one chain of vector draws and no ArviZ comparison; the run-level statistics in index.ts are
 * ArviZ's multi-chain ones.
 */

/**
 * Effective sample size of one chain (Geyer's initial monotone sequence estimator, as Stan and
 * BlackJAX's `effective_sample_size` with one chain). `draws` is row-major [n][dim]; returns the
 * ESS of coordinate j, capped to [1, n log10(n)] like Stan.
 */
export function essOneChain(draws: Float64Array, n: number, dim: number, j: number): number {
  let mean = 0;
  for (let t = 0; t < n; t++) mean += draws[t * dim + j]!;
  mean /= n;
  const acov = (lag: number): number => {
    let s = 0;
    for (let t = 0; t + lag < n; t++) s += (draws[t * dim + j]! - mean) * (draws[(t + lag) * dim + j]! - mean);
    return s / n;
  };
  const c0 = acov(0);
  if (!(c0 > 0)) return 1;
  // tau = -1 + 2 sum_k P_k, P_k = rho_{2k} + rho_{2k+1} while positive, made monotone.
  let tau = -1;
  let prev = Number.POSITIVE_INFINITY;
  for (let k = 0; 2 * k + 1 < n; k++) {
    let p = (2 * k === 0 ? 1 : acov(2 * k) / c0) + acov(2 * k + 1) / c0;
    if (!(p > 0)) break;
    if (p > prev) p = prev;
    tau += 2 * p;
    prev = p;
  }
  const ess = n / Math.max(tau, 1 / Math.log10(Math.max(n, 10)));
  return Math.min(Math.max(ess, 1), n * Math.log10(Math.max(n, 10)));
}
