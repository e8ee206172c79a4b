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
import { type PathLinks, symlinkChain, watchedDirectories } from "./symlink_chain.ts";
import { type FileHandle, open } from "node:fs/promises";
import { constants } from "node:fs";

/** The timer functions the watcher uses; injectable so a test can drive them. */
export type WatcherTimers = Pick<Clock, "setTimeout" | "clearTimeout" | "now">;

/** Options for {@linkcode watchEnvFile}. */
export interface WatchEnvFileOptions {
  /**
   * Called with the file's content once watching has started, then after each change that
   * alters it (a re-read that finds the same bytes is not reported). Compare tokens here;
   * it must not throw (an exception goes to `reportError`).
   */
  onRead(result: EnvReadResult): void;
  /**
   * Quiet time after the last event of a burst before re-reading; default 50 ms. The first
   * event after a quiet spell is read at once.
   */
  debounceMs?: number;
  /**
   * Longest wait from the first event to the read, however often events keep coming (a file
   * rewritten every 30 ms is still read); default 250 ms.
   */
  maxWaitMs?: number;
  /** Reads of a larger file are refused; default 1 MiB (`KITEKEEPER_ENV_MAX_BYTES`). */
  maxBytes?: number;
  /** Wait before retrying when the directory cannot be watched (it is gone); default 1000 ms. */
  retryMs?: number;
  /**
   * How often the path is also checked by `stat` (every link, then the file: a change the OS
   * watch did not report is read then) while the watch may be deaf: a named pipe at the path
   * holds Deno's watch thread, and so does one in a watched directory (seen as a change no
   * event reported); default 1000 ms, 0 never (no check at all).
   */
  pollMs?: number;
  /**
   * How often the path is checked while the watch hears: only to notice it going deaf (Deno
   * reports no event for a pipe put in the file's place, nor for anything after it); default
   * 10 000 ms. An idle daemon wakes for this alone, so it is rare.
   */
  guardPollMs?: number;
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

/** Where `path` leads now: each symlink met (on any directory on the way), then the target. */
async function linkChain(path: string): Promise<PathLinks> {
  try {
    return await symlinkChain(path);
  } catch {
    // A symlink loop: the read reports ELOOP; watch the path as given meanwhile.
    return { links: [], target: path };
  }
}

/** What a `stat` says of where `path` leads: any change to it is worth a read. */
async function pathSignature(path: string): Promise<string> {
  const chain = await linkChain(path);
  try {
    const info = await Deno.stat(chain.target);
    const kind = info.isFile ? "file" : info.isDirectory ? "dir" : "other";
    return [
      ...chain.links,
      chain.target,
      kind,
      info.ino,
      info.size,
      info.mtime?.getTime(),
      info.nlink,
    ]
      .join("\0");
  } catch (error: unknown) {
    return [...chain.links, chain.target, error instanceof Error ? error.name : "error"].join("\0");
  }
}

/**
 * Deno's watch thread opens a file that events name, and on a named pipe that open waits for a
 * writer: events stop, and closing the watch then blocks the whole process. So a pipe found at
 * the path is held open (read side, non-blocking), and before the watch is closed each held
 * pipe is opened for writing through `/proc/self/fd` (it may have no name left by then) and
 * closed: the waiting open returns, and the thread goes on.
 */
function createPipeRelease() {
  const held = new Map<number, FileHandle>();
  return {
    /** Holds the pipe at `path`, once per inode. */
    async hold(path: string): Promise<void> {
      let handle: FileHandle | undefined;
      try {
        handle = await open(path, constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY);
        const info = await handle.stat();
        if (info.isFIFO() && !held.has(Number(info.ino))) {
          held.set(Number(info.ino), handle);
          handle = undefined;
        }
      } catch {
        // Gone already: a later read finds what replaced it.
      } finally {
        await handle?.close().catch(() => {});
      }
    },
    /**
     * Opens a writer on every held pipe and on any pipe with a name in `directories` (one
     * another program made there holds the thread just the same): the waiting open returns,
     * and while the writers stay open no new one waits. Close the OS watch, wait for its
     * loop, then call the function returned: it closes the writers and drops the held pipes.
     */
    async openWriters(directories: readonly string[]): Promise<() => Promise<void>> {
      const paths = [...held.values()].map((handle) => `/proc/self/fd/${handle.fd}`);
      for (const directory of directories) {
        try {
          for await (const entry of Deno.readDir(directory)) {
            if (entry.isFile || entry.isDirectory || entry.isSymlink) continue;
            // Only a pipe: opening a device can have effects of its own.
            const path = `${directory}/${entry.name}`;
            if ((await Deno.lstat(path).catch(() => null))?.isFifo === true) paths.push(path);
          }
        } catch {
          // Gone or unlistable: nothing there to let go.
        }
      }
      const opened: FileHandle[] = [];
      for (const path of paths) {
        try {
          // A read side of our own first, so the write side opens without blocking.
          opened.push(await open(path, constants.O_RDONLY | constants.O_NONBLOCK));
          opened.push(await open(path, constants.O_WRONLY | constants.O_NONBLOCK));
        } catch {
          // Not a pipe, or gone: nothing to let go.
        }
      }
      return async function letGo(): Promise<void> {
        for (const handle of [...opened, ...held.values()]) {
          await handle.close().catch(() => {});
        }
        held.clear();
      };
    },
    get size(): number {
      return held.size;
    },
  };
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
      // The link count too: a hard link made later is worth reporting, though no byte changed.
      return `ok\0${result.links}\0${result.text}`;
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
  const maxWaitMs = Math.max(debounceMs, options.maxWaitMs ?? 250);
  const readOptions = options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes };
  const retryMs = options.retryMs ?? 1000;
  const pollMs = options.pollMs ?? 1000;
  const guardPollMs = Math.max(pollMs, options.guardPollMs ?? 10_000);
  const timers = options.timers ?? systemClock();

