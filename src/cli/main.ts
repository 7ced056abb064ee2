/**
 * The `lambda-hat` entry point. `workflow` loads only its own command, so that checking an
 * experiment (and failing on a typo) costs a fraction of a second; every other command loads
 * the whole program (cli/index.ts).
 */
import { Command } from 'commander';
import { CODE_VERSION } from '../version.js';

export async function main(argv: string[]): Promise<void> {
  if (argv[2] === 'workflow') {
    const { registerWorkflow } = await import('./workflow.js');
    const program = new Command()
      .name('lambda-hat')
      .description('Estimate the Local Learning Coefficient (LLC) of neural networks')
      .version(CODE_VERSION)
      .showHelpAfterError();
    registerWorkflow(program);
    await program.parseAsync(argv);
    return;
  }
  const { main: full } = await import('./index.js');
  await full(argv);
}
