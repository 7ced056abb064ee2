/**
 * The contracts between stages and processes: every object that crosses a stage boundary (a
 * file in the store, a task spec or result, a message to a worker) is defined here once, with
 * zod. Writers build these types; readers check what they receive with `parseContract` /
 * `readContractFile`, which name the file (or message) and the key on a mismatch.
 */
export * from './json.js';
export * from './read.js';
export * from './target.js';
export * from './sampling.js';
export * from './run.js';
export * from './analysis.js';
export * from './workflow.js';
export * from './tasks.js';
export * from './chains.js';
export * from './tune.js';
export * from './progress.js';
export * from './validation.js';
