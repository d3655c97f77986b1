import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  closeSync,
  fsyncSync,
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

function writeWhole(path: string, content: string, mode: number): void {
  const temporary = `${path}.xeroctl-tmp`;
  const fd = openSync(temporary, 'w', mode);
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
      ['--system', '--no-create-home', '--home-dir', '/var/lib/xerotier', '--shell', '/usr/sbin/nologin', step.name],
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
    mkdirSync(path, { recursive: true, mode: step.mode });
    chmodSync(path, step.mode);
  } else writeWhole(path, step.content, step.mode);
  own(host, path, step.owner, step.group);
}
