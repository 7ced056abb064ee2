/**
 * The numerical core of the convergence diagnostics, a line-by-line port of ArviZ 0.23
 * (`arviz/stats/diagnostics.py` and `stats_utils.py`), which follows Vehtari et al. (2021),
 * "Rank-normalization, folding, and localization: an improved R-hat".
 *
 * These functions assume finite input of valid shape and may return NaN or Infinity exactly
 * where ArviZ would; `index.ts` validates input and turns such values into `null` with a reason.
 * A chain matrix is `Float64Array[]`, indexed [chain][draw], all rows the same length.
 */
import FFT from 'fft.js';
import { normalPpf } from './normal.js';

export type ChainMatrix = readonly Float64Array[];

/**
 * ArviZ's `_split_chains`: each chain becomes its first and its last `floor(n/2)` draws, so with
 * an odd number of draws the middle draw is dropped. Halves are ordered as ArviZ stacks them:
 * all first halves, then all second halves (the order matters only through summation rounding).
 */
export function splitChains(chains: ChainMatrix): Float64Array[] {
  const n = chains[0]!.length;
  const half = Math.floor(n / 2);
  const firsts = chains.map((c) => c.slice(0, half));
  const seconds = chains.map((c) => c.slice(n - half));
  return [...firsts, ...seconds];
}

function flatten(chains: ChainMatrix): Float64Array {
  const m = chains.length;
  const n = m === 0 ? 0 : chains[0]!.length;
  const out = new Float64Array(m * n);
  for (let j = 0; j < m; j++) out.set(chains[j]!, j * n);
  return out;
}

function reshape(flat: Float64Array, m: number, n: number): Float64Array[] {
  const out: Float64Array[] = [];
  for (let j = 0; j < m; j++) out.push(flat.slice(j * n, (j + 1) * n));
  return out;
}

/** scipy `rankdata(method='average')`: 1-based ranks, tied values share their mean rank. */
export function rankAverage(values: Float64Array): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i);
  order.sort((a, b) => values[a]! - values[b]!);
  const ranks = new Float64Array(n);
  let i = 0;
  while (i < n) {
    let j = i + 1;
    while (j < n && values[order[j]!] === values[order[i]!]) j++;
    // Positions i..j-1 (0-based) hold ranks i+1..j; their average is (i + 1 + j) / 2.
    const r = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) ranks[order[k]!] = r;
    i = j;
  }
  return ranks;
}

/**
 * ArviZ's `_z_scale`: ranks over all chains pooled, Blom's offset c = 3/8,
 * (r - c) / (N - 2c + 1), then the normal quantile. Written in the same order of operations as
 * ArviZ so the offsets are bit-identical.
 */
export function zScale(chains: ChainMatrix): Float64Array[] {
  const m = chains.length;
  const n = chains[0]!.length;
  const flat = flatten(chains);
  const ranks = rankAverage(flat);
  const c = 3 / 8;
  const size = flat.length;
  const z = new Float64Array(size);
  for (let i = 0; i < size; i++) z[i] = normalPpf((ranks[i]! - c) / (size - 2 * c + 1));
  return reshape(z, m, n);
}

/** numpy `median` of all values (mean of the two middle values for an even count). */
export function median(chains: ChainMatrix): number {
  const sorted = flatten(chains).sort();
  const k = sorted.length;
  const mid = k >> 1;
  return k % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function mapMatrix(chains: ChainMatrix, f: (x: number) => number): Float64Array[] {
  return chains.map((c) => c.map(f));
}

function meanOf(xs: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < xs.length; i++) s += xs[i]!;
  return s / xs.length;
}

/** numpy `var(xs, ddof)`: two-pass, centred on the mean. */
function varOf(xs: ArrayLike<number>, ddof: number): number {
  const mu = meanOf(xs);
  let s = 0;
  for (let i = 0; i < xs.length; i++) {
    const d = xs[i]! - mu;
    s += d * d;
  }
  return s / (xs.length - ddof);
}

/** Mean of all draws of all chains. */
export function pooledMean(chains: ChainMatrix): number {
  return meanOf(flatten(chains));
}

