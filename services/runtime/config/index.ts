export * from './spec.js';
export * from './errors.js';
export * from './file-layer.js';
export * from './load.js';
export * from './argv.js';
export { coerceValue } from './coerce.js';
