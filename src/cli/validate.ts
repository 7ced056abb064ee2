import type { Command } from 'commander';

export function registerValidate(program: Command): void {
  program
    .command('validate')
    .description('(not built yet)')
    .action(() => {
      throw new Error('lambda-hat validate is not built yet');
    });
}