/** Standard deviation of all draws pooled, ddof = 1 (ArviZ's `np.std(ary, ddof=1)`). */
export function pooledSd(chains: ChainMatrix): number {
  return Math.sqrt(varOf(flatten(chains), 1));
}

/**
 * ArviZ's `autocov` along draws, for every chain: the biased (divide by n) autocovariance at
 * lags 0..n-1, via FFT of the mean-centred chain zero-padded to at least 2n so the circular
 * correlation equals the linear one. numpy pads to scipy's `next_fast_len(2n)` and fft.js needs a
 * power of two; any padding >= 2n - 1 gives the same exact values, so only rounding differs.
 */
export function autocovariance(chains: ChainMatrix): Float64Array[] {
  const n = chains[0]!.length;
  let size = 2;
  while (size < 2 * n) size *= 2;
  const fft = new FFT(size);
  const input = new Array<number>(size);
  const spectrum = fft.createComplexArray() as number[];
  const back = fft.createComplexArray() as number[];
  return chains.map((chain) => {
    const mu = meanOf(chain);
    for (let i = 0; i < size; i++) input[i] = i < n ? chain[i]! - mu : 0;
    fft.realTransform(spectrum, input);
    fft.completeSpectrum(spectrum);
    for (let k = 0; k < size; k++) {
      const re = spectrum[2 * k]!;
      const im = spectrum[2 * k + 1]!;
      spectrum[2 * k] = re * re + im * im;
      spectrum[2 * k + 1] = 0;
    }
    fft.inverseTransform(back, spectrum);
    const acov = new Float64Array(n);
    for (let t = 0; t < n; t++) acov[t] = back[2 * t]! / n;
    return acov;
  });
}

/**
 * ArviZ's `_ess` on an already prepared (split / z-scaled / indicator) matrix: Geyer's initial
 * positive sequence, then the initial monotone sequence, then the cap tau >= 1/log10(N), i.e.
 * ESS <= N log10(N) (antithetic chains can otherwise give absurdly large ESS).
 */
