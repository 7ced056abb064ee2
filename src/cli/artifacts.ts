import type { Command } from 'commander';

export function registerArtifacts(program: Command): void {
  program
    .command('artifacts')
    .description('(not built yet)')
    .action(() => {
      throw new Error('lambda-hat artifacts is not built yet');
    });
}
