#!/usr/bin/env node
// xeroctl without a build: from a clone it runs the TypeScript source through tsx; an installed
// package (dist/ only) runs the compiled JavaScript.
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'services', 'xeroctl', 'main.ts');
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api');
  register();
  await import(pathToFileURL(source).href);
} else {
  await import(pathToFileURL(join(root, 'dist', 'services', 'xeroctl', 'main.js')).href);
}