export function essRaw(chains: ChainMatrix): number {
  const nChain = chains.length;
  const nDraw = chains[0]!.length;
  let lo = Infinity;
  let hi = -Infinity;
  for (const c of chains) {
    for (let i = 0; i < c.length; i++) {
      const v = c[i]!;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  // ArviZ's guard for (near-)constant input, numpy's float64 `finfo.resolution` = 1e-15.
  if (hi - lo < 1e-15) return nChain * nDraw;

  const acov = autocovariance(chains);
  const chainMean = chains.map(meanOf);
  const meanAcovAt = (t: number): number => {
    let s = 0;
    for (let j = 0; j < nChain; j++) s += acov[j]![t]!;
    return s / nChain;
  };
  const meanVar = (meanAcovAt(0) * nDraw) / (nDraw - 1);
  let varPlus = (meanVar * (nDraw - 1)) / nDraw;
  if (nChain > 1) varPlus += varOf(chainMean, 1);

  const rho = new Float64Array(nDraw);
  let rhoEven = 1;
  rho[0] = rhoEven;
  let rhoOdd = 1 - (meanVar - meanAcovAt(1)) / varPlus;
  rho[1] = rhoOdd;

  // Geyer's initial positive sequence: sum lag pairs while their sum stays positive.
  let t = 1;
  while (t < nDraw - 3 && rhoEven + rhoOdd > 0) {
    rhoEven = 1 - (meanVar - meanAcovAt(t + 1)) / varPlus;
    rhoOdd = 1 - (meanVar - meanAcovAt(t + 2)) / varPlus;
    if (rhoEven + rhoOdd >= 0) {
      rho[t + 1] = rhoEven;
      rho[t + 2] = rhoOdd;
    }
    t += 2;
  }
  const maxT = t - 2;
  // ArviZ keeps the last even autocorrelation when positive ("improve estimation").
  if (rhoEven > 0) rho[maxT + 1] = rhoEven;

  // Geyer's initial monotone sequence: pair sums may not increase.
  t = 1;
  while (t <= maxT - 2) {
    if (rho[t + 1]! + rho[t + 2]! > rho[t - 1]! + rho[t]!) {
      rho[t + 1] = (rho[t - 1]! + rho[t]!) / 2;
      rho[t + 2] = rho[t + 1]!;
    }
    t += 2;
  }

  const total = nChain * nDraw;
  let sumHead = 0;
  for (let i = 0; i <= maxT; i++) sumHead += rho[i]!;
  const tail = maxT + 1 < nDraw ? rho[maxT + 1]! : 0;
  let tau = -1 + 2 * sumHead + tail;
  tau = Math.max(tau, 1 / Math.log10(total));
  for (let i = 0; i < nDraw; i++) if (Number.isNaN(rho[i]!)) return Number.NaN;
  return total / tau;
}

/** ArviZ's `_rhat`: the classic potential scale reduction of already split chains. */
export function rhatRaw(chains: ChainMatrix): number {
  const n = chains[0]!.length;
  const chainMean = chains.map(meanOf);
  const chainVar = chains.map((c) => varOf(c, 1));
  const between = n * varOf(chainMean, 1);
  const within = meanOf(chainVar);
  return Math.sqrt((between / within + n - 1) / n);
}

/**
 * Python's built-in max/min of two floats, which ArviZ uses: they skip a NaN in the second
 * position but return one in the first (a folded R-hat that is NaN because all folded draws tie,
 * e.g. draws alternating +-1 around the median, leaves the bulk R-hat as the answer).
 */
function pyMax(x: number, y: number): number {
  return y > x ? y : x;
}

function pyMin(x: number, y: number): number {
  return y < x ? y : x;
}

/** Rank-normalised split R-hat: max of the bulk and the folded (tail) versions. */
export function rhatRank(chains: ChainMatrix): number {
  const split = splitChains(chains);
  const bulk = rhatRaw(zScale(split));
  const med = median(split);
  const tail = rhatRaw(zScale(mapMatrix(split, (x) => Math.abs(x - med))));
  return pyMax(bulk, tail);
}

/** Bulk ESS: ESS of the rank-normalised split chains. */
export function essBulkRaw(chains: ChainMatrix): number {
  return essRaw(zScale(splitChains(chains)));
}

/**
 * scipy `mstats.mquantiles(alphap=1, betap=1)` (R type 7, numpy's 'linear') of all draws,
 * written in mquantiles' own arithmetic so a quantile that lands on a draw does so exactly.
 */
export function quantileType7(chains: ChainMatrix, p: number): number {
  const sorted = flatten(chains).sort();
  const n = sorted.length;
  const m = 1 + p * (1 - 1 - 1);
  const aleph = n * p + m;
  const k = Math.floor(Math.min(Math.max(aleph, 1), n - 1));
  const gamma = Math.min(Math.max(aleph - k, 0), 1);
  return (1 - gamma) * sorted[k - 1]! + gamma * sorted[k]!;
}

/** ESS of the indicator draw <= quantile(p), quantile taken over all (unsplit) draws. */
export function essQuantileRaw(chains: ChainMatrix, p: number): number {
  const q = quantileType7(chains, p);
  return essRaw(splitChains(mapMatrix(chains, (x) => (x <= q ? 1 : 0))));
}

/** Tail ESS: the smaller of the 5% and 95% quantile ESS. */
export function essTailRaw(chains: ChainMatrix): number {
  const low = essQuantileRaw(chains, 0.05);
  const high = essQuantileRaw(chains, 0.95);
  return pyMin(low, high);
}

/** ESS for the mean: ESS of the split chains on their original scale (no rank normalisation). */
export function essMeanRaw(chains: ChainMatrix): number {
  return essRaw(splitChains(chains));
}

/** MCSE of the mean: sd (ddof 1, all draws) / sqrt(ESS for the mean). */
export function mcseMeanRaw(chains: ChainMatrix): number {
  return pooledSd(chains) / Math.sqrt(essMeanRaw(chains));
}
