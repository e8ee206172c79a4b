/**
 * `.env` as a source of lifecycle events: each read of the file (by the watcher, or a
 * SIGHUP's `reload()`) becomes a `TokenLoaded` or a `TokenInvalid`, one at a time, in the
 * order the reads happened. The first read is the startup one.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Event, TokenSource } from "../lifecycle/machine.ts";
import { type EnvReadResult, readEnvFile } from "./env_file.ts";
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
}

/** The running source; disposing it stops watching and waits for reads in flight. */
export interface EnvTokens extends AsyncDisposable {
  /** Re-reads `.env` now and resolves once the read was delivered (SIGHUP). */
  reload(): Promise<void>;
  /** Reports the next read even when its bytes are the last ones read (after our own write). */
  forget(): void;
}

/** Starts watching `envFile`; its content is read and delivered at once. */
export function watchEnvTokens(envFile: string, options: EnvTokensOptions): EnvTokens {
  const { tokenPattern, send } = options;
  let reads = Promise.resolve();
  let firstRead = true;

  function deliver(result: EnvReadResult, source: TokenSource): void {
    if (result.kind !== "ok") {
      const detail = result.kind === "missing"
        ? `${envFile} does not exist`
        : `Failed to read ${envFile}: ${result.detail}`;
      send({ type: "TokenInvalid", source, detail });
      return;
    }
    const read = readToken(result.values, tokenPattern);
    if (read.kind === "valid") {
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
    timers: options.clock,
  });

  let closing: Promise<void> | undefined;
  return {
    async reload() {
      onRead(await readEnvFile(envFile));
      await reads;
    },
    forget: () => watcher.forget(),
    [Symbol.asyncDispose]: () =>
      closing ??= (async () => {
        await watcher.close();
        await reads;
      })(),
  };
}
