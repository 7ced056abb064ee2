import type { Command } from 'commander';
import { storeHome } from '../store/index.js';
import { samplerNames } from '../samplers/registry.js';
import { ACTIVATIONS, type Activation } from '../engine/types.js';
import { llcFromFiles, type LlcRow } from '../tasks/llc.js';
import { diagnoseSummary } from './diagnose.js';
import { makeProgressPrinter, samplerEntryFromCli } from './sample.js';

interface LlcOptions {
  model: string;
  data: string;
  loss?: string;
  activation?: string;
  layers?: string;
  sampler: string;
  config?: string;
  set: string[];
  restrict?: string;
  perLayer?: boolean;
  json?: boolean;
  threads?: number;
  engine?: string;
  dtype?: string;
}

function fmt(v: number | null, digits = 4): string {
  return v === null ? '-' : String(Number(v.toPrecision(digits)));
}

function list(v: string | undefined): string[] | undefined {
  if (v === undefined) return undefined;
  const parts = v.split(',').map((s) => s.trim()).filter((s) => s !== '');
  return parts.length > 0 ? parts : undefined;
}

/** The per-layer table: one row per module. */
export function perLayerTable(rows: LlcRow[]): string {
  const head = ['module', 'params', 'λ̂ ± MCSE', 'R-hat', 'ESS', 'trust'];
  const body = rows.map((r) => [
    r.module ?? 'all',
    String(r.params),
    `${fmt(r.analysis.llc_mean)} ± ${fmt(r.analysis.llc_mcse, 2)}`,
    fmt(r.analysis.r_hat),
    fmt(r.analysis.ess_bulk, 3),
    r.trust,
  ]);
  const widths = head.map((h, j) => Math.max(h.length, ...body.map((b) => b[j]!.length)));
  const line = (cells: string[]): string => cells.map((c, j) => c.padEnd(widths[j]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n') + '\n';
}

export function registerLlc(program: Command): void {
  program
    .command('llc')
    .description(
      'The LLC of a network trained elsewhere: --model FILE (safetensors of nn.Sequential of nn.Linear) and --data FILE ' +
        '(.npz, X.npy,y.npy, .safetensors, .feather or .csv); stored as a target and a run like any other',
    )
    .requiredOption('--model <file>', "safetensors file of the weights (PyTorch: safetensors.torch.save_file(model.state_dict(), 'model.safetensors'))")
    .requiredOption('--data <file>', 'the data: .npz with X and y (integer labels) or Y (targets); X.npy,y.npy; .safetensors; .feather; .csv')
    .option('--loss <kind>', 'mse or cross_entropy (default: cross_entropy for integer labels, else mse)')
    .option('--activation <name>', `activation between the linear layers: ${ACTIVATIONS.join(', ')} (default relu)`)
    .option('--layers <a,b,c>', 'module names in layer order, for files whose tensor names do not give it')
    .option('--sampler <name>', `sampler (${samplerNames().join(', ')})`, 'sgld')
    .option('--config <file>', 'YAML with the sampler config (overrides, seed, posterior, chains), as for sample')
    .option('--set <k=v>', 'override a sampler config key (dotted path, YAML value); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--restrict <prefixes>', "sample only the tensors under these name prefixes ('1' = module 1, '1.weight' = that tensor), the rest fixed")
    .option('--per-layer', 'one restricted estimate per module, as a table (with --json: a list of rows)')
    .option('--json', 'print analysis.json (with --per-layer: a list of rows, each the analysis keys and the module)')
    .option('--threads <n>', 'worker threads for the chains (numbers do not change)', (v) => Number.parseInt(v, 10))
    .option('--engine <impl>', 'engine implementation: native, wasm or ts (default: native when built, else wasm, else ts)')
    .option('--dtype <dtype>', 'float64 (default) or float32')
    .action(async (opts: LlcOptions) => {
      if (opts.loss !== undefined && opts.loss !== 'mse' && opts.loss !== 'cross_entropy') {
        throw new Error(`--loss must be mse or cross_entropy, got '${opts.loss}'`);
      }
      if (opts.activation !== undefined && !(ACTIVATIONS as readonly string[]).includes(opts.activation)) {
        throw new Error(`--activation must be one of ${ACTIVATIONS.join(', ')}, got '${opts.activation}'`);
      }
      const engine = opts.engine;
      if (engine !== undefined && engine !== 'native' && engine !== 'wasm' && engine !== 'ts') {
        throw new Error(`--engine must be native, wasm or ts, got '${engine}'`);
      }
      if (opts.dtype !== undefined && opts.dtype !== 'float64' && opts.dtype !== 'float32') {
        throw new Error(`--dtype must be float64 or float32, got '${opts.dtype}'`);
      }
      if (opts.perLayer && opts.restrict !== undefined) throw new Error('--per-layer and --restrict exclude each other');
      const sampler = samplerEntryFromCli(opts.sampler, opts.config, opts.set);
      const progress = makeProgressPrinter(process.stderr);
      const layers = list(opts.layers);
      const restrict = list(opts.restrict);
      const result = await llcFromFiles({
        home: storeHome(),
        model: opts.model,
        data: opts.data,
        ...(opts.loss ? { loss: opts.loss as 'mse' | 'cross_entropy' } : {}),
        ...(opts.activation ? { activation: opts.activation as Activation } : {}),
        ...(layers ? { layers } : {}),
        ...(opts.dtype ? { dtype: opts.dtype as 'float64' | 'float32' } : {}),
        sampler,
        ...(restrict ? { restrict } : {}),
        perLayer: opts.perLayer === true,
        ...(opts.threads ? { threads: opts.threads } : {}),
        ...(engine ? { impl: engine } : {}),
        onProgress: progress.update,
        onTarget: (t) => {
          for (const n of t.notes) process.stderr.write(`${n}\n`);
          process.stderr.write(`target ${t.target_id} (${t.dir})\n`);
          for (const w of t.warnings) process.stderr.write(`WARNING: ${w}\n`);
        },
      });
      progress.done();
      if (opts.json) {
        const out = opts.perLayer ? result.rows.map((r) => ({ module: r.module, params: r.params, ...r.analysis, trust: r.trust })) : result.rows[0]!.analysis;
        process.stdout.write(JSON.stringify(out, null, 2) + '\n');
        return;
      }
      if (opts.perLayer) {
        process.stdout.write(perLayerTable(result.rows));
        return;
      }
      const r = result.rows[0]!;
      const scope = r.module === null ? `all ${r.params} parameters` : `restricted to ${r.module} (${r.params} parameters)`;
      process.stdout.write(`λ̂ = ${fmt(r.analysis.llc_mean)} ± ${fmt(r.analysis.llc_mcse, 2)} (MCSE), ${scope}; trust: ${r.trust}\n`);
      process.stdout.write(diagnoseSummary(r.diagnosis, r.analysis));
    });
}
