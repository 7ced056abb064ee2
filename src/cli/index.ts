import { Command } from 'commander';
import { registerBuild } from './build.js';
import { registerSample } from './sample.js';
import { registerLlc } from './llc.js';
import { registerDiagnose } from './diagnose.js';
import { registerDiagnostics } from './diagnostics.js';
import { registerTruth } from './truth.js';
import { registerValidate } from './validate.js';
import { registerReport } from './report.js';
import { registerWorkflow } from './workflow.js';
import { registerArtifacts } from './artifacts.js';
import { registerDoctor } from './doctor.js';
import { CODE_VERSION } from '../version.js';
import { enableRelaxedSimd } from '../engine/index.js';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('lambda-hat')
    .description('Estimate the Local Learning Coefficient (LLC) of neural networks')
    .version(CODE_VERSION)
    .showHelpAfterError();
  registerWorkflow(program);
  registerBuild(program);
  registerSample(program);
  registerLlc(program);
  registerDiagnose(program);
  registerDiagnostics(program);
  registerTruth(program);
  registerValidate(program);
  registerReport(program);
  registerArtifacts(program);
  registerDoctor(program);
  return program;
}

/** The CLI's entry point: process-wide runtime settings first, then the command. */
export async function main(argv: string[]): Promise<void> {
  enableRelaxedSimd();
  await buildProgram().parseAsync(argv);
}
