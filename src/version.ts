import { readFileSync } from 'node:fs';

const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

/** Version of this code, recorded in every artifact it writes. */
export const CODE_VERSION: string = pkg.version;