  let closed = false;
  let osWatcher: Deno.FsWatcher | undefined;
  let debounceTimer: TimerId | undefined;
  // When the first event not yet read arrived: the read waits no longer than maxWaitMs after.
  let pendingSince: number | undefined;
  // When the last relevant event arrived, and the read of the first after a quiet spell.
  let lastEventAt = -Infinity;
  let leadTimer: TimerId | undefined;
  let retryTimer: { id: TimerId; resolve: () => void } | undefined;
  let reading: Promise<void> | undefined;
  let readAgain = false;
  let lastKey: string | undefined;
  const pipes = createPipeRelease();
  // Set when a read closed the OS watch: the watch loop lets go of the pipes once it is down.
  let letGoAfterWatch: (() => Promise<void>) | undefined;
  let pollTimer: TimerId | undefined;
  // When the armed poll is due (Infinity: none armed).
  let pollDueAt = Infinity;
  let polling: Promise<void> | undefined;
  // What the poll saw last; a read is due when it changes.
  let lastSignature: string | undefined;
  // Whether the OS watch reported anything since the last poll, and whether a poll found a
  // change it did not report (a pipe in a watched directory holds Deno's watch thread).
  let heard = false;
  let deaf = false;
  let pollRunning = false;
  // Every path in the symlink chain (a link on any directory on the way included), and the
  // directories that hold them.
  let chain: string[] = [absolute];
  let directories: string[] = [dirname(absolute)];

