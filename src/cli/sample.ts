import type { Command } from 'commander';
import { applySets, formatConfigError, isPlainObject, readYamlFile } from '../config/load.js';
import { storeHome } from '../store/index.js';
import { sampleTask } from '../tasks/sample.js';
import { describeProgress, posteriorLayer, parseContract, samplerEntry, type ProgressEvent, type ProgressSink, type SamplerEntry } from '../contracts/index.js';
import { chainsLayerOf } from '../samplers/runner/settings.js';
import { samplerNames } from '../samplers/registry.js';

/** What default SGLD does (the step and the run length are chosen from the target). */
export const SGLD_DEFAULTS_HELP = `
Default SGLD (--sampler sgld with no step_size or steps):
  step_size: auto  each chain calibrates its step so that the predicted bias
                   eps n beta [tr(D H) + n beta tr(D C_b)] / 8 of the LLC is target_bias (3%) of
                   lambda-hat (H: loss Hessian, C_b: minibatch-gradient covariance, D: the
                   preconditioner), capped by a stability bound from the top Hessian eigenvalue.
  burn-in          the chain then relaxes for burn_in_relaxations (0.25) R, R = 2 / (gamma eps)
                   steps, while the curvature, the trace terms and lambda-hat are re-measured
                   every R/16 steps; the step only falls (the singular valley is stiffer than w*).
  steps: auto      the run uses the median of the chains' steps, settles for 0.05 R and records
                   kept_relaxations (1) R, or up to cheap_kept_relaxations (16) R while a
                   chain's kept steps cost at most cheap_run_gflop (4), capped at max_steps (400000).
  Set step_size or steps (--set step_size=1e-5) to override; lambda-hat validate --suite dln-wide
  checks the defaults on random deep linear networks.
`;

/**
 * `lambda-hat sample --target ID --sampler NAME [--config FILE] [--set k=v]...`
 *
 * The config (file, then --set paths, values parsed as YAML) is the sampler's overrides, plus
 * the reserved keys `seed` (default 0), `posterior` (beta0, beta_mode, gamma, prior_radius),
 * `chains` (count, init_noise, burn_in, threads), `burn_in`, `time_budget` (seconds) and
 * `work_budget` (GFLOP per chain). A file may also hold a whole
 * sampler entry {name, seed, overrides, posterior, chains}. Prints the run directory.
 */
export function registerSample(program: Command): void {
  program
    .command('sample')
    .description('Sample a built target with one sampler; prints the run directory')
    .requiredOption('--target <id>', 'target id (from lambda-hat build)')
    .requiredOption('--sampler <name>', `sampler name (${samplerNames().join(', ')})`)
    .option('--config <file>', 'YAML with the sampler config (overrides, seed, posterior, chains)')
    .option('--set <k=v>', 'override a config key (dotted path, YAML value); repeatable', (v: string, acc: string[]) => [...acc, v], [] as string[])
    .option('--threads <n>', 'worker threads for the chains (numbers do not change)', (v) => Number.parseInt(v, 10))
    .option('--engine <impl>', 'engine implementation: native, wasm or ts (default: native when built, else wasm, else ts)')
    .addHelpText('after', SGLD_DEFAULTS_HELP)
    .action(async (opts: { target: string; sampler: string; config?: string; set: string[]; threads?: number; engine?: string }) => {
      const engine = opts.engine;
      if (engine !== undefined && engine !== 'native' && engine !== 'wasm' && engine !== 'ts') {
        throw new Error(`--engine must be native, wasm or ts, got '${engine}'`);
      }
      const entry = samplerEntryFromCli(opts.sampler, opts.config, opts.set);
      // A target directory (what `build` may print) is accepted as well as a bare id.
      const targetId = opts.target.replace(/\/+$/, '').split('/').pop() ?? opts.target;
      const home = storeHome();
      const progress = makeProgressPrinter(process.stderr);
      const result = await sampleTask(
        { kind: 'sample', home, target_id: targetId, sampler: entry },
        { onProgress: progress.update, ...(opts.threads ? { threads: opts.threads } : {}), ...(engine ? { impl: engine } : {}) },
      );
      progress.done();
      for (const f of result.failures) process.stderr.write(`warning: chain ${f.chain} stopped at step ${f.step}: ${f.reason}\n`);
      if (result.reused) process.stderr.write(`run ${result.run_id} already exists: reused\n`);
      process.stdout.write(`${result.dir}\n`);
    });
}


/**
 * The sampler entry of `sample` and `llc`: the config file (its overrides, or a whole sampler
 * entry), then `--set` paths; the reserved keys seed, posterior, chains and burn_in are lifted
 * out of the overrides.
 */
export function samplerEntryFromCli(sampler: string, configFile: string | undefined, sets: string[]): SamplerEntry {
  const opts = { sampler, config: configFile, set: sets };
  let raw: unknown = {};
  if (opts.config) raw = readYamlFile(opts.config).value ?? {};
  if (!isPlainObject(raw)) throw new Error(`${opts.config}: expected a mapping`);
  if ('overrides' in raw || 'name' in raw) {
    const { overrides, name, ...rest } = raw;
    if (name !== undefined && name !== opts.sampler) {
      throw new Error(`${opts.config} is a config for sampler "${String(name)}", not "${opts.sampler}"`);
    }
    raw = { ...(isPlainObject(overrides) ? overrides : {}), ...rest };
  }
  let cfg: Record<string, unknown>;
  try {
    cfg = applySets(raw, opts.set) as Record<string, unknown>;
  } catch (err) {
    throw new Error(formatConfigError(err));
  }
  const { seed, posterior, chains, burn_in, time_budget, work_budget, ...overrides } = cfg;
  const where = opts.config ?? '--set';
  const entry: SamplerEntry = parseContract(samplerEntry, {
    name: opts.sampler,
    seed: seed === undefined ? 0 : seed,
    overrides,
    ...(posterior !== undefined ? { posterior: parseContract(posteriorLayer, posterior, `${where}: posterior`, 'posterior setting') } : {}),
    ...(chains !== undefined ? { chains: chainsLayerOf(chains, `${where}: chains`) } : {}),
    ...(burn_in !== undefined ? { burn_in } : {}),
    ...(time_budget !== undefined ? { time_budget } : {}),
    ...(work_budget !== undefined ? { work_budget } : {}),
  }, where, 'sampler config');
  return entry;
}

/** Progress on stderr: a rewritten line on a TTY (<= 4/s), plain lines otherwise (<= 1 per 2 s). */
export function makeProgressPrinter(stream: NodeJS.WriteStream): { update: ProgressSink; done: () => void } {
  const tty = stream.isTTY === true;
  const minGap = tty ? 250 : 2000;
  let last = Number.NEGATIVE_INFINITY;
  let wrote = false;
  return {
    update(e: ProgressEvent) {
      const now = performance.now();
      if (now - last < minGap) return;
      last = now;
      const line = describeProgress(e);
      if (tty) {
        stream.write(`\r\x1b[K${line}`);
        wrote = true;
      } else stream.write(`${line}\n`);
    },
    done() {
      if (tty && wrote) stream.write('\n');
    },
  };
}
