// The native engine: the same network as ts-model.ts, computed by the C++ addon (native/) in one
// call per evaluation: gather, forward, loss, backward and the gradient all run natively, on the
// kernel build chosen for the CPU (AVX-512, AVX2 + FMA or SSE2). The addon owns the model's
// buffers (a copy of the data in the compute dtype and activations for at most 1024 rows at a
// time), sized once at creation, so no call allocates and memory does not grow with n.
import { checkGrad, checkPredictInput, checkRows, checkTheta, ModelBase } from './spec.js';
import type { NativeAddon, NativeHandle } from './native-addon.js';
import type { CreateModelOptions, NativeKernels, NetworkModel } from './types.js';

/** The addon's loss kinds (native/engine.h LossKind). */
const LOSS_KIND = { mse: 0, student_t: 1, cross_entropy: 2 } as const;

export class NativeModel extends ModelBase implements NetworkModel {
  readonly impl = 'native' as const;
  readonly kernels: NativeKernels;
  private readonly addon: NativeAddon;
  private handle: NativeHandle | null;

  constructor(opts: CreateModelOptions, addon: NativeAddon, kernels: NativeKernels) {
    super(opts);
    this.addon = addon;
    this.kernels = kernels;
    const loss = opts.loss;
    this.handle = addon.create({
      kernels,
      sizes: Float64Array.from(opts.spec.sizes),
      act: this.act,
      bias: opts.spec.bias ? 1 : 0,
      layerNorm: opts.spec.layerNorm ? 1 : 0,
      lossKind: LOSS_KIND[loss.kind],
      nu: loss.kind === 'student_t' ? loss.nu : 0,
      sigma: loss.kind === 'student_t' ? loss.sigma : 0,
      single: opts.dtype === 'float32' ? 1 : 0,
      n: this.n,
      X: opts.data.X,
      Y: opts.data.Y,
    });
  }

  private alive(): NativeHandle {
    if (this.handle === null) throw new Error('model has been disposed');
    return this.handle;
  }

  loss(theta: Float64Array, rows?: Int32Array): number {
    const h = this.alive();
    checkTheta(theta, this.dim);
    checkRows(rows, this.n);
    return this.addon.lossGrad(h, theta, null, rows ?? null);
  }

  lossAndGrad(theta: Float64Array, grad: Float64Array, rows?: Int32Array): number {
    const h = this.alive();
    checkTheta(theta, this.dim);
    checkGrad(grad, this.dim);
    checkRows(rows, this.n);
    return this.addon.lossGrad(h, theta, grad, rows ?? null);
  }

  predict(theta: Float64Array, X: Float64Array, rows: number): Float64Array {
    const h = this.alive();
    checkTheta(theta, this.dim);
    checkPredictInput(X, rows, this.inDim);
    const result = new Float64Array(rows * this.outDim);
    this.addon.predict(h, theta, X, rows, result);
    return result;
  }

  dispose(): void {
    if (this.handle !== null) this.addon.dispose(this.handle);
    this.handle = null;
  }
}