  function isRelevant(event: Deno.FsEvent): boolean {
    // A rename-save names the temp file and the target in one event: one match is enough.
    // Only a name compare, before any work: a burst of writes to other files costs no more.
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

  async function readLoop(lead: boolean): Promise<void> {
    let first = lead;
    do {
      readAgain = false;
      // The chain first: once the caller has seen this read, events on the new target count.
      const nextChain = await linkChain(absolute);
      coverPending();
      const result = await readEnvFile(absolute, readOptions);
      if (closed) return;
      // A pipe at the path holds Deno's watch thread (see createPipeRelease): keep a handle
      // on it while it is there, and let go once something else has taken its place.
      if (result.kind === "unreadable" && result.detail.startsWith("a named pipe")) {
        await pipes.hold(absolute);
        // The watch thread is held by it: the poll is all that sees the next change.
        armPoll();
      } else if (pipes.size > 0) {
        await (await pipes.openWriters([]))();
      }
      chain = [...nextChain.links, nextChain.target];
      const nextDirectories = watchedDirectories(nextChain);
      if (!sameList(nextDirectories, directories)) {
        // (The directories being left are where a pipe may hold the watch.)
        // The symlink now leads into another directory: the loop re-creates the OS watch.
        letGoAfterWatch = await pipes.openWriters(directories);
        directories = nextDirectories;
        closeQuietly(osWatcher);
      }
      // A writer that truncates and then writes was caught in between: not worth a report,
      // the debounced read after its write will have the bytes.
      if (first && (result.kind === "missing" || (result.kind === "ok" && result.text === ""))) {
        scheduleRead(debounceMs);
      } else {
        deliver(result);
      }
      first = false;
    } while (readAgain && !closed);
  }

  /**
   * Drops the reads due for events seen so far: they happened before the read about to start,
   * so it sees their changes (a rename is reported twice, and the second report must not cost
   * a read 50 ms later). Events seen after it starts are read again as usual.
   */
  function coverPending(): void {
    readAgain = false;
    if (debounceTimer !== undefined) timers.clearTimeout(debounceTimer);
    debounceTimer = undefined;
    pendingSince = undefined;
  }

  function startRead(options: { lead: boolean }): void {
    if (closed) return;
    if (reading !== undefined) {
      readAgain = true;
      return;
    }
    reading = readLoop(options.lead).finally(() => {
      reading = undefined;
    });
  }

  function fireRead(): void {
    debounceTimer = undefined;
    pendingSince = undefined;
    startRead({ lead: false });
  }

  /**
   * After a quiet spell the first event is read at once: a token written whole (the daemon's
   * own writer renames it into place) is live without waiting out the debounce. Events that
   * follow within the debounce coalesce into one read after the burst: a half-written token
   * read first fails the pattern and waits for that read, and a file caught empty or missing
   * between a truncate and its write is not reported at all.
   */
  function onEvent(): void {
    if (closed) return;
    const now = timers.now();
    const quiet = now - lastEventAt >= debounceMs && debounceTimer === undefined;
    lastEventAt = now;
    if (quiet && leadTimer === undefined) {
      // A new burst: the read after it waits no longer than maxWaitMs from here.
      pendingSince = now;
      leadTimer = timers.setTimeout(() => {
        leadTimer = undefined;
        // The events since the first are covered by this read (see coverPending).
        startRead({ lead: true });
      }, 0);
    } else {
      scheduleRead(debounceMs);
    }
  }

  function scheduleRead(ms: number): void {
    if (closed) return;
    const now = timers.now();
    pendingSince ??= now;
    const left = Math.max(0, pendingSince + maxWaitMs - now);
    if (debounceTimer !== undefined) timers.clearTimeout(debounceTimer);
    debounceTimer = timers.setTimeout(fireRead, Math.min(ms, left));
  }

  async function poll(): Promise<void> {
    pollTimer = undefined;
    pollDueAt = Infinity;
    if (closed) return;
    pollRunning = true;
    const signature = await pathSignature(absolute);
    pollRunning = false;
    if (closed) return;
    if (lastSignature !== undefined && signature !== lastSignature) {
      scheduleRead(0);
      // A change nothing reported: the watch is deaf until it hears again.
      if (!heard) deaf = true;
    } else if (heard) {
      deaf = false;
    }
    heard = false;
    lastSignature = signature;
    armPoll();
  }

  /**
   * Arms the next poll: soon while the watch may be deaf (a pipe held at the path, or a change
   * it missed), rarely while it hears. An armed poll later than that is brought forward.
   */
  function armPoll(): void {
    // A poll in flight arms the next itself.
    if (closed || pollMs <= 0 || pollRunning) return;
    const now = timers.now();
    const dueAt = now + (pipes.size > 0 || deaf ? pollMs : guardPollMs);
    if (dueAt >= pollDueAt) return;
    if (pollTimer !== undefined) timers.clearTimeout(pollTimer);
    pollDueAt = dueAt;
    pollTimer = timers.setTimeout(() => {
      polling = poll();
    }, dueAt - now);
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
          heard = true;
          if (event.flag === "rescan") break;
          if (event.kind === "remove" && event.paths.some((p) => directories.includes(p))) break;
          if (isRelevant(event)) onEvent();
        }
      } catch {
        failed = true;
      } finally {
        const letGo = await pipes.openWriters(directories);
        closeQuietly(osWatcher);
        osWatcher = undefined;
        await letGo();
        await letGoAfterWatch?.();
        letGoAfterWatch = undefined;
      }
      // A watch error: pause before re-creating, so one that repeats cannot spin.
      if (failed && !closed) await waitRetry();
    }
  }

  const watching = watchLoop();
  if (pollMs > 0) polling = poll();

  async function close(): Promise<void> {
    if (closed) {
      await watching;
      return;
    }
    closed = true;
    options.signal?.removeEventListener("abort", onAbort);
    if (debounceTimer !== undefined) timers.clearTimeout(debounceTimer);
    debounceTimer = undefined;
    if (leadTimer !== undefined) timers.clearTimeout(leadTimer);
    leadTimer = undefined;
    if (retryTimer !== undefined) {
      timers.clearTimeout(retryTimer.id);
      retryTimer.resolve();
      retryTimer = undefined;
    }
    if (pollTimer !== undefined) timers.clearTimeout(pollTimer);
    pollTimer = undefined;
    // A read in flight may be about to hold a pipe: wait for it before letting go of them.
    await reading;
    const letGo = await pipes.openWriters(directories);
    closeQuietly(osWatcher);
    await watching;
    await letGo();
    await reading;
    await polling;
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
