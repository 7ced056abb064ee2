import type { Command } from 'commander';

export function registerDiagnostics(program: Command): void {
  program
    .command('diagnostics')
    .description('(not built yet)')
    .action(() => {
      throw new Error('lambda-hat diagnostics is not built yet');
    });
}
