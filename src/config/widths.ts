/**
 * The Python system's width solver: equal hidden widths h for `depth` layers such that the
 * MLP (with biases) has about `targetParams` parameters, rounded down.
 *   depth 1: h = max(1, floor((P - out) / (in + 1)))
 *   else:    h = floor((-b + sqrt(b^2 + 4 a P)) / (2a)), a = depth - 1, b = (in+1) + (depth-1) + out
 */
export function solveWidths(inDim: number, outDim: number, depth: number, targetParams: number): number[] {
  for (const [name, v] of [['in_dim', inDim], ['out_dim', outDim], ['depth', depth], ['target_params', targetParams]] as const) {
    if (!Number.isInteger(v) || v <= 0) throw new Error(`width solver: ${name} must be a positive integer, got ${v}`);
  }
  let h: number;
  if (depth === 1) {
    h = Math.max(1, Math.floor((targetParams - outDim) / (inDim + 1)));
  } else {
    const a = depth - 1;
    const b = inDim + 1 + (depth - 1) + outDim;
    h = Math.max(1, Math.floor((-b + Math.sqrt(b * b + 4 * a * targetParams)) / (2 * a)));
  }
  return new Array<number>(depth).fill(h);
}

/** Parameter count of an MLP with the given layer sizes. */
export function mlpParamCount(sizes: readonly number[], bias: boolean): number {
  let p = 0;
  for (let k = 0; k + 1 < sizes.length; k++) p += sizes[k]! * sizes[k + 1]! + (bias ? sizes[k + 1]! : 0);
  return p;
}
