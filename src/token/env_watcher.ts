/**
 * Watches the `.env` file and reports each new content. It watches the file's directory (and
 * the directory of its symlink target), because editors and atomic writers replace the file
 * and a watch on the old inode goes deaf.
 *
 * @module
 */
import { type Clock, systemClock, type TimerId } from "../clock.ts";
import { dirname, resolve } from "node:path";
import { type EnvReadResult, readEnvFile } from "./env_file.ts";
import { symlinkChain } from "./symlink_chain.ts";

/** The timer functions the watcher uses; injectable so a test can drive them. */
export type WatcherTimers = Pick<Clock, "setTimeout" | "clearTimeout">;

/** Options for {@linkcode watchEnvFile}. */
export interface WatchEnvFileOptions {
  /**
   * Called with the file's content once watching has started, then after each change that
   * alters it (a re-read that finds the same bytes is not reported). Compare tokens here;
   * it must not throw (an exception goes to `reportError`).
   */
  onRead(result: EnvReadResult): void;
  /** Quiet time after the last event before re-reading; default 50 ms. */
  debounceMs?: number;
  /** Wait before retrying when the directory cannot be watched (it is gone); default 1000 ms. */
  retryMs?: number;
  /** Closes the watcher when aborted. */
  signal?: AbortSignal;
  /** Default: the global timers. */
  timers?: WatcherTimers;
}

/** A running watcher; {@linkcode EnvWatcher.close} it (or `await using` it). */
export interface EnvWatcher extends AsyncDisposable {
  /** Stops watching; resolves once no read, timer or OS watch is left. Idempotent. */
  close(): Promise<void>;
  /**
   * Reports the next read even when it finds the bytes last reported. Call it after writing
   * the file yourself: a tool that puts those bytes back within the debounce must still count.
   */
  forget(): void;
}

function closeQuietly(watcher: Deno.FsWatcher | undefined): void {
  try {
    watcher?.close();
  } catch {
    // Already closed.
  }
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((item, index) => item === b[index]);
}

function readKey(result: EnvReadResult): string {
  switch (result.kind) {
    case "ok":
      return `ok\0${result.text}`;
    case "missing":
      return "missing";
    case "unreadable":
      return `unreadable\0${result.detail}`;
  }
}

/**
 * Watches the `.env` at `path` and calls `options.onRead` with its parsed content: once when
 * watching starts, then after each change, debounced. Survives delete and re-create,
 * rename-saves (write a temp file, rename it over), a symlink swapped for one pointing
 * elsewhere, writes to a symlink's target in another directory, and a watch error or
 * `rescan` (it re-reads and re-creates the OS watch). It stops only when closed.
 *
 * @example
 * ```ts
 * await using watcher = watchEnvFile("/srv/kitekeeper/.env", {
 *   onRead(result) {
 *     if (result.kind === "ok") consider(readToken(result.values, config.tokenPattern));
 *   },
 * });
 * ```
 */
export function watchEnvFile(path: string, options: WatchEnvFileOptions): EnvWatcher {
  const absolute = resolve(path);
  const debounceMs = options.debounceMs ?? 50;
  const retryMs = options.retryMs ?? 1000;
  const timers = options.timers ?? systemClock();

  let closed = false;
  let osWatcher: Deno.FsWatcher | undefined;
  let debounceTimer: TimerId | undefined;
  let retryTimer: { id: TimerId; resolve: () => void } | undefined;
  let reading: Promise<void> | undefined;
  let readAgain = false;
  let lastKey: string | undefined;
  // Every path in the symlink chain, and the directories that hold them.
  let chain: string[] = [absolute];
  let directories: string[] = [dirname(absolute)];

  function isRelevant(event: Deno.FsEvent): boolean {
    // A rename-save names the temp file and the target in one event: one match is enough.
    return event.paths.some((eventPath) => chain.includes(eventPath));
  }

  function deliver(result: EnvReadResult): void {
    const key = readKey(result);
    if (key === lastKey) return;
    lastKey = key;
    try {
      options.onRead(result);
    } catch (error: unknown) {
      reportError(error);
    }
  }

  async function readLoop(): Promise<void> {
    do {
      readAgain = false;
      // The chain first: once the caller has seen this read, events on the new target count.
      const nextChain = [...(await symlinkChain(absolute)).paths];
      const result = await readEnvFile(absolute);
      if (closed) return;
      chain = nextChain;
      const nextDirectories = [...new Set(nextChain.map((link) => dirname(link)))];
      if (!sameList(nextDirectories, directories)) {
        directories = nextDirectories;
        // The symlink now leads into another directory: the loop re-creates the OS watch.
        closeQuietly(osWatcher);
      }
      deliver(result);
    } while (readAgain && !closed);
  }

  function fireRead(): void {
    debounceTimer = undefined;
    if (closed) return;
    if (reading !== undefined) {
      readAgain = true;
      return;
    }
    reading = readLoop().finally(() => {
      reading = undefined;
    });
  }

  function scheduleRead(ms: number): void {
    if (closed) return;
    if (debounceTimer !== undefined) timers.clearTimeout(debounceTimer);
    debounceTimer = timers.setTimeout(fireRead, ms);
  }

  function waitRetry(): Promise<void> {
    return new Promise((resolveWait) => {
      const id = timers.setTimeout(() => {
        retryTimer = undefined;
        resolveWait();
      }, retryMs);
      retryTimer = { id, resolve: resolveWait };
    });
  }

  async function watchLoop(): Promise<void> {
    while (!closed) {
      try {
        osWatcher = Deno.watchFs(directories, { recursive: false });
      } catch {
        // The directory is gone (or not ours to watch): report what a read says, try again.
        osWatcher = undefined;
        scheduleRead(0);
        await waitRetry();
        continue;
      }
      // The OS watch is in place, so a read now misses nothing: the first read, or the one
      // that catches up on what happened while the watch was down.
      scheduleRead(0);
      let failed = false;
      try {
        for await (const event of osWatcher) {
          if (event.flag === "rescan") break;
          if (event.kind === "remove" && event.paths.some((p) => directories.includes(p))) break;
          if (isRelevant(event)) scheduleRead(debounceMs);
        }
      } catch {
        failed = true;
      } finally {
        closeQuietly(osWatcher);
        osWatcher = undefined;
      }
      // A watch error: pause before re-creating, so one that repeats cannot spin.
      if (failed && !closed) await waitRetry();
    }
  }

  const watching = watchLoop();

  async function close(): Promise<void> {
    if (closed) {
      await watching;
      return;
    }
    closed = true;
    options.signal?.removeEventListener("abort", onAbort);
    if (debounceTimer !== undefined) timers.clearTimeout(debounceTimer);
    debounceTimer = undefined;
    if (retryTimer !== undefined) {
      timers.clearTimeout(retryTimer.id);
      retryTimer.resolve();
      retryTimer = undefined;
    }
    closeQuietly(osWatcher);
    await watching;
    await reading;
  }

  function onAbort(): void {
    void close();
  }

  if (options.signal?.aborted) {
    void close();
  } else {
    options.signal?.addEventListener("abort", onAbort, { once: true });
  }

  function forget(): void {
    lastKey = undefined;
  }

  return { close, forget, [Symbol.asyncDispose]: close };
}
