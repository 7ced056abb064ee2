/**
 * Reading at a boundary: every file, task spec and worker reply is checked against its
 * contract when it is read, and a mismatch names the file (or the message), the key and what
 * was expected, instead of surfacing later as a missing field or a NaN.
 */
import { existsSync, readFileSync } from 'node:fs';
import type { z } from 'zod';

/** A value that does not match its contract; `where` names the file or the message. */
export class ContractError extends Error {
  constructor(
    readonly where: string,
    readonly what: string,
    readonly issues: readonly string[],
  ) {
    super(`${where}: not a valid ${what}: ${issues.join('; ')}`);
    this.name = 'ContractError';
  }
}

function issuesOf(error: z.ZodError): string[] {
  return error.issues.map((i) => `${i.path.length > 0 ? i.path.join('.') : '(top level)'}: ${i.message}`);
}

/** Checks a value received from elsewhere (a thread, a process, a job) against its contract. */
export function parseContract<S extends z.ZodType>(schema: S, value: unknown, where: string, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ContractError(where, what, issuesOf(parsed.error));
  return parsed.data;
}

/** Reads a JSON file and checks it against its contract; errors name the file and the key. */
export function readContractFile<S extends z.ZodType>(path: string, schema: S, what: string): z.output<S> {
  if (!existsSync(path)) throw new ContractError(path, what, ['the file does not exist']);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new ContractError(path, what, [`not JSON (${(err as Error).message})`]);
  }
  return parseContract(schema, raw, path, what);
}

/** As readContractFile, but undefined when the file is missing, unreadable or off-contract. */
export function tryReadContractFile<S extends z.ZodType>(path: string, schema: S): z.output<S> | undefined {
  try {
    return readContractFile(path, schema, 'file');
  } catch {
    return undefined;
  }
}
