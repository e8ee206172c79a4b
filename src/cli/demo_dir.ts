/**
 * The demo's throwaway directory (its `.env` holds the simulator's credentials and tokens):
 * made with a lock held for the demo's life, removed on every exit the demo sees, and, for
 * the exits it cannot see (SIGKILL, a crash, a launcher such as `npx` that ends without
 * passing its SIGTERM on), removed by the next demo: a directory whose lock nobody holds is
 * a leftover.
 *
 * @module
 */
import { dirname, join } from "node:path";

const PREFIX = "kitekeeper-demo-";
const LOCK = ".lock";

/** A demo directory, held; `remove()` removes it (idempotent). */
export interface DemoDir {
  readonly path: string;
  /** Leftover directories of demos that are gone, removed when this one was made. */
  readonly swept: readonly string[];
  remove(): Promise<void>;
}

/** Removes the demo directories beside `own` whose lock nobody holds; returns their paths. */
async function sweepLeftovers(own: string): Promise<string[]> {
  const parent = dirname(own);
  const swept: string[] = [];
  try {
    for await (const entry of Deno.readDir(parent)) {
      const path = join(parent, entry.name);
      if (!entry.isDirectory || !entry.name.startsWith(PREFIX) || path === own) continue;
      let lock: Deno.FsFile | undefined;
      try {
        // Only a directory with our lock file: anything else by that name is not ours to judge.
        lock = await Deno.open(join(path, LOCK), { read: true, write: true });
        if (!(await lock.tryLock(true))) continue;
        await Deno.remove(path, { recursive: true });
        swept.push(path);
      } catch {
        // No lock file, or not ours to remove: leave it.
      } finally {
        lock?.close();
      }
    }
  } catch {
    // An unlistable temp directory keeps its leftovers.
  }
  return swept;
}

/** Makes the demo's directory and holds its lock; sweeps the leftovers of dead demos. */
export async function makeDemoDir(): Promise<DemoDir> {
  const path = await Deno.makeTempDir({ prefix: PREFIX });
  const lock = await Deno.open(join(path, LOCK), { write: true, createNew: true, mode: 0o600 });
  await lock.lock(true);
  const swept = await sweepLeftovers(path);
  let removed = false;
  return {
    path,
    swept,
    async remove() {
      if (removed) return;
      removed = true;
      lock.close();
      await Deno.remove(path, { recursive: true });
    },
  };
}
