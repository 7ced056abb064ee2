import type { Command } from 'commander';

export function registerTruth(program: Command): void {
  program
    .command('truth')
    .description('(not built yet)')
    .action(() => {
      throw new Error('lambda-hat truth is not built yet');
    });
}
