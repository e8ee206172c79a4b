/**
 * Runs `official_client.ts` (the unmodified npm KiteTicker) in child processes and collects
 * the events each prints, so a test can wait on them and check what did not happen.
 *
 * @module
 */
import type { Mode } from "../../src/kite/packets.ts";
import { denoChildEnv } from "./run.ts";

const SCRIPT = new URL("./official_client.ts", import.meta.url).pathname;
const ROOT = new URL("../../", import.meta.url).pathname;
const GIVE_UP_MS = 20_000;

/** One event the official client printed. */
export interface OfficialEvent {
  readonly event: string;
  /** Epoch ms, for `ticks`. */
  readonly at?: number;
  readonly ticks?: readonly Record<string, unknown>[];
  readonly message?: string;
  readonly code?: number | null;
}

/** A running official client. */
export interface OfficialClient extends AsyncDisposable {
  /** Every event so far, in order. */
  readonly events: readonly OfficialEvent[];
  /** Resolves with the first event (from index `from`) that `match` accepts. */
  until(match: (event: OfficialEvent) => boolean, from?: number): Promise<OfficialEvent>;
  /** Ends the client (closes its stdin) and waits for it to exit. */
  close(): Promise<void>;
}

/** Starts an official KiteTicker on `root` that subscribes `tokens` in `mode` on connect. */
export function startOfficialClient(
  root: string,
  options: {
    apiKey: string;
    accessToken: string;
    mode?: Mode;
    tokens?: readonly number[];
    reconnect?: boolean;
  },
): OfficialClient {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      SCRIPT,
      root,
      options.apiKey,
      options.accessToken,
      options.mode ?? "full",
      (options.tokens ?? []).join(","),
      ...(options.reconnect === false ? ["noreconnect"] : []),
    ],
    cwd: ROOT,
    env: denoChildEnv(),
    clearEnv: true,
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const events: OfficialEvent[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  const stderr = new Response(child.stderr).text();
  const reading = (async () => {
    let buffer = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) if (line.startsWith("{")) events.push(JSON.parse(line));
      for (const wake of [...waiters]) wake();
    }
    ended = true;
    for (const wake of [...waiters]) wake();
  })();

  function until(match: (event: OfficialEvent) => boolean, from = 0): Promise<OfficialEvent> {
    const { promise, resolve, reject } = Promise.withResolvers<OfficialEvent>();
    let index = from;
    const timer = setTimeout(() =>
      finish(() =>
        reject(
          new Error(
            `Failed to see the expected event within ${GIVE_UP_MS} ms; saw ${
              JSON.stringify(events.map((e) => e.event))
            }`,
          ),
        )
      ), GIVE_UP_MS);
    function finish(settle: () => void): void {
      clearTimeout(timer);
      waiters.delete(check);
      settle();
    }
    function check(): void {
      for (; index < events.length; index++) {
        const event = events[index] as OfficialEvent;
        if (match(event)) return finish(() => resolve(event));
      }
      if (ended) {
        void stderr.then((text) =>
          finish(() => reject(new Error(`The official client ended:\n${text}`)))
        );
      }
    }
    waiters.add(check);
    check();
    return promise;
  }

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= (async () => {
      await child.stdin.close().catch(() => {});
      const timer = setTimeout(() => child.kill("SIGKILL"), 5000);
      await child.status;
      clearTimeout(timer);
      await reading;
      await stderr;
    })();
    return closing;
  }
  return { events, until, close, [Symbol.asyncDispose]: close };
}
