import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as pulumi from '@pulumi/pulumi';
import { synthesize } from '../stacks/offline/synth.js';
import { listStacks, readStackFile, REPO_ROOT } from '../stacks/offline/stack-file.js';

/**
 * `npm run synth -- <stack | path/to/Pulumi.<stack>.yaml> [--out DIR]`: the program for one
 * stack file against mocks, written as resources.json and manifests.yaml (secrets redacted)
 * under .xerotier/synth/<stack>. An offline preview: no Pulumi CLI, provider plugins or cloud
 * credentials. Any file in config/stacks works, including one copied a minute ago.
 */
const args = process.argv.slice(2);
const target = args.find((arg, index) => !arg.startsWith('--') && args[index - 1] !== '--out');
const outIndex = args.indexOf('--out');
const stacks = listStacks();
if (!target || !(stacks.includes(target) || (target.endsWith('.yaml') && existsSync(target)))) {
  process.stderr.write(
    `usage: npm run synth -- <stack | Pulumi.<stack>.yaml> [--out DIR]; stacks in config/stacks: ${stacks.join(', ')}\n`,
  );
  process.exit(2);
}
const stack = readStackFile(target.endsWith('.yaml') ? resolve(target) : target).stack;
const out =
  outIndex >= 0 && args[outIndex + 1] ? resolve(args[outIndex + 1]!) : join(REPO_ROOT, '.xerotier', 'synth', stack);
try {
  const synthesis = await synthesize(target.endsWith('.yaml') ? resolve(target) : target);
  mkdirSync(out, { recursive: true });
  writeFileSync(
    join(out, 'resources.json'),
    `${JSON.stringify(
      synthesis.resources.map(({ type, name, inputs }) => ({ type, name, inputs })),
      null,
      2,
    )}\n`,
  );
  writeFileSync(join(out, 'manifests.yaml'), synthesis.manifests);
  process.stdout.write(`${stack}: ${synthesis.resources.length} resources -> ${out}\n`);
  await pulumi.runtime.disconnect();
  process.exit(0);
} catch (error) {
  process.stderr.write(`${stack}: ${(error as Error).message}\n`);
  process.exit(1);
}
