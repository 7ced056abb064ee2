/**
 * Adam (Kingma & Ba 2015), the one implementation of its moment estimates that training, VI and
 * Adam/RMSProp-SGLD share:
 *
 *   m <- b1 m + (1 - b1) g,   v <- b2 v + (1 - b2) g^2,   after t updates
 *   mhat = m / (1 - b1^t),    vhat = v / (1 - b2^t)
 *
 * and the step theta +/-= lr mhat / (sqrt(vhat) + eps). Each user keeps the arithmetic it has
 * always had, so fixed seeds give the numbers they gave: VI steps with adamStepInto; SGLD uses
 * vhat as its preconditioner and mhat as its drift (kernels/sgld.ts); training steps in the
 * paper's equivalent "efficient" form, lr sqrt(1 - b2^t) / (1 - b1^t) m / (sqrt(v) + eps
 * sqrt(1 - b2^t)), with b^t as running products (targets/train.ts).
 */

/** One gradient into the moments, in place; m null updates v alone (RMSProp). */
export function updateMoments(m: Float64Array | null, v: Float64Array, g: Float64Array, beta1: number, beta2: number): void {
  for (let i = 0; i < g.length; i++) {
    const gi = g[i]!;
    v[i] = beta2 * v[i]! + (1 - beta2) * gi * gi;
    if (m !== null) m[i] = beta1 * m[i]! + (1 - beta1) * gi;
  }
}

/** 1 - beta^t: the bias correction of a moment after t updates from 0. */
export function biasCorrection(beta: number, t: number): number {
  return 1 - beta ** t;
}

/**
 * theta_j += sign lr_j mhat_j / (sqrt(vhat_j) + eps) after t updates (sign +1: ascent), with
 * a learning rate per parameter.
 */
export function adamStepInto(
  theta: Float64Array,
  m: Float64Array,
  v: Float64Array,
  t: number,
  o: { beta1: number; beta2: number; eps: number; lr: Float64Array; sign: 1 | -1 },
): void {
  const c1 = biasCorrection(o.beta1, t);
  const c2 = biasCorrection(o.beta2, t);
  for (let j = 0; j < theta.length; j++) {
    const step = (o.lr[j]! * (m[j]! / c1)) / (Math.sqrt(v[j]! / c2) + o.eps);
    theta[j] = o.sign > 0 ? theta[j]! + step : theta[j]! - step;
  }
}
