import type { Command } from 'commander';

export function registerReport(program: Command): void {
  program
    .command('report')
    .description('(not built yet)')
    .action(() => {
      throw new Error('lambda-hat report is not built yet');
    });
}
