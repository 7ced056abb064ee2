import type { Command } from 'commander';

export function registerSample(program: Command): void {
  program
    .command('sample')
    .description('(not built yet)')
    .action(() => {
      throw new Error('lambda-hat sample is not built yet');
    });
}
