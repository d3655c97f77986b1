import { defineConfig } from 'vitest/config';

// Three tiers, all run by `npm test`. The global setup provides a Postgres server (the one in
// XEROTIER_TEST_DATABASE_URL, else an embedded one started once per run) and a migrated
// template database that integration tests clone per file.
export default defineConfig({
  test: {
    globalSetup: ['test/helpers/global-setup.ts'],
    // After each test file: fails it if it left a server, socket, process or harness open.
    setupFiles: ['test/helpers/leak-check.ts'],
    reporters: process.env['CI'] ? ['default'] : ['default'],
    pool: 'forks',
    projects: [
      { extends: true, test: { name: 'unit', include: ['test/unit/**/*.test.ts'], testTimeout: 20_000 } },
      // Pulumi programs under mocks: per-file isolation matters (Pulumi keeps state on global).
      {
        extends: true,
        test: { name: 'stacks', include: ['test/stacks/**/*.test.ts'], testTimeout: 60_000, hookTimeout: 60_000 },
      },
      {
        extends: true,
        test: {
          name: 'integration',
          include: ['test/integration/**/*.test.ts'],
          testTimeout: 60_000,
          hookTimeout: 120_000,
        },
      },
      {
        extends: true,
        test: {
          name: 'e2e',
          include: ['test/e2e/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 180_000,
          fileParallelism: false,
        },
      },
    ],
  },
});
