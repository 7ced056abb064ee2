import type { Command } from 'commander';

export function registerDiagnose(program: Command): void {
  program
    .command('diagnose')
    .description('(not built yet)')
    .action(() => {
      throw new Error('lambda-hat diagnose is not built yet');
    });
}
