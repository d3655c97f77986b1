import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  closeSync,
  fsyncSync,
  lstatSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { CliError, EXIT } from '../exit-codes.js';
import type { Step } from './plan.js';

export interface HostAccess {
  /** Everything is written under this folder ('/' on a real host). */
  readonly root: string;
  /** Owners are set only when running as root (under --root as anyone else they are printed, not set). */
  readonly asRoot: boolean;
  readonly note: (text: string) => void;
}

/** uid and gid of a name, from the host's (or the --root's) /etc/passwd and /etc/group. */
function idOf(root: string, file: 'passwd' | 'group', name: string): number | undefined {
  let text = '';
  try {
    text = readFileSync(join(root, 'etc', file), 'utf8');
  } catch {
    return name === 'root' ? 0 : undefined;
  }
  const line = text.split('\n').find((entry) => entry.split(':')[0] === name);
  return line ? Number(line.split(':')[2]) : name === 'root' ? 0 : undefined;
}

function own(host: HostAccess, path: string, owner: string, group: string): void {
  if (!host.asRoot) return;
  const uid = idOf(host.root, 'passwd', owner);
  const gid = idOf(host.root, 'group', group);
  if (uid === undefined || gid === undefined) {
    // An image root may have no accounts yet: the modes are set, the owners said.
    if (host.root !== '/')
      return host.note(`(${path}: owner ${owner}:${group} not set, no such account under ${host.root})`);
    throw new CliError(`no user ${owner} or group ${group} on this host`, EXIT.error, 'no_such_user');
  }
  chownSync(path, uid, gid);
}

/**
 * Bootstrap may run again on a host whose agent is not trusted (re-enrollment): nothing it
 * changes the mode or owner of may be a symbolic link (a link planted to /etc would hand it over).
 */
function refuseLink(path: string): void {
  let found;
  try {
    found = lstatSync(path);
  } catch {
    return;
  }
  if (found.isSymbolicLink())
    throw new CliError(`${path} is a symbolic link: refusing to change it`, EXIT.error, 'symlink');
}

function writeWhole(path: string, content: string, mode: number): void {
  refuseLink(path);
  // A fresh name created exclusively: a file or link planted under the temporary name is refused.
  const temporary = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  const fd = openSync(temporary, 'wx', mode);
  try {
    writeSync(fd, content);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  chmodSync(temporary, mode);
  renameSync(temporary, path);
}

/** Carries out one step; files are written whole (temporary file, then rename) with their mode from the start. */
export function applyStep(host: HostAccess, step: Step): void {
  if (step.kind === 'user') {
    if (idOf(host.root, 'passwd', step.name) !== undefined) return;
    if (host.root !== '/' || !host.asRoot)
      return host.note(`(not creating user ${step.name}: only as root on the host itself)`);
    execFileSync(
      'useradd',
      [
        '--system',
        '--user-group',
        '--no-create-home',
        '--home-dir',
        '/var/lib/xerotier',
        '--shell',
        '/usr/sbin/nologin',
        step.name,
      ],
      { stdio: 'inherit' },
    );
    return;
  }
  if (step.kind === 'command') {
    if (host.root !== '/') return host.note(`(not running ${step.argv.join(' ')} under --root)`);
    execFileSync(step.argv[0]!, step.argv.slice(1), { stdio: 'inherit' });
    return;
  }
  const path = join(host.root, step.path);
  if (step.kind === 'dir') {
    refuseLink(path);
    mkdirSync(path, { recursive: true, mode: step.mode });
    chmodSync(path, step.mode);
  } else writeWhole(path, step.content, step.mode);
  own(host, path, step.owner, step.group);
}
