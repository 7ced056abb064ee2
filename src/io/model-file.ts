/**
 * A trained network from a safetensors file: `nn.Sequential` of `nn.Linear` as PyTorch saves
 * its state_dict (`0.weight` [out, in], `0.bias` [out], `2.weight`, ...: the activations between
 * the linear layers have no parameters, so their indices are missing), a common prefix allowed
 * (`net.0.weight`, lambda-hat's own `layers.<k>.weight`), layers in order of their module index.
 * Any other naming needs the module order spelled out (`layers` option, `--layers a,b,c`).
 */
import { readFileSync } from 'node:fs';
import { decodeSafetensors, type ReadDType, type Tensor } from '../store/safetensors.js';

export interface ModelFile {
  path: string;
  /** [in, hidden..., out]. */
  sizes: number[];
  bias: boolean;
  /** Module names in layer order (`0`, `2`, `4`; `layers.0`, ...). */
  modules: string[];
  /** Source tensor names in the engine's flat order (module k: weight, then bias). */
  tensorNames: string[];
  /** The weights, flat in the engine's layout. */
  theta: Float64Array;
  /** Stored dtype of each tensor, in tensorNames order. */
  dtypes: ReadDType[];
}

export interface ReadModelOptions {
  /** Module names in layer order, for files whose names are not `<prefix><index>.weight`. */
  layers?: string[];
}

const INDEXED = /^(.*?)(\d+)\.(weight|bias)$/;

function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read the ${what} file (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

function listNames(names: string[]): string {
  const shown = names.slice(0, 12).join(', ');
  return names.length > 12 ? `${shown}, ... (${names.length} in all)` : shown;
}

/** Module order from `<prefix><index>.weight|bias` names, or null when they are not all so. */
function modulesByIndex(names: string[]): string[] | null {
  let prefix: string | null = null;
  const indices = new Set<number>();
  for (const name of names) {
    const m = INDEXED.exec(name);
    if (m === null) return null;
    if (prefix !== null && m[1] !== prefix) return null;
    prefix = m[1]!;
    indices.add(Number(m[2]));
  }
  if (prefix === null) return null;
  return [...indices].sort((a, b) => a - b).map((i) => `${prefix}${i}`);
}

export function readModelFile(path: string, opts: ReadModelOptions = {}): ModelFile {
  const file = decodeSafetensors(readBytes(path, 'model'), path);
  const tensors = file.tensors;
  const names = Object.keys(tensors);
  if (names.length === 0) throw new Error(`${path}: the file holds no tensors`);
  const mapHint =
    "give the module order with --layers a,b,c (module names, each with '<name>.weight' [out, in] and optionally '<name>.bias' [out])";
  let modules: string[];
  if (opts.layers !== undefined && opts.layers.length > 0) {
    modules = opts.layers;
    const used = new Set(modules.flatMap((m) => [`${m}.weight`, `${m}.bias`]));
    const extra = names.filter((n) => !used.has(n));
    if (extra.length > 0) {
      throw new Error(`${path}: tensors ${listNames(extra)} belong to none of the layers ${modules.join(', ')}; the file holds ${listNames(names)}`);
    }
  } else {
    const byIndex = modulesByIndex(names);
    if (byIndex === null) {
      throw new Error(
        `${path}: cannot tell the layer order from the tensor names ${listNames(names)} ` +
          `(expected nn.Sequential's '0.weight', '0.bias', '2.weight', ... or 'layers.<k>.weight'): ${mapHint}`,
      );
    }
    modules = byIndex;
  }
  const sizes: number[] = [];
  const tensorNames: string[] = [];
  const dtypes: ReadDType[] = [];
  const parts: Tensor[] = [];
  let bias: boolean | null = null;
  let firstBiasModule = '';
  modules.forEach((m, k) => {
    const wName = `${m}.weight`;
    const w = tensors[wName];
    if (w === undefined) throw new Error(`${path}: no tensor ${wName} for layer ${k} (the file holds ${listNames(names)}): ${mapHint}`);
    if (w.shape.length !== 2) {
      throw new Error(
        `${path}: tensor ${wName} has shape ${JSON.stringify(w.shape)}, not [out, in]: lambda-hat runs nn.Sequential of nn.Linear ` +
          '(activations between them); this layer is of another kind, which the engine cannot run',
      );
    }
    const [out, inn] = w.shape as [number, number];
    if (k === 0) sizes.push(inn);
    else if (sizes[k] !== inn) {
      throw new Error(
        `${path}: tensor ${wName} has shape [${out}, ${inn}] but the layer before it (${modules[k - 1]}) has ${sizes[k]} outputs: ` +
          'the layers do not chain (check the layer order)',
      );
    }
    sizes.push(out);
    tensorNames.push(wName);
    dtypes.push(w.dtype);
    parts.push(w);
    const bName = `${m}.bias`;
    const b = tensors[bName];
    const has = b !== undefined;
    if (bias === null) {
      bias = has;
      firstBiasModule = m;
    } else if (bias !== has) {
      throw new Error(
        `${path}: tensor ${bName} is ${has ? 'present' : 'missing'} but module ${firstBiasModule} ${bias ? 'has' : 'has no'} bias: ` +
          'the engine runs networks whose linear layers all have a bias or all have none (bias=True or bias=False throughout)',
      );
    }
    if (b !== undefined) {
      if (b.shape.length !== 1 || b.shape[0] !== out) {
        throw new Error(`${path}: tensor ${bName} has shape ${JSON.stringify(b.shape)}, expected [${out}] (the outputs of ${wName})`);
      }
      tensorNames.push(bName);
      dtypes.push(b.dtype);
      parts.push(b);
    }
  });
  const total = parts.reduce((a, t) => a + t.data.length, 0);
  const theta = new Float64Array(total);
  let at = 0;
  parts.forEach((t, i) => {
    const dt = t.dtype;
    if (dt !== 'F64' && dt !== 'F32' && dt !== 'F16' && dt !== 'BF16') {
      throw new Error(`${path}: tensor ${tensorNames[i]} has dtype ${dt}, expected a float type (F64, F32, F16 or BF16)`);
    }
    for (let j = 0; j < t.data.length; j++) {
      const v = t.data[j]!;
      if (!Number.isFinite(v)) {
        throw new Error(`${path}: tensor ${tensorNames[i]} holds ${v} at flat index ${j}: the weights must be finite`);
      }
      theta[at + j] = v;
    }
    at += t.data.length;
  });
  return { path, sizes, bias: bias ?? false, modules, tensorNames, theta, dtypes };
}
