export * from './posterior.js';
export * from './source.js';
