/**
 * The walk from a path through its symlinks to the file that holds the bytes: the `.env`
 * writer writes there, the watcher watches every directory on the way.
 *
 * @module
 */
import { dirname, resolve } from "node:path";

/** Where a walk went, and why it stopped early (if it did). */
export interface SymlinkChain {
  /** The absolute path, then each path a symlink led to; the last need not exist. */
  readonly paths: readonly string[];
  /** Set when a step failed (not for a path that does not exist), or at 40 hops (`ELOOP`). */
  readonly error?: Error;
}

const MAX_SYMLINK_HOPS = 40;

/** Follows `path` through symlinks, each hop resolved against the link's directory. */
export async function symlinkChain(path: string): Promise<SymlinkChain> {
  let current = resolve(path);
  const paths = [current];
  for (let hop = 0; hop < MAX_SYMLINK_HOPS; hop++) {
    try {
      if (!(await Deno.lstat(current)).isSymlink) return { paths };
      current = resolve(dirname(current), await Deno.readLink(current));
    } catch (error: unknown) {
      if (error instanceof Deno.errors.NotFound) return { paths };
      return { paths, error: error instanceof Error ? error : new Error(String(error)) };
    }
    paths.push(current);
  }
  const loop = Object.assign(new Error("Too many levels of symbolic links"), { code: "ELOOP" });
  return { paths, error: loop };
}
