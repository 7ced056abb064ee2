/**
 * Plots of a run's target: the training loss curve (meta.json `training.loss_curve`) and the
 * student's predictions at w* against the teacher-generated targets Y (data.safetensors), for
 * network targets. The quadratic target has neither, so it gives no plots.
 *
 * They are drawn into the run's own plots/ directory (target_*.svg|png) rather than into the
 * target directory: a target directory is content-addressed and written once by its build.
 */
import { existsSync, readFileSync } from 'node:fs';
import { targetFiles } from '../store/layout.js';
import { targetMeta, tryReadContractFile, type TargetMeta } from '../contracts/index.js';
import { forward, studentSpec } from '../targets/networks.js';
import { layerShapes } from '../engine/spec.js';
import { decodeSafetensors } from '../store/safetensors.js';
import type { PlotSpec } from './run-plots.js';

/** Rows drawn in the predictions scatter: enough to see the fit, small enough for an SVG. */
const MAX_ROWS = 400;

/** A target's meta.json, or null when it is missing or off-contract (then it has no plots). */
export function readTargetMeta(targetDirPath: string): TargetMeta | null {
  return tryReadContractFile(targetFiles(targetDirPath).meta, targetMeta) ?? null;
}

function lossSpec(meta: TargetMeta): PlotSpec | null {
  const curve = meta.training?.loss_curve;
  if (!curve || !Array.isArray(curve.step) || curve.step.length === 0) return null;
  const values = curve.step
    .map((s, i) => ({ step: s, loss: curve.loss[i] }))
    .filter((v) => typeof v.loss === 'number' && Number.isFinite(v.loss) && v.loss > 0);
  if (values.length === 0) return null;
  return {
    name: 'target_loss',
    title: 'Target training loss',
    spec: {
      title: { text: `Training loss of target ${meta.target_id}`, subtitle: `L0 = ${Number(meta.L0.toPrecision(5))}` },
      width: 420,
      height: 220,
      data: { values },
      mark: { type: 'line', color: '#4c78a8' },
      encoding: {
        x: { field: 'step', type: 'quantitative', title: 'training step' },
        y: { field: 'loss', type: 'quantitative', title: 'training loss L_n', scale: { type: 'log' } },
      },
    },
  };
}

/** Student outputs at w* vs the data's Y (teacher outputs plus noise), first output only. */
function predictionsSpec(targetDirPath: string, meta: TargetMeta): PlotSpec | null {
  const model = meta.config?.model;
  if (!model || model.family === 'quadratic') return null;
  const spec = studentSpec(model);
  if (spec === null) return null;
  const { params: paramsPath, data: dataPath } = targetFiles(targetDirPath);
  if (!existsSync(paramsPath) || !existsSync(dataPath)) return null;
  const params = decodeSafetensors(readFileSync(paramsPath), paramsPath);
  const data = decodeSafetensors(readFileSync(dataPath), dataPath);
  const shapes = layerShapes(spec);
  const theta = new Float64Array(shapes.reduce((a, s) => a + s.size, 0));
  for (const s of shapes) {
    const t = params.tensors[s.name];
    if (!t) return null;
    theta.set(t.data, s.offset);
  }
  const X = data.tensors.X;
  const Y = data.tensors.Y;
  if (!X || !Y || X.shape.length !== 2 || Y.shape.length !== 2) return null;
  const n = X.shape[0]!;
  const inDim = X.shape[1]!;
  const outDim = Y.shape[1]!;
  const rows = Math.min(n, MAX_ROWS);
  const xs = Float64Array.from(X.data.subarray(0, rows * inDim));
  const pred = forward(spec, theta, xs, rows);
  const values: Record<string, number>[] = [];
  for (let r = 0; r < rows; r++) values.push({ teacher: Y.data[r * outDim]!, student: pred[r * outDim]! });
  const all = values.flatMap((v) => [v.teacher!, v.student!]);
  const lo = Math.min(...all);
  const hi = Math.max(...all);
  return {
    name: 'target_predictions',
    title: 'Student vs teacher',
    spec: {
      title: {
        text: `Student at w* vs teacher data (target ${meta.target_id})`,
        subtitle: `first output, ${rows} of ${n} rows; on the diagonal = perfect fit`,
      },
      width: 300,
      height: 300,
      layer: [
        {
          data: { values: [{ a: lo, b: lo }, { a: hi, b: hi }] },
          mark: { type: 'line', color: '#999', strokeDash: [4, 3] },
          encoding: {
            x: { field: 'a', type: 'quantitative', title: 'teacher output Y (with noise)' },
            y: { field: 'b', type: 'quantitative', title: 'student prediction at w*' },
          },
        },
        {
          data: { values },
          mark: { type: 'circle', size: 14, opacity: 0.6, color: '#e45756' },
          encoding: {
            x: { field: 'teacher', type: 'quantitative', title: 'teacher output Y (with noise)' },
            y: { field: 'student', type: 'quantitative', title: 'student prediction at w*' },
          },
        },
      ],
    },
  };
}

export function targetPlotSpecs(targetDirPath: string): PlotSpec[] {
  const meta = readTargetMeta(targetDirPath);
  if (meta === null) return [];
  const out: PlotSpec[] = [];
  const loss = lossSpec(meta);
  if (loss) out.push(loss);
  const preds = predictionsSpec(targetDirPath, meta);
  if (preds) out.push(preds);
  return out;
}
