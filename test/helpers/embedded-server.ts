import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../../services/devstack/dev-state.js';

export interface EmbeddedServer {
  readonly url: string;
  stop(): Promise<void>;
}

/**
 * Starts a throw-away Postgres cluster through the same child process devstack uses (so the
 * package's exit hooks never run inside vitest). Data lives under .xerotier/ (its parents must
 * be traversable by the postgres OS user when running as root) and is removed on stop.
 */
export async function startEmbeddedServer(): Promise<EmbeddedServer> {
  const dataDir = join(REPO_ROOT, '.xerotier', `test-pg-${process.pid}`);
  mkdirSync(join(REPO_ROOT, '.xerotier'), { recursive: true, mode: 0o755 });
  const password = randomBytes(12).toString('hex');
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', join(REPO_ROOT, 'services/devstack/postgres-main.ts')], {
    cwd: REPO_ROOT,
    env: { ...process.env, XEROTIER_EMBEDDED_PG: JSON.stringify({ dataDir, port, user: 'postgres', password }) },
    stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
  });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const placed = await waitReady(child, () => stderr);
  return {
    url: `postgres://postgres:${password}@127.0.0.1:${port}/postgres`,
    async stop() {
      await stopChild(child);
      for (const dir of new Set([dataDir, placed])) rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves with the directory the cluster's files really live in. */
function waitReady(child: ChildProcess, stderr: () => string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('embedded postgres did not start within 120 s')), 120_000);
    child.on('message', (message: { type?: string; dataDir?: string }) => {
      if (message.type !== 'ready') return;
      clearTimeout(timer);
      resolve(message.dataDir!);
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`embedded postgres exited with ${code}: ${stderr()}`));
    });
  });
}

function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}
