/**
 * Limited-memory BFGS with a backtracking (Armijo) line search, for driving a trained network's
 * weights to a critical point of L_n. First-order optimisers such as Adam end their runs
 * oscillating at a gradient norm set by their learning rate; the LLC is a property of a critical
 * point, and a residual gradient g at w* biases every sampler by a drift of n·beta·|g| along the
 * flat directions. A quasi-Newton step removes the oscillation in a few iterations.
 */

export interface LbfgsObjective {
  readonly dim: number;
  /** Writes dL/dw into grad and returns L(w). */
  lossAndGrad(w: Float64Array, grad: Float64Array): number;
}

export interface LbfgsOptions {
  /** Iterations (each one line search, usually one evaluation). */
  maxIter: number;
  /** Stop once |grad| <= gradTol. */
  gradTol: number;
  /** Curvature pairs kept (the "m" of L-BFGS). */
  memory?: number;
  /** Applied to every trial point (e.g. rounding to float32), so the result is representable. */
  project?: (w: Float64Array) => void;
  /** Called after every iteration with the current iterate's loss and gradient norm. */
  onIter?: (iter: number, loss: number, gradNorm: number) => void;
}

export interface LbfgsResult {
  /** The iterate with the smallest gradient norm seen (the start included). */
  w: Float64Array;
  loss: number;
  gradNorm: number;
  iterations: number;
  evaluations: number;
  /** Why it stopped. */
  reason: 'converged' | 'max_iter' | 'line_search' | 'non_finite';
}

function dot(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

const ARMIJO_C = 1e-4;
const MAX_HALVINGS = 30;

export function lbfgs(f: LbfgsObjective, w0: Float64Array, opts: LbfgsOptions): LbfgsResult {
  const d = f.dim;
  const memory = opts.memory ?? 10;
  const x = Float64Array.from(w0);
  opts.project?.(x);
  const g = new Float64Array(d);
  let fx = f.lossAndGrad(x, g);
  let evaluations = 1;
  let gn = Math.sqrt(dot(g, g));
  const best = { w: Float64Array.from(x), loss: fx, gradNorm: gn };
  if (!Number.isFinite(fx) || !Number.isFinite(gn)) {
    return { ...best, iterations: 0, evaluations, reason: 'non_finite' };
  }
  const S: Float64Array[] = [];
  const Y: Float64Array[] = [];
  const rho: number[] = [];
  const alpha = new Float64Array(memory);
  const p = new Float64Array(d);
  const xn = new Float64Array(d);
  const gnew = new Float64Array(d);
  let spare: { s: Float64Array; y: Float64Array } = { s: new Float64Array(d), y: new Float64Array(d) };
  let reason: LbfgsResult['reason'] = 'max_iter';
  let iter = 0;
  for (; iter < opts.maxIter; iter++) {
    if (gn <= opts.gradTol) {
      reason = 'converged';
      break;
    }
    // Two-loop recursion: p = -H g, with H0 scaled by the newest pair's s.y / y.y.
    p.set(g);
    for (let k = S.length - 1; k >= 0; k--) {
      const a = rho[k]! * dot(S[k]!, p);
      alpha[k] = a;
      const y = Y[k]!;
      for (let i = 0; i < d; i++) p[i] = p[i]! - a * y[i]!;
    }
    // Without curvature pairs the first step moves a distance 1e-3 along -g: small enough for a
    // trained network, and the line search shrinks it further if needed.
    const h0 = S.length > 0 ? 1 / (rho[S.length - 1]! * dot(Y[S.length - 1]!, Y[S.length - 1]!)) : 1e-3 / gn;
    for (let i = 0; i < d; i++) p[i] = p[i]! * h0;
    for (let k = 0; k < S.length; k++) {
      const b = rho[k]! * dot(Y[k]!, p);
      const s = S[k]!;
      for (let i = 0; i < d; i++) p[i] = p[i]! + s[i]! * (alpha[k]! - b);
    }
    for (let i = 0; i < d; i++) p[i] = -p[i]!;
    let slope = dot(g, p);
    if (!(slope < 0)) {
      // Not a descent direction (curvature pairs gone stale): restart from steepest descent.
      S.length = 0;
      Y.length = 0;
      rho.length = 0;
      for (let i = 0; i < d; i++) p[i] = -g[i]! * (1e-3 / gn);
      slope = dot(g, p);
    }
    let t = 1;
    let fn = NaN;
    let accepted = false;
    for (let h = 0; h < MAX_HALVINGS; h++) {
      for (let i = 0; i < d; i++) xn[i] = x[i]! + t * p[i]!;
      opts.project?.(xn);
      fn = f.lossAndGrad(xn, gnew);
      evaluations++;
      if (Number.isFinite(fn) && fn <= fx + ARMIJO_C * t * slope) {
        accepted = true;
        break;
      }
      t *= 0.5;
    }
    if (!accepted) {
      reason = Number.isFinite(fn) ? 'line_search' : 'non_finite';
      break;
    }
    const s = spare.s;
    const y = spare.y;
    for (let i = 0; i < d; i++) {
      s[i] = xn[i]! - x[i]!;
      y[i] = gnew[i]! - g[i]!;
    }
    const sy = dot(s, y);
    // Skip pairs without positive curvature (non-convex regions), which would break H's definiteness.
    if (sy > 1e-12 * dot(y, y)) {
      S.push(s);
      Y.push(y);
      rho.push(1 / sy);
      // The pair that falls out of memory lends its arrays to the next one (no allocation per
      // iteration once memory is full); a rejected pair's arrays are simply written again.
      if (S.length > memory) {
        spare = { s: S.shift()!, y: Y.shift()! };
        rho.shift();
      } else {
        spare = { s: new Float64Array(d), y: new Float64Array(d) };
      }
    }
    x.set(xn);
    g.set(gnew);
    fx = fn;
    gn = Math.sqrt(dot(g, g));
    if (gn < best.gradNorm) {
      best.w.set(x);
      best.loss = fx;
      best.gradNorm = gn;
    }
    opts.onIter?.(iter + 1, fx, gn);
  }
  if (reason === 'max_iter' && gn <= opts.gradTol) reason = 'converged';
  return { ...best, iterations: iter, evaluations, reason };
}
