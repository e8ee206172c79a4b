/**
 * Wires one kitekeeper: the lifecycle actor and its adapters (ticker socket, profile probe,
 * timers, logger), the `.env` watcher, the login flow and the HTTP server. Adapters only send
 * events to the actor; the actor alone decides.
 *
 * @module
 */
import { completeLogin } from "./token/login_flow.ts";
import { type Clock, systemClock } from "./clock.ts";
import { type Config, readToken } from "./config.ts";
import { type EnvReadResult, readEnvFile, writeToken } from "./token/env_file.ts";
import { type EnvWatcher, watchEnvFile } from "./token/env_watcher.ts";
import { createDaemonMetrics } from "./ops/daemon_metrics.ts";
import { createFeedStore, type FeedStore } from "./feed/store.ts";
import { fingerprint } from "./token/fingerprint.ts";
import { nseHolidays2026 } from "./market/holidays_nse_2026.ts";
import type { Hono } from "hono";
import { createApp } from "./http/app.ts";
import { createLoginStates } from "./token/login_state.ts";
import {
  buildLoginUrl,
  exchangeRequestToken,
  invalidateToken,
  probeProfile,
} from "./kite/session.ts";
import { createTickerPort } from "./kite/ticker.ts";
import { type Actor, createActor, type ProbeReport } from "./lifecycle/actor.ts";
import type { TokenSource } from "./lifecycle/machine.ts";
import { consoleLogger, type Logger, loginNeededBlock } from "./log.ts";
import { type MarketPhase, marketPhase } from "./market/phase.ts";
import { feedObservation } from "./feed/quiet_feed.ts";
import { watchQuietFeed } from "./feed/quiet_feed_watch.ts";
import { createNotifier } from "./ops/notifier.ts";
import type { StatusBody } from "./ops/status_body.ts";
import { renderStatus } from "./ops/status_view.ts";
import { createStreamHub, summarize } from "./feed/stream_hub.ts";

/** Options of {@linkcode startDaemon}. */
export interface DaemonOptions {
  /** Reported in /status and --version. */
  readonly version: string;
  readonly clock?: Clock;
  readonly log?: Logger;
  /** The ticker handshake's time limit; default 10 s. */
  readonly handshakeTimeoutMs?: number;
  /** How long in-flight requests may take to finish on close; default 1.5 s. */
  readonly shutdownGraceMs?: number;
  /** The .env watcher's quiet time; default 50 ms. */
  readonly debounceMs?: number;
  /** Trading holidays for /status's market phase (`readHolidays`); default NSE 2026. */
  readonly holidays?: ReadonlySet<string>;
}

/** A running kitekeeper. */
export interface Daemon extends AsyncDisposable {
  /** Where it serves, e.g. `http://127.0.0.1:8000`. */
  readonly url: string;
  /** Where a browser starts a login. */
  readonly loginUrl: string;
  readonly actor: Actor;
  readonly feed: FeedStore;
  /** The HTTP app the server runs, for in-process requests: `daemon.app.request("/status")`. */
  readonly app: Hono;
  /** The current /status body. */
  status(): StatusBody;
  /** Re-reads `.env` now (SIGHUP). */
  reload(): Promise<void>;
  /** Closes the socket, stops watching, finishes in-flight requests. */
  close(): Promise<void>;
}

// In-flight requests get this long to finish on close; SIGTERM must end within 2 s.
const SHUTDOWN_GRACE_MS = 1_500;

/** Lets in-flight requests finish, then drops whatever is left (a client that stopped reading). */
async function shutdownWithin(
  server: Deno.HttpServer,
  abort: AbortController,
  graceMs: number,
): Promise<void> {
  // A real timer on purpose: the grace is for real sockets, whatever clock the daemon runs on.
  const deadline = setTimeout(() => abort.abort(), graceMs);
  try {
    await server.shutdown();
  } finally {
    clearTimeout(deadline);
  }
}

function origin(hostname: string, port: number): string {
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  return `http://${host}:${port}`;
}

