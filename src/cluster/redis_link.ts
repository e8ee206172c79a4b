/**
 * One connection to Redis behind a small interface, so the lease, the token and the tick bus
 * never see the client library: `send` a command with a time limit, `subscribe` to a channel,
 * ask `problem()` whether the link is down and why. The first connection must succeed
 * (a clear line otherwise); after it, the client reconnects by itself with capped backoff.
 *
 * The client is node-redis (`@redis/client`, the core of npm `redis`), chosen over ioredis
 * under Deno: both connect, AUTH, SET NX PX, XADD, pub/sub and reconnect after a restart, but
 * node-redis reports a wrong password as `WRONGPASS …` where ioredis says only "Connection is
 * closed.", and ioredis prints stack traces for error events nobody listens to.
 *
 * @module
 */
import { createClient } from "@redis/client";
import { describeRedisFailure, type RedisProblem } from "./redis_failure.ts";

/** A Redis reply as the client decodes it (RESP2): string, number, null, array, or nested. */
export type RedisReply = string | number | null | RedisReply[];

/** A live link to Redis. */
export interface RedisLink {
  /** The URL without its credentials, for messages. */
  readonly where: string;
  /**
   * Sends one command. Rejects at once while the link is down (no offline queue: a command
   * must not fire late), and after `timeoutMs` (default the link's command timeout).
   */
  send(args: readonly string[], options?: { timeoutMs?: number }): Promise<RedisReply>;
  /** Why the link is down now, or `null` while it is up. */
  problem(): RedisProblem | null;
  /** Calls `listener` with each message on `channel`, on a second connection. */
  subscribe(channel: string, listener: (message: string) => void): Promise<void>;
  /** A new link to the same Redis with the same options, e.g. for blocking reads. */
  fork(): Promise<RedisLink>;
  /** Closes both connections; pending commands fail. */
  close(): Promise<void>;
}

/** Options of {@linkcode connectRedis}. */
export interface RedisLinkOptions {
  /** The first connection's time limit, TCP and first answer; default 3 s. */
  readonly connectTimeoutMs?: number;
  /** Default time limit of a command; default 1 s. */
  readonly commandTimeoutMs?: number;
  /** Reconnect delays grow by this much per attempt; default 100 ms. */
  readonly reconnectStepMs?: number;
  /** …up to this; default 1 s (the lease needs a fresh verdict about once a second). */
  readonly reconnectCapMs?: number;
}

/** `redis://user:pass@host:6379/0` → `redis://host:6379/0`; unparsable text → a placeholder. */
export function redactRedisUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.username = "";
    parsed.password = "";
    return parsed.toString().replace(/\/$/, "");
  } catch {
    return "(unparsable URL)";
  }
}

/** Checks `url` is a `redis://` or `rediss://` URL with a host; throws a one-line `TypeError`. */
export function checkRedisUrl(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new TypeError(
      "Invalid KITEKEEPER_REDIS_URL: not a URL (expected redis://[:password@]host:port)",
    );
  }
  if (parsed.protocol !== "redis:" && parsed.protocol !== "rediss:") {
    throw new TypeError(
      `Invalid KITEKEEPER_REDIS_URL: scheme ${parsed.protocol} (expected redis:// or rediss://)`,
    );
  }
  if (parsed.hostname === "") throw new TypeError("Invalid KITEKEEPER_REDIS_URL: no host");
}

/** Closes a client at once; one that already gave up throws "The client is closed". */
function destroyQuietly(client: { destroy(): void }): void {
  try {
    client.destroy();
  } catch {
    // Already closed.
  }
}

function withTimeout<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} timed out after ${ms} ms`)), ms);
  });
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer));
}

/**
 * Connects to `url` and checks it answers `PING` like Redis. Throws an `Error` whose message
 * is one line for the operator (never the password) when it cannot.
 */
export async function connectRedis(
  url: string,
  options: RedisLinkOptions = {},
): Promise<RedisLink> {
  checkRedisUrl(url);
  const where = redactRedisUrl(url);
  const connectTimeoutMs = options.connectTimeoutMs ?? 3_000;
  const commandTimeoutMs = options.commandTimeoutMs ?? 1_000;
  const step = options.reconnectStepMs ?? 100;
  const cap = options.reconnectCapMs ?? 1_000;
  let connected = false;
  let closed = false;
  let problem: RedisProblem | null = null;

  function noteError(error: unknown): void {
    problem = describeRedisFailure(error, { where, connecting: !connected });
  }

  const socket = {
    connectTimeout: connectTimeoutMs,
    // Before the first success: fail (the caller prints one line); after it: retry forever.
    reconnectStrategy: (retries: number, cause: Error) => {
      noteError(cause);
      return connected && !closed ? Math.min(cap, step * (retries + 1)) : false;
    },
  };
  const client = createClient({ url, socket, disableOfflineQueue: true });
  client.on("error", noteError);
  client.on("ready", () => {
    problem = null;
  });
  const subscriber = client.duplicate();
  subscriber.on("error", () => {}); // The main connection reports the link's health.

  try {
    await withTimeout(client.connect(), connectTimeoutMs, "Connecting to Redis");
    const pong = await client.sendCommand(["PING"], { timeout: connectTimeoutMs });
    if (String(pong) !== "PONG") throw new Error(`Protocol error: PING answered ${String(pong)}`);
  } catch (error: unknown) {
    closed = true;
    destroyQuietly(client);
    // When the client gives up it throws "The client is closed"; the cause came before.
    const named = problem ?? describeRedisFailure(error, { where, connecting: true });
    throw new Error(named.line);
  }
  connected = true;
  let subscriberUp: Promise<unknown> | undefined;

  return {
    where,
    async send(args, sendOptions = {}) {
      const timeout = sendOptions.timeoutMs ?? commandTimeoutMs;
      try {
        // Our own limit too: a command caught by a dropped socket can wait for good.
        const reply = client.sendCommand<RedisReply>([...args], { timeout });
        return await withTimeout(reply, timeout + 50, `Redis ${args[0]}`);
      } catch (error: unknown) {
        // A command refused because the link is down says nothing new about why.
        if (problem === null) noteError(error);
        throw error;
      }
    },
    problem: () => problem,
    fork: () => connectRedis(url, options),
    async subscribe(channel, listener) {
      subscriberUp ??= subscriber.connect();
      await subscriberUp;
      await subscriber.subscribe(channel, (message: string) => listener(message));
    },
    close() {
      if (!closed) {
        closed = true;
        destroyQuietly(client);
        if (subscriberUp !== undefined) destroyQuietly(subscriber);
      }
      return Promise.resolve();
    },
  };
}
