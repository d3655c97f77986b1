import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { synthesize } from '../stacks/offline/synth.js';
import { REPO_ROOT, STACKS } from '../stacks/offline/stack-file.js';

/**
 * `npm run synth -- <stack> [--out DIR]`: the program for one stack file against mocks, written
 * as resources.json and manifests.yaml (secrets redacted) under .xerotier/synth/<stack>. An
 * offline preview: no Pulumi CLI, provider plugins or cloud credentials.
 */
const args = process.argv.slice(2);
const stack = args.find((arg) => !arg.startsWith('--'));
const outIndex = args.indexOf('--out');
if (!stack || !(STACKS as readonly string[]).includes(stack)) {
  process.stderr.write(`usage: npm run synth -- <stack> [--out DIR]; stacks: ${STACKS.join(', ')}\n`);
  process.exit(2);
}
const out = outIndex >= 0 && args[outIndex + 1] ? resolve(args[outIndex + 1]!) : join(REPO_ROOT, '.xerotier', 'synth', stack);
try {
  const synthesis = await synthesize(stack);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'resources.json'), `${JSON.stringify(synthesis.resources.map(({ type, name, inputs }) => ({ type, name, inputs })), null, 2)}\n`);
  writeFileSync(join(out, 'manifests.yaml'), synthesis.manifests);
  process.stdout.write(`${stack}: ${synthesis.resources.length} resources -> ${out}\n`);
  await pulumi.runtime.disconnect();
  process.exit(0);
} catch (error) {
  process.stderr.write(`${stack}: ${(error as Error).message}\n`);
  process.exit(1);
}
