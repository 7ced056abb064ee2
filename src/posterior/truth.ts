/**
 * Known learning coefficients, the ground truth LLC estimates are checked against.
 *
 * - Deep linear networks: Aoyagi's theorem (Aoyagi 2024, "Consideration on the learning
 *   efficiency of multiple-layered neural networks with linear units", Neural Networks 172),
 *   as restated in Furman & Lau 2024 (arXiv 2402.03698), Theorem B.1. Exact rationals.
 * - Regular models: d/2.
 * - The quadratic target L(w) = ½|w - w*|², exactly for the posterior and for the stationary law
 *   of the discretised Langevin samplers, so sampler bias can be told from estimator error.
 */

/** An exact rational, always normalised: den > 0 and gcd(num, den) = 1. */
export interface Rational {
  readonly num: bigint;
  readonly den: bigint;
}

function gcd(a: bigint, b: bigint): bigint {
  let x = a < 0n ? -a : a;
  let y = b < 0n ? -b : b;
  while (y !== 0n) [x, y] = [y, x % y];
  return x;
}

export function rational(num: bigint, den: bigint = 1n): Rational {
  if (den === 0n) throw new RangeError('rational with zero denominator');
  const sign = den < 0n ? -1n : 1n;
  const g = gcd(num, den) || 1n;
  return { num: (sign * num) / g, den: (sign * den) / g };
}

const add = (a: Rational, b: Rational): Rational =>
  rational(a.num * b.den + b.num * a.den, a.den * b.den);
const mul = (a: Rational, b: Rational): Rational => rational(a.num * b.num, a.den * b.den);
const neg = (a: Rational): Rational => rational(-a.num, a.den);

/** Nearest double to the rational (exact for the halves and quarters Aoyagi's formula gives). */
export function rationalToNumber(r: Rational): number {
  const whole = r.num / r.den;
  const rest = r.num - whole * r.den;
  return Number(whole) + Number(rest) / Number(r.den);
}

/** "13/2", or "50" for integers. */
export function rationalToString(r: Rational): string {
  return r.den === 1n ? r.num.toString() : `${r.num}/${r.den}`;
}

/** ceil(a / b) for b > 0. */
function ceilDiv(a: bigint, b: bigint): bigint {
  const q = a / b; // truncates toward zero
  return a % b === 0n || a < 0n ? q : q + 1n;
}

export interface DlnTruth {
  /** Learning coefficient λ as a double (exact: it is a multiple of 1/(4ℓ) of modest size). */
  lambda: number;
  /** λ exactly. */
  lambdaExact: Rational;
  /** Its multiplicity (order of the pole), m = a(ℓ - a) + 1. */
  multiplicity: number;
  /** Number of parameters Σ H_i H_{i+1} (no biases). */
  d: number;
  /** Indices into `widths` of the subset Σ the theorem selects. */
  sigma: number[];
  /** |Σ| - 1. */
  ell: number;
  /** a = Σ M_j - (⌈Σ M_j / ℓ⌉ - 1) ℓ, in 1..ℓ. */
  a: number;
}

function checkWidths(widths: readonly number[], rank: number): void {
  if (widths.length < 2) {
    throw new RangeError(`a deep linear network needs at least 2 widths [in, out], got ${widths.length}`);
  }
  widths.forEach((w, i) => {
    if (!Number.isSafeInteger(w) || w <= 0) {
      throw new RangeError(`widths must be positive integers, width ${i} is ${w}`);
    }
  });
  if (!Number.isSafeInteger(rank) || rank < 0) {
    throw new RangeError(`rank must be a non-negative integer, got ${rank}`);
  }
  const minWidth = Math.min(...widths);
  if (rank > minWidth) {
    throw new RangeError(
      `rank ${rank} exceeds the smallest width ${minWidth}: the product of the layers cannot have it`,
    );
  }
}

