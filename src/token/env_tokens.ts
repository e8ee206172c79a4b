/**
 * `.env` as a source of lifecycle events: each read of the file (by the watcher, or a
 * SIGHUP's `reload()`) becomes a `TokenLoaded` or a `TokenInvalid`, one at a time, in the
 * order the reads happened. The first read is the startup one.
 *
 * It also knows what is wrong with the file beyond its token ({@linkcode EnvTokens.problems}):
 * a hard link the atomic write will break, and a login whose token could not be written. In
 * the second case the feed runs on the new session while the file still holds the one before;
 * a read that finds that older token is not taken as new (the feed would go back to a token
 * the login replaced), and the write is tried again instead.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Logger } from "../log.ts";
import type { Event, TokenSource } from "../lifecycle/machine.ts";
import { type EnvReadResult, readEnvFile, writeToken } from "./env_file.ts";
import { watchEnvFile } from "./env_watcher.ts";
import { fingerprint } from "./fingerprint.ts";
import { readToken } from "./read_token.ts";

/** Options of {@linkcode watchEnvTokens}. */
export interface EnvTokensOptions {
  /** What a well-formed access token looks like. */
  readonly tokenPattern: RegExp;
  /** Delivers a lifecycle event (the actor's `send`). */
  send(event: Event): void;
  /** Called once for each read, as it is taken in (for metrics). */
  counted?(): void;
  /** Timers for the watcher's debounce. */
  readonly clock: Clock;
  /** The watcher's quiet time; default 50 ms. */
  readonly debounceMs?: number | undefined;
  /** A larger `.env` is refused (`KITEKEEPER_ENV_MAX_BYTES`); default 1 MiB. */
  readonly maxBytes?: number | undefined;
  /** Where a hard link and a stale file's recovery are logged. */
  readonly log?: Logger;
  /**
   * The token the lifecycle holds now: read back from the file it is used whatever its
   * shape (a login callback's token that does not match the pattern is still Kite's).
   */
  current?(): string | undefined;
}

/** The running source; disposing it stops watching and waits for reads in flight. */
export interface EnvTokens extends AsyncDisposable {
  /** Re-reads `.env` now and resolves once the read was delivered (SIGHUP). */
  reload(): Promise<void>;
  /**
   * Reports the next read even when its bytes are the last ones read; call it after writing
   * the token: the file is no longer stale either.
   */
  forget(): void;
  /**
   * Notes that `token` (a login's, now in use) could not be written: `.env` is stale until
   * it is written (retried on each read and `reload()`) or holds a token of its own.
   */
  writeFailed(token: string, detail: string): void;
  /** What is wrong with the file beyond its token, in words; empty when nothing is. */
  problems(): string[];
}

/** Starts watching `envFile`; its content is read and delivered at once. */
export function watchEnvTokens(envFile: string, options: EnvTokensOptions): EnvTokens {
  const { tokenPattern, send } = options;
  const log = options.log ?? (() => {});
  const readOptions = options.maxBytes === undefined ? {} : { maxBytes: options.maxBytes };
  let reads = Promise.resolve();
  let firstRead = true;
  let hardLinks = 1;
  // The token the file held when the login's write failed is `fileToken`.
  let stale: { readonly token: string; readonly fileToken: string | null; detail: string } | null =
    null;
  let lastFileToken: string | null = null;

  function problems(): string[] {
    const found: string[] = [];
    if (stale !== null) {
      found.push(
        `${envFile} is stale: ${stale.detail}; the feed uses the new session, but a restart ` +
          "would load the old token (fix the file, then SIGHUP)",
      );
    }
    if (hardLinks > 1) {
      found.push(
        `${envFile} has ${hardLinks} hard links: a token write replaces the file and breaks ` +
          "them (the other names keep the old token); use a symlink instead",
      );
    }
    return found;
  }

  /** Writes the session in use into a stale `.env` again; clears the problem once it lands. */
  async function rewriteStale(): Promise<void> {
    if (stale === null) return;
    try {
      await writeToken(envFile, stale.token, readOptions);
      watcher.forget();
      stale = null;
      log("info", `${envFile} written with the session in use; no longer stale`);
    } catch (error: unknown) {
      if (stale !== null) stale.detail = error instanceof Error ? error.message : String(error);
    }
  }

  async function deliver(result: EnvReadResult, source: TokenSource): Promise<void> {
    if (result.kind === "ok" && result.links !== hardLinks) {
      hardLinks = result.links;
      if (hardLinks > 1) log("warn", problems().at(-1) ?? "");
    }
    if (result.kind !== "ok") {
      const detail = result.kind === "missing"
        ? `${envFile} does not exist`
        : `Failed to read ${envFile}: ${result.detail}`;
      send({ type: "TokenInvalid", source, detail });
      return;
    }
    const read = readToken(result.values, tokenPattern);
    const held = options.current?.();
    if (read.kind === "invalid" && held !== undefined && result.values[read.key] === held) {
      // A login callback's token of an unexpected shape: Kite issued it, the lifecycle uses it.
      send({ type: "TokenLoaded", token: held, fingerprint: fingerprint(held), source });
      return;
    }
    if (read.kind === "valid" && stale !== null && read.token === stale.fileToken) {
      // The file still holds what it held before the login it missed: not a new token.
      await rewriteStale();
      return;
    }
    if (read.kind === "valid") {
      // A token of the file's own (a hand edit, another writer) wins over a stale write.
      stale = null;
      lastFileToken = read.token;
      const print = fingerprint(read.token);
      send({ type: "TokenLoaded", token: read.token, fingerprint: print, source });
    } else {
      const detail = read.kind === "absent"
        ? `no access token in ${envFile}`
        : `${envFile} holds an invalid token, not used: ${read.detail}`;
      send({ type: "TokenInvalid", source, detail });
    }
  }

  function onRead(result: EnvReadResult): void {
    const source: TokenSource = firstRead ? "startup" : "file";
    firstRead = false;
    options.counted?.();
    reads = reads.then(() => deliver(result, source));
  }

  const watcher = watchEnvFile(envFile, {
    onRead,
    ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
    ...readOptions,
    timers: options.clock,
  });

  let closing: Promise<void> | undefined;
  return {
    async reload() {
      onRead(await readEnvFile(envFile, readOptions));
      await reads;
      await rewriteStale();
    },
    forget() {
      stale = null;
      watcher.forget();
    },
    writeFailed(token, detail) {
      stale = { token, fileToken: lastFileToken, detail };
    },
    problems,
    [Symbol.asyncDispose]: () =>
      closing ??= (async () => {
        await watcher.close();
        await reads;
      })(),
  };
}
