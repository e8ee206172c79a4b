/**
 * The walk from a path through its symlinks to the file that holds the bytes, component by
 * component: a link on a directory on the way (a deploy's `current -> releases/rN`) counts
 * as much as one on the file. The `.env` writer writes to the end of it; the watcher watches
 * the directory of every link on the way and of the end.
 *
 * @module
 */
import { dirname, join, resolve } from "node:path";

/** Where a path leads: each symlink met on the way, then the path that holds the bytes. */
export interface PathLinks {
  /** Every symlink met while resolving, as `<real directory>/<name>`, in the order met. */
  readonly links: readonly string[];
  /** The path with every symlink resolved; it need not exist. */
  readonly target: string;
}

const MAX_SYMLINK_HOPS = 40;

/** Whether `path` is a symlink; null when it cannot be looked at (missing, or not a directory). */
async function isSymlinkAt(path: string): Promise<boolean | null> {
  try {
    return (await Deno.lstat(path)).isSymlink;
  } catch {
    return null;
  }
}

/**
 * Resolves every symlink on `path`, component by component: a link on a directory on the way
 * counts as much as one on the file. Never throws for a missing part (the rest is kept as
 * written); throws `ELOOP` after 40 links.
 */
export async function symlinkChain(path: string): Promise<PathLinks> {
  const links: string[] = [];
  let pending = resolve(path).split("/").filter((part) => part !== "");
  let current = "/";
  let hops = 0;
  while (pending.length > 0) {
    // Every prefix looked at at once (one wait, not one a component); those past a link are
    // dropped, since the link's target is walked afresh.
    const prefixes = pending.map((_, index) => join(current, ...pending.slice(0, index + 1)));
    const kinds = await Promise.all(prefixes.map(isSymlinkAt));
    const index = kinds.findIndex((kind) => kind !== false);
    if (index === -1) return { links, target: prefixes.at(-1) ?? current };
    const next = prefixes[index]!;
    const rest = pending.slice(index + 1);
    // Missing (or not a directory on the way): nothing further can be a link.
    if (kinds[index] === null) return { links, target: join(next, ...rest) };
    if (++hops > MAX_SYMLINK_HOPS) {
      throw Object.assign(new Error("Too many levels of symbolic links"), { code: "ELOOP" });
    }
    links.push(next);
    const to = resolve(dirname(next), await Deno.readLink(next));
    pending = [...to.split("/").filter((part) => part !== ""), ...rest];
    current = "/";
  }
  return { links, target: current };
}

/** The directories whose entries decide what `links` leads to: each link's and the target's. */
export function watchedDirectories(links: PathLinks): string[] {
  return [...new Set([...links.links, links.target].map((path) => dirname(path)))];
}