/**
 * Aoyagi's learning coefficient of the deep linear network x -> W_L ... W_1 x with
 * widths = [H_1, ..., H_{L+1}] (input, hidden..., output; the formula is symmetric in H_1 and
 * H_{L+1}) at a true parameter whose product has rank r.
 *
 * With M_j = H_j - r, take Σ, |Σ| = ℓ + 1 >= 2, such that
 *   max_{Σ} M_j < min_{not Σ} M_k,   Σ_{Σ} M_j >= ℓ max_{Σ} M_j,   Σ_{Σ} M_j < ℓ min_{not Σ} M_k;
 * then with M = ⌈Σ_{Σ} M_j / ℓ⌉ and a = Σ_{Σ} M_j - (M - 1) ℓ,
 *   λ = (-r² + r(H_1 + H_{L+1}))/2 + a(ℓ - a)/(4ℓ) - ℓ(ℓ - 1)/4 · (Σ_{Σ} M_j / ℓ)²
 *       + ½ Σ_{j<k in Σ} M_j M_k,
 *   m = a(ℓ - a) + 1.
 *
 * Σ is found among the prefixes of the M_j sorted ascending (the first condition forces Σ to be
 * "the ℓ + 1 smallest"): take the shortest prefix of length >= 2 whose sum T satisfies
 * T < ℓ M_next, or all of them. The other two conditions then hold automatically (T >= ℓ max
 * holds for every prefix up to the first stop, by induction, and T >= ℓ M_max together with
 * T < ℓ M_next forces M_max < M_next), and no other prefix qualifies, so Σ is unique up to
 * permuting equal M_j, which does not change λ.
 */
export function dlnLearningCoefficient(widths: readonly number[], rank: number): DlnTruth {
  checkWidths(widths, rank);
  const r = BigInt(rank);
  const H = widths.map((w) => BigInt(w));
  const M = H.map((h) => h - r);
  const order = M.map((_, i) => i).sort((i, j) => (M[i]! < M[j]! ? -1 : M[i]! > M[j]! ? 1 : i - j));

  let size = order.length;
  let total = M[order[0]!]!;
  for (let k = 1; k < order.length; k++) {
    total += M[order[k]!]!;
    const ell = BigInt(k);
    if (k + 1 < order.length && total < ell * M[order[k + 1]!]!) {
      size = k + 1;
      break;
    }
  }
  const sigma = order.slice(0, size).sort((i, j) => i - j);
  const Ms = sigma.map((i) => M[i]!);
  const T = Ms.reduce((s, v) => s + v, 0n);
  const ell = BigInt(size - 1);
  const Mceil = ceilDiv(T, ell);
  const a = T - (Mceil - 1n) * ell;

  let pairs = 0n;
  for (let i = 0; i < Ms.length; i++) for (let j = i + 1; j < Ms.length; j++) pairs += Ms[i]! * Ms[j]!;

  const h1 = H[0]!;
  const hLast = H[H.length - 1]!;
  let lambda = rational(-r * r + r * (h1 + hLast), 2n);
  lambda = add(lambda, rational(a * (ell - a), 4n * ell));
  lambda = add(lambda, neg(mul(rational(ell * (ell - 1n), 4n), rational(T * T, ell * ell))));
  lambda = add(lambda, rational(pairs, 2n));

  let d = 0;
  for (let i = 0; i + 1 < widths.length; i++) d += widths[i]! * widths[i + 1]!;

  return {
    lambda: rationalToNumber(lambda),
    lambdaExact: lambda,
    multiplicity: Number(a * (ell - a) + 1n),
    d,
    sigma,
    ell: Number(ell),
    a: Number(a),
  };
}

/** Learning coefficient of a regular model with d parameters. */
export function regularLambda(d: number): number {
  return d / 2;
}

/** Posterior settings of the quadratic target: tempered likelihood nβ, localisation γ. */
export interface QuadraticSetting {
  /** Dimension of w. */
  d: number;
  /** Number of samples n. */
  n: number;
  /** Inverse temperature β (often 1 / ln n). */
  beta: number;
  /** Localisation strength γ of the prior N(w*, I/γ) centred at w* (0 for none). */
  gamma: number;
}

function precision(s: { n: number; beta: number; gamma: number }): { nb: number; a: number } {
  const nb = s.n * s.beta;
  const a = nb + s.gamma;
  if (!(nb > 0) || !(s.gamma >= 0)) {
    throw new RangeError(`need n·β > 0 and γ >= 0, got n·β = ${nb}, γ = ${s.gamma}`);
  }
  return { nb, a };
}

/**
 * Exact λ̂ = nβ (E[L] - L(w*)) for L(w) = ½|w - w*|² under the localised tempered posterior
 * exp(-nβ L(w) - γ/2 |w - w*|²): each coordinate is N(w*, 1/a) with a = nβ + γ, so
 * E[nβ L] = nβ · d/2 · 1/a = (d/2) · nβ/(nβ + γ). Tends to d/2 as γ/(nβ) -> 0.
 */
export function quadraticPosteriorLambda(s: QuadraticSetting): number {
  const { nb, a } = precision(s);
  return (s.d / 2) * (nb / a);
}