/** Starts kitekeeper for `config`: serving, watching `.env`, and keeping the feed live. */
export async function startDaemon(config: Config, options: DaemonOptions): Promise<Daemon> {
  const clock = options.clock ?? systemClock();
  const log = options.log ?? consoleLogger({ now: () => clock.now() });
  const startedAt = clock.now();
  const feed = createFeedStore();
  const states = await createLoginStates({ now: () => clock.now() });
  const endpoint = { apiRoot: config.apiRoot, apiKey: config.apiKey };
  // Filled in once the server is bound: the public URL may depend on the bound port.
  let publicUrl = config.publicUrl;
  const loginPath = () => `${publicUrl}/api/auth/login`;

  const ticker = createTickerPort(config.tickerUrl, {
    apiKey: config.apiKey,
    handshakeTimeoutMs: options.handshakeTimeoutMs ?? 10_000,
    timers: clock,
    handlers: {
      opened: (gen) => actor.send({ type: "SocketOpened", gen }),
      binary(gen, decoded) {
        const at = clock.now();
        if (decoded.kind === "ticks") {
          feed.record(decoded.ticks, at);
          streams.publish(decoded.ticks, at);
          if (decoded.errors > 0) {
            feed.countErrors(decoded.errors);
            log("warn", `Skipped ${decoded.errors} malformed part(s) of a binary message`);
          }
        } else {
          feed.touch(at);
        }
        actor.send({ type: "DataReceived", gen });
      },
      text(gen, message) {
        if (message.type === "error") {
          actor.send({ type: "TextError", gen, message: String(message.data) });
        } else if (message.type === "invalid") {
          log("warn", `Kite sent an unreadable text message: ${message.reason}`);
        } else {
          log("debug", `Kite sent a ${message.type} message`);
        }
      },
      failed: (gen, failure) =>
        actor.send({ type: "SocketFailed", gen, kind: failure.kind, detail: failure.detail }),
    },
  });

  async function probe(token: string): Promise<ProbeReport> {
    const result = await probeProfile(token, endpoint);
    if (result.kind !== "ok") return { result: result.kind, detail: result.detail };
    if (config.userId !== undefined && result.userId !== config.userId) {
      return { result: "wrong_user", userId: result.userId };
    }
    return { result: "ok", userId: result.userId };
  }

  const actor = createActor({
    ports: {
      socket: ticker,
      probe,
      clock,
      log,
      notify(reason) {
        log("warn", loginNeededBlock(reason, loginPath()));
        notifier?.loginNeeded(reason); // Only queues: a slow webhook never holds the actor.
      },
    },
    lifecycle: {
      subscriptions: { tokens: config.instruments, mode: config.mode },
      backoffBaseMs: config.backoffBaseMs,
      backoffCapMs: config.backoffCapMs,
      stallMs: config.stallMs,
      expiryAt: `${String(config.tokenExpiry.hour).padStart(2, "0")}:${
        String(config.tokenExpiry.minute).padStart(2, "0")
      }`,
    },
  });

  const metrics = createDaemonMetrics(actor, { feed: () => feed.snapshot(), startedAt });
  const streams = createStreamHub({ lifecycle: actor, summary: () => summarize(status()), clock });
  const notifier = config.notify === undefined
    ? undefined
    : createNotifier(config.notify, { lifecycle: actor, loginUrl: loginPath, clock, log });

  const holidays = options.holidays ?? nseHolidays2026();
  const quiet = config.noTicksWarnMs === null
    ? null
    : watchQuietFeed(() => feedObservation(actor.snapshot(), feed.snapshot()), {
      clock,
      log,
      holidays,
      thresholdMs: config.noTicksWarnMs,
    });

  // .env reads are turned into events one at a time, in the order they were read.
  let reads = Promise.resolve();
  let firstRead = true;
  function onRead(result: EnvReadResult): void {
    const source: TokenSource = firstRead ? "startup" : "file";
    firstRead = false;
    metrics.countEnvRead();
    reads = reads.then(() => deliverRead(result, source));
  }

  async function deliverRead(result: EnvReadResult, source: TokenSource): Promise<void> {
    if (result.kind !== "ok") {
      const detail = result.kind === "missing"
        ? `${config.envFile} does not exist`
        : `Failed to read ${config.envFile}: ${result.detail}`;
      actor.send({ type: "TokenInvalid", source, detail });
      return;
    }
    const read = readToken(result.values, config.tokenPattern);
    if (read.kind === "valid") {
      actor.send({
        type: "TokenLoaded",
        token: read.token,
        fingerprint: await fingerprint(read.token),
        source,
      });
    } else {
      const detail = read.kind === "absent"
        ? `no access token in ${config.envFile}`
        : `${config.envFile} holds an invalid token, not used: ${read.detail}`;
      actor.send({ type: "TokenInvalid", source, detail });
    }
  }

  const app = createApp({
    status,
    streams,
    instruments: config.instruments,
    metrics: () => metrics.render(),
    async loginUrl() {
      return buildLoginUrl(config.loginUrl, config.apiKey, {
        redirectParams: { state: await states.issue() },
      });
    },
    callback: (query) =>
      completeLogin(query, {
        consumeState: (state) => states.consume(state),
        exchange: (requestToken) =>
          exchangeRequestToken(requestToken, {
            ...endpoint,
            apiSecret: config.apiSecret,
            now: () => clock.now(),
          }),
        invalidate: (token) => invalidateToken(token, endpoint),
        async persist(token) {
          await writeToken(config.envFile, token, { key: config.tokenKey });
          // A restore of the bytes the watcher last read must not go unnoticed now.
          watcher.forget();
        },
        async deliver(session) {
          const print = await fingerprint(session.accessToken);
          log("info", `Login completed for ${session.userId}; token ${print} written to .env`);
          actor.send({
            type: "TokenLoaded",
            token: session.accessToken,
            fingerprint: print,
            source: "callback",
            issuedAt: session.loginTime,
          });
        },
        pinnedUserId: config.userId,
        tokenPattern: config.tokenPattern,
      }),
  }, { adminToken: config.adminToken });

  // The phase holds until its next_change, so /status walks the calendar only then.
  let market = { at: clock.now(), phase: marketPhase(clock.now(), { holidays }) };
  function marketNow(now: number): MarketPhase {
    if (now < market.at || now >= market.phase.next_change) {
      market = { at: now, phase: marketPhase(now, { holidays }) };
    }
    return market.phase;
  }

  function status(): StatusBody {
    const now = clock.now();
    return renderStatus(actor.snapshot(), {
      feed: feed.snapshot(),
      mode: config.mode,
      loginUrl: loginPath(),
      version: options.version,
      pid: Deno.pid,
      startedAt,
      now,
      market: marketNow(now),
      feedWarning: quiet?.warning() ?? null,
    });
  }

  const listening = Promise.withResolvers<Deno.NetAddr>();
  // Aborting the server is the only way to drop a connection whose client stopped reading.
  const abortServer = new AbortController();
  const server = Deno.serve({
    hostname: config.listen.hostname,
    port: config.listen.port,
    signal: abortServer.signal,
    onListen: (addr) => listening.resolve(addr),
  }, app.fetch);
  const addr = await listening.promise;
  const url = origin(addr.hostname, addr.port);
  if (config.listen.port === 0 && publicUrl === origin(config.listen.hostname, 0)) publicUrl = url;

  const watcher: EnvWatcher = watchEnvFile(config.envFile, {
    onRead,
    ...(options.debounceMs === undefined ? {} : { debounceMs: options.debounceMs }),
    timers: clock,
  });

  let closing: Promise<void> | undefined;
  function close(): Promise<void> {
    closing ??= (async () => {
      quiet?.stop();
      await watcher.close();
      await reads;
      await actor.stop();
      metrics.close();
      await notifier?.close();
      await ticker.closeAll();
      await streams.close(); // An SSE response never ends by itself; shutdown would wait.
      await shutdownWithin(server, abortServer, options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS);
    })();
    return closing;
  }

  return {
    url,
    get loginUrl() {
      return loginPath();
    },
    actor,
    feed,
    app,
    status,
    async reload() {
      onRead(await readEnvFile(config.envFile));
      await reads;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
