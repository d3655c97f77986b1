// @ts-check
import { createTypeScriptImportResolver } from 'eslint-import-resolver-typescript';
import { importX } from 'eslint-plugin-import-x';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/**
 * The dependency rule of ARCHITECTURE §2, one entry per layer: the import specifiers each layer
 * may not use. Specifiers are relative paths, so the patterns match a path segment anywhere.
 */
const SERVICES = [
  'protocol',
  'runtime',
  'agent',
  'router',
  'xem-agent',
  'xim-agent',
  'frontend',
  'xeroctl',
  'devstack',
];
const segment = (names) => `(^|/)(${names.join('|')})/`;
const forbid = (names, why) => ({ regex: segment(names), message: why });

const layers = [
  {
    files: ['**/services/protocol/**/*.ts'],
    patterns: [
      forbid(
        SERVICES.filter((s) => s !== 'protocol'),
        'protocol is the wire contract: it imports no service (ARCHITECTURE §2).',
      ),
    ],
  },
  {
    files: ['**/services/runtime/**/*.ts'],
    patterns: [
      forbid(
        SERVICES.filter((s) => s !== 'runtime'),
        'runtime is process plumbing: it imports no service (ARCHITECTURE §2).',
      ),
    ],
  },
  {
    files: ['**/services/agent/**/*.ts'],
    patterns: [
      forbid(
        ['router', 'xem-agent', 'xim-agent', 'frontend', 'xeroctl', 'devstack'],
        'agent may import only protocol and runtime.',
      ),
    ],
  },
  ...['router', 'xem-agent', 'xim-agent'].map((service) => ({
    files: [`**/services/${service}/**/*.ts`],
    patterns: [
      forbid(
        ['router', 'xem-agent', 'xim-agent', 'frontend', 'xeroctl', 'devstack'].filter((s) => s !== service),
        `${service} may import protocol, runtime and agent, never another service (the router brokers every message).`,
      ),
    ],
  })),
  ...['frontend', 'xeroctl'].map((service) => ({
    files: [`**/services/${service}/**/*.ts`],
    patterns: [
      {
        ...forbid(['router'], `${service} talks to the router over HTTP; it may import the router's types only.`),
        allowTypeImports: true,
      },
      forbid(
        ['agent', 'xem-agent', 'xim-agent', 'devstack', 'protocol'],
        `${service} talks to the router over HTTP only.`,
      ),
    ],
  })),
  {
    files: ['**/stacks/**/*.ts'],
    patterns: [
      {
        regex:
          '(^|/)services/(?!(router|xem-agent|xim-agent|frontend)/config\\.js$|runtime/config/|runtime/telemetry-config\\.js$|protocol/curve-keys\\.js$|protocol/z85\\.js$|xim-agent/engine/vllm-command\\.js$)',
        message:
          "stacks may import services' config schemas, key derivation and the vLLM command line, nothing that does I/O.",
      },
    ],
  },
];

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', '.xerotier/**', 'coverage/**', 'test/fixtures/lint/**'] },
  ...tseslint.configs.recommendedTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Lint fixtures (test/fixtures/lint) import paths that only make sense inside services/;
        // they sit outside the TypeScript project and get the default one, as does the MCP test
        // server, the build's asset copier and the xeroctl launcher (plain JavaScript, run by node itself).
        projectService: {
          allowDefaultProject: [
            'test/fixtures/lint/services/*/*.ts',
            'test/fixtures/lint/stacks/*.ts',
            'test/fixtures/mcp/*.mjs',
            'scripts/*.mjs',
            'bin/*.mjs',
          ],
        },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    plugins: { 'import-x': importX },
    settings: {
      // Without these, import-x ignores .ts files when it builds the dependency graph, and
      // no-cycle silently finds nothing.
      ...importX.flatConfigs.typescript.settings,
      'import-x/resolver-next': [createTypeScriptImportResolver({ project: './tsconfig.json' })],
    },
    rules: {
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/consistent-type-imports': ['error', { fixStyle: 'inline-type-imports' }],
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/only-throw-error': 'error',
      '@typescript-eslint/require-await': 'off',
      '@typescript-eslint/no-unnecessary-type-assertion': 'off',
      'import-x/no-cycle': ['error', { ignoreExternal: true }],
      'no-throw-literal': 'off',
    },
  },
  ...layers.map((layer) => ({
    files: layer.files,
    rules: { 'no-restricted-imports': ['error', { patterns: layer.patterns }] },
  })),
  {
    files: ['**/*.js'],
    ...tseslint.configs.disableTypeChecked,
  },
  {
    files: ['test/**/*.ts'],
    rules: {
      '@typescript-eslint/no-non-null-assertion': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
    },
  },
  // Formatting is Prettier's (npm run lint checks it): no lint rule argues with it.
  prettier,
);
