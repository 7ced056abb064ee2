import type { Command } from 'commander';

export function registerWorkflow(program: Command): void {
  program
    .command('workflow')
    .description('(not built yet)')
    .action(() => {
      throw new Error('lambda-hat workflow is not built yet');
    });
}
