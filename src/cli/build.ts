import type { Command } from 'commander';
import { existsSync } from 'node:fs';
import { loadExperiment, loadTargetFile } from '../config/experiment.js';
import { readYamlFile, isPlainObject } from '../config/load.js';
import type { ResolvedTargetConfig } from '../config/resolve.js';
import { storeHome } from '../store/index.js';
import { buildTarget, type BuildProgress } from '../targets/build.js';
import type { EngineImpl } from '../engine/types.js';
import { describeProgress } from '../contracts/index.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/**
 * Progress on stderr: one line rewritten in place on a terminal, plain lines otherwise
 * (logs and CI keep every line).
 */
function progressPrinter(stream: NodeJS.WriteStream): { report: (p: BuildProgress) => void; done: () => void } {
  let drawn = false;
  return {
    report: (p) => {
      const line = `build ${p.target_id}: ${describeProgress(p)}`;
      if (stream.isTTY) {
        stream.write(`\r${line}\x1b[K`);
        drawn = true;
      } else {
        stream.write(`${line}\n`);
      }
    },
    done: () => {
      if (drawn) stream.write('\n');
    },
  };
}

/**
 * The config to build: a build file holds one target entry; an experiment file (with a
 * `targets` list) is accepted too, with --index choosing the entry when it has several.
 */
function configToBuild(file: string, sets: string[], index: string | undefined): ResolvedTargetConfig {
  const raw = existsSync(file) ? readYamlFile(file).value : undefined;
  if (isPlainObject(raw) && 'targets' in raw) {
    const e = loadExperiment(file, sets);
    if (index === undefined) {
      if (e.targets.length === 1) return e.targets[0]!.config;
      throw new Error(`${file} is an experiment with ${e.targets.length} targets: choose one with --index 0..${e.targets.length - 1}`);
    }
    const i = Number(index);
    const t = Number.isInteger(i) ? e.targets[i] : undefined;
    if (!t) throw new Error(`--index ${index}: ${file} has targets 0..${e.targets.length - 1}`);
    return t.config;
  }
  if (index !== undefined) throw new Error(`--index applies to experiment files; ${file} holds one target entry`);
  return loadTargetFile(file, sets).config;
}

/**
 * `lambda-hat build --config FILE [--set k=v]...`: builds one target (or reuses it).
 * stdout: the target id on the first line, its directory on the second; progress and
 * warnings (e.g. training not converged) on stderr.
 */
export function registerBuild(program: Command): void {
  program
    .command('build')
    .description('build a target (data, trained w*, L0) from a file holding one target entry (or an experiment file, see --index); prints its id and directory')
    .requiredOption('--config <file>', 'YAML file with one target entry: model, data, teacher, seed, training, overrides')
    .option('--set <key=value>', 'override a config key (dotted path, YAML value); repeatable', collect, [])
    .option('--index <i>', 'with an experiment file: which entry of its targets list to build')
    .option('--home <dir>', 'artifact store root (default: LAMBDA_HAT_HOME, else ./artifacts)')
    .option('--engine <impl>', 'engine implementation: native, wasm or ts (default: native when built, else wasm, else ts)')
    .action(async (opts: { config: string; set: string[]; engine?: string; home?: string; index?: string }) => {
      if (opts.engine !== undefined && opts.engine !== 'native' && opts.engine !== 'wasm' && opts.engine !== 'ts') {
        throw new Error(`--engine must be native, wasm or ts, got '${opts.engine}'`);
      }
      const config = configToBuild(opts.config, opts.set, opts.index);
      const progress = progressPrinter(process.stderr);
      const home = storeHome(opts.home);
      try {
        const r = await buildTarget(home, config, { impl: opts.engine as EngineImpl | undefined, onProgress: progress.report });
        progress.done();
        process.stderr.write(`${r.reused ? 'reused existing' : 'built'} target ${r.target_id}\n`);
        for (const w of r.warnings) process.stderr.write(`warning: ${w}\n`);
        process.stdout.write(`${r.target_id}\n${r.dir}\n`);
      } catch (err) {
        progress.done();
        throw err;
      }
    });
}