/**
 * λ̂ that SGLD / ULA with full gradients and step ε converges to on the quadratic target.
 *
 * Convention (Welling & Teh; devinterp): w' = w - (ε/2) ∇U(w) + N(0, ε I) with
 * U = nβ L + γ/2 |w - w*|². Per coordinate x = w - w*: x' = (1 - εa/2) x + √ε ξ, an AR(1) whose
 * stationary variance v solves v = (1 - εa/2)² v + ε, i.e.
 *   v = ε / (εa - ε²a²/4) = 1 / (a (1 - εa/4)),
 * inflated over the exact 1/a. Then E[nβ L] = nβ · d/2 · v = (d/2) (nβ/a) / (1 - εa/4).
 * The chain is stable only for 0 < εa < 4; beyond that there is no stationary law and this throws.
 */
export function quadraticUlaLambda(s: QuadraticSetting & { stepSize: number }): number {
  const { nb, a } = precision(s);
  return (s.d / 2) * ulaFactor(nb, a, s.stepSize);
}

function ulaFactor(nb: number, a: number, eps: number): number {
  if (!(eps > 0) || !(eps * a < 4)) {
    throw new RangeError(
      `ULA on the quadratic target needs 0 < ε·a < 4 (a = nβ + γ = ${a}), got ε = ${eps}: ` +
        'the chain has no stationary distribution',
    );
  }
  return nb / a / (1 - (eps * a) / 4);
}

/**
 * The same for preconditioned SGLD with a fixed step ε_i per coordinate (the preconditioner
 * folded into the step): coordinates are independent AR(1) chains, each as in
 * `quadraticUlaLambda` with its own ε_i, so λ̂ = Σ_i ½ (nβ/a) / (1 - ε_i a/4). The dimension is
 * the number of steps given.
 */
export function quadraticPreconditionedUlaLambda(s: {
  n: number;
  beta: number;
  gamma: number;
  stepSizes: ArrayLike<number>;
}): number {
  const { nb, a } = precision(s);
  let total = 0;
  for (let i = 0; i < s.stepSizes.length; i++) total += 0.5 * ulaFactor(nb, a, s.stepSizes[i]!);
  return total;
}

/**
 * Reduced-rank regression y = B A x (A: H x M, B: N x H; M inputs, H the inner width, N
 * outputs) with a true map of rank r: Aoyagi & Watanabe's learning coefficient (Aoyagi and
 * Watanabe 2005, "Stochastic complexities of reduced rank regression in Bayesian estimation",
 * Neural Networks 18), as in Furman & Lau 2024 (arXiv 2402.03698), Theorem A.1:
 *   N + r <= M + H, M + r <= N + H, H + r <= M + N:
 *     M + H + N + r even: ((H + r)(M + N) - (M - N)^2 / 2 - (H + r)^2 / 2) / 4... written as
 *     lambda = (2 (H + r)(M + N) - (M - N)^2 - (H + r)^2) / 8, m = 1;
 *     odd: lambda = (2 (H + r)(M + N) - (M - N)^2 - (H + r)^2 + 1) / 8, m = 2;
 *   M + H < N + r: lambda = (H M - H r + N r) / 2;  N + H < M + r: (H N - H r + M r) / 2;
 *   M + N < H + r: M N / 2 (each with m = 1).
 * It is the two-layer case of Aoyagi's deep linear theorem (dlnLearningCoefficient), which the
 * tests check over a grid of shapes: two derivations that must agree.
 */
export function rrrLearningCoefficient(M: number, H: number, N: number, r: number): { lambda: number; multiplicity: number } {
  if (![M, H, N].every((v) => Number.isSafeInteger(v) && v > 0) || !Number.isSafeInteger(r) || r < 0 || r > Math.min(M, H, N)) {
    throw new RangeError(`reduced-rank regression needs positive widths and 0 <= r <= min(M, H, N); got M=${M} H=${H} N=${N} r=${r}`);
  }
  if (M + H < N + r) return { lambda: (H * M - H * r + N * r) / 2, multiplicity: 1 };
  if (N + H < M + r) return { lambda: (H * N - H * r + M * r) / 2, multiplicity: 1 };
  if (M + N < H + r) return { lambda: (M * N) / 2, multiplicity: 1 };
  const core = 2 * (H + r) * (M + N) - (M - N) ** 2 - (H + r) ** 2;
  return (M + H + N + r) % 2 === 0 ? { lambda: core / 8, multiplicity: 1 } : { lambda: (core + 1) / 8, multiplicity: 2 };
}

/** K(w) = prod_i w_i^(2 k_i) near 0: lambda = 1 / (2 max k), multiplicity #{i : k_i = max k}. */
export function normalCrossingLambda(exponents: readonly number[]): { lambda: number; multiplicity: number } {
  const kMax = Math.max(...exponents);
  return { lambda: 1 / (2 * kMax), multiplicity: exponents.filter((k) => k === kMax).length };
}

/** K(w) = 1/2 sum_i w_i^p_i (p_i even): lambda = sum_i 1 / p_i, multiplicity 1. */
export function monomialLambda(powers: readonly number[]): number {
  return powers.reduce((s, p) => s + 1 / p, 0);
}

/**
 * For the 1-D density exp(-u t^q - gamma t^2 / 2) (q even, u >= 0): its normaliser Z and
 * M = integral of u t^q times the density. The density lives within a few times
 * min(u^(-1/q), gamma^(-1/2)) of 0; the grid covers 12 of those scales.
 */
function powerMoments(u: number, q: number, gamma: number, intervals: number): { Z: number; M: number } {
  const scale = Math.min(u > 0 ? u ** (-1 / q) : Number.POSITIVE_INFINITY, 1 / Math.sqrt(gamma));
  const L = 12 * scale;
  // Simpson on [0, L] for both integrals in one pass (the density is even).
  const m = intervals % 2 === 0 ? intervals : intervals + 1;
  const h = L / m;
  let Z = 0;
  let M = 0;
  for (let i = 0; i <= m; i++) {
    const t = i * h;
    const ut = u * t ** q;
    const e = (i === 0 || i === m ? 1 : i % 2 === 1 ? 4 : 2) * Math.exp(-ut - 0.5 * gamma * t * t);
    Z += e;
    M += ut * e;
  }
  return { Z: (2 * Z * h) / 3, M: (2 * M * h) / 3 };
}

/**
 * The LLC of the localized tempered posterior exp(-gamma/2 |w|^2 - n beta L_n(w)) EXACTLY (at
 * this n, not asymptotically), for the separable monomials L_n = 1/2 sum_i s_i w_i^p_i:
 * sum_i E[n beta s_i w_i^p_i / 2], each a 1-D integral (Simpson; relative error < 1e-9).
 * Its gap to sum 1/p_i is the finite-n bias of the target itself (the localiser's pull).
 */
export function monomialPosteriorLlc(s: { powers: readonly number[]; scales: ArrayLike<number>; nBeta: number; gamma: number }): number {
  let total = 0;
  s.powers.forEach((p, i) => {
    const { Z, M } = powerMoments((s.nBeta * s.scales[i]!) / 2, p, s.gamma, 4000);
    total += M / Z;
  });
  return total;
}

/**
 * The same exact posterior LLC for the two-variable normal crossing L_n = s/2 w1^(2 k1) w2^(2 k2):
 * E[c w1^(2 k1) w2^(2 k2)], c = n beta s / 2, integrating w1 in closed 1-D form for each w2
 * (u = c w2^(2 k2)) and w2 against the localiser's Gaussian.
 */
export function normalCrossingPosteriorLlc(s: { exponents: readonly [number, number]; scale: number; nBeta: number; gamma: number }): number {
  const [k1, k2] = s.exponents;
  const c = (s.nBeta * s.scale) / 2;
  const g = s.gamma;
  const L = 12 / Math.sqrt(g);
  // Even in w2: integrate [0, L]. The outer integrand changes on the scale s0 = c^(-1/(2 k2))
  // (where u = c w2^(2 k2) reaches 1) and then decays like a power of w2 out to the localiser's
  // scale, so a uniform grid either misses s0 at large n beta or wastes points: Simpson on
  // geometric panels [0, s0/16], then each panel twice as long as the last, up to L.
  const s0 = Math.min(L, c > 0 ? c ** (-1 / (2 * k2)) : L);
  const edges = [0];
  for (let e = s0 / 16; e < L; e *= 2) edges.push(e);
  edges.push(L);
  const per = 128;
  let num = 0;
  let den = 0;
  for (let p = 0; p + 1 < edges.length; p++) {
    const a = edges[p]!;
    const h = (edges[p + 1]! - a) / per;
    for (let i = 0; i <= per; i++) {
      const w2 = a + i * h;
      const weight = h * (i === 0 || i === per ? 1 : i % 2 === 1 ? 4 : 2) * Math.exp(-0.5 * g * w2 * w2);
      const { Z, M } = powerMoments(c * w2 ** (2 * k2), 2 * k1, g, 600);
      num += weight * M;
      den += weight * Z;
    }
  }
  return num / den;
}
