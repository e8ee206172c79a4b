/**
 * The composition root: builds one kitekeeper from its parts and disposes them through one
 * stack, each part owning its teardown. The ticker, the `.env` file and the login callback
 * report to the lifecycle actor as events; the actor alone decides and drives them.
 *
 * @module
 */
import type { Hono } from "hono";
import { type Clock, systemClock } from "./clock.ts";
import { type Config, lifecycleOptions } from "./config.ts";
import { createFeedStore, type FeedSnapshot, type FeedStore } from "./feed/store.ts";
import { watchQuietFeed } from "./feed/quiet_feed_watch.ts";
import { feedObservation } from "./feed/quiet_feed.ts";
import { createStreamHub } from "./feed/stream_hub.ts";
import { connectTickerFeed } from "./feed/ticker_feed.ts";
import { createEndpoint } from "./endpoint/endpoint.ts";
import { endpointFamilies } from "./ops/endpoint_metrics.ts";
import { credentialCheck } from "./endpoint/credentials.ts";
import { createApp } from "./http/app.ts";
import { hotRoutes } from "./http/hot_routes.ts";
import { tickerPaths } from "./http/ticker_routes.ts";
import { renderMetrics } from "./ops/metrics.ts";
import { listenHttp, MAX_CONNECTIONS_PER_PEER, publicUrlOf } from "./http/server.ts";
import { type Actor, createActor } from "./lifecycle/actor.ts";
import { consoleLogger, envStaleBlock, type Logger, loginNeededBlock } from "./log.ts";
import { nseHolidays2026 } from "./market/holidays_nse_2026.ts";
import { cachedMarketPhase } from "./market/phase_cache.ts";
import { createDaemonMetrics } from "./ops/daemon_metrics.ts";
import { watchGaps } from "./feed/gap_watch.ts";
import { journalFamilies, journalView } from "./ops/journal_report.ts";
import { createNotifier } from "./ops/notifier.ts";
import { stateSummary } from "./ops/state_summary.ts";
import type { StatusBody } from "./ops/status_body.ts";
import { endpointView, statusSource } from "./ops/status_source.ts";
import { watchEnvTokens } from "./token/env_tokens.ts";
import { createKiteLogin } from "./token/kite_login.ts";
import { createLoginStates } from "./token/login_state.ts";
import { encode } from "./kite/packets.ts";
import { profileProbe } from "./token/profile_probe.ts";

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

/** An empty feed: what /stream's state events are rendered with, since they show no feed. */
const NO_FEED: FeedSnapshot = Object.freeze({
  instruments: {},
  last_data_at: null,
  ticks_total: 0,
  decode_errors_total: 0,
  ignored_ticks_total: 0,
});

/** Starts kitekeeper for `config`: serving, watching `.env`, and keeping the feed live. */
export async function startDaemon(config: Config, options: DaemonOptions): Promise<Daemon> {
  const clock = options.clock ?? systemClock();
  const log = options.log ?? consoleLogger({ now: () => clock.now() });
  const startedAt = clock.now();
  const holidays = options.holidays ?? nseHolidays2026();
  // Disposed in reverse: on a failed start here, or on close() once started.
  await using stack = new AsyncDisposableStack();

  // Bound first, so the login URL can name the bound port; requests wait for the app.
  const http = stack.use(
    await listenHttp(config.listen, {
      graceMs: options.shutdownGraceMs ?? SHUTDOWN_GRACE_MS,
      // Programs on this machine all connect from loopback: the peer cap must leave room for
      // every /ws client the endpoint serves, then the usual 32 other connections.
      maxConnectionsPerPeer: config.maxClients + MAX_CONNECTIONS_PER_PEER,
    }),
  );
  const publicUrl = publicUrlOf(config, http.url);
  const loginUrl = `${publicUrl}/api/auth/login`;
  const endpointUrl = `${publicUrl.replace(/^http/, "ws")}/ws`;

  // The actor drives the ticker and the notifier, and they report back to it. Nothing reports
  // before the first .env read (the watcher, built last): no socket opens without a token.
  // Subscribed: the configured instruments and, once the endpoint runs, its clients' union.
  const configured = new Set(config.instruments);
  let upstreamPlan: () => readonly { readonly instruments: ReadonlyMap<number, unknown> }[] =
    () => [];
  const feed = createFeedStore({
    wanted: (token) =>
      configured.has(token) || upstreamPlan().some((shard) => shard.instruments.has(token)),
  });
  const ticker = stack.use(connectTickerFeed(config.tickerUrl, {
    apiKey: config.apiKey,
    feed,
    streams: {
      publish(ticks, at) {
        streams.publish(ticks, at);
        cluster?.publishTicks(ticks, at);
      },
    },
    endpoint: {
      publish: (message) => endpoint.publish(message),
      forward: (text) => endpoint.forward(text),
    },
    send(event) {
      const passed = cluster === null ? event : cluster.filter(event);
      if (passed !== null) actor.send(passed);
    },
    clock,
    log,
    handshakeTimeoutMs: options.handshakeTimeoutMs,
    onMessage: (gen, raw) => journal?.message(gen, raw),
  }));
  // With Redis: a node of a cluster, loaded only then. Its lease gate stands between the
  // lifecycle and the ticker: only the lease holder opens upstream sockets.
  const cluster = config.cluster === null ? null : stack.use(
    await (await import("./cluster/cluster_node.ts")).startClusterNode(
      { ...config, cluster: config.cluster },
      { clock, log, sockets: ticker, send: (event) => actor.send(event) },
    ),
  );
  const states = cluster?.loginStates ?? await createLoginStates({ now: () => clock.now() });
  const actor = createActor({
    ports: {
      socket: cluster?.port ?? ticker,
      probe: profileProbe(config, { userId: config.userId }),
      clock,
      log,
      notify(reason, notice) {
        for (const line of loginNeededBlock(reason, loginUrl)) log("warn", line);
        // Only queues: a slow webhook never holds the actor.
        if (notice?.kind === "reminder") notifier?.reminder(reason);
        else notifier?.loginNeeded(reason);
      },
    },
    lifecycle: lifecycleOptions(config, { holidays }),
  });

  // Before the journal: a journal that stops at opening already has someone to tell.
  const notifier = config.notify === undefined ? undefined : stack.use(
    createNotifier(config.notify, { lifecycle: actor, loginUrl: () => loginUrl, clock, log }),
  ); // The actor's observers; it stops before them, so they see its last word.
  // Loaded only when configured, as the cluster is: an idle `run` carries no writer or zlib.
  const journal = config.journal === null ? null : stack.use(await openJournal(config.journal));
  async function openJournal(journaling: NonNullable<Config["journal"]>) {
    const { preciseNowUs, startFeedJournal } = await import("./journal/feed_journal.ts");
    return startFeedJournal(journaling.dir, {
      lifecycle: actor,
      clock,
      log,
      keepDays: journaling.keepDays,
      onProblem: (problem) => notifier?.journalStopped(problem),
      // An injected clock (tests) stamps the journal too; the real one to the microsecond.
      ...(options.clock === undefined ? { nowUs: preciseNowUs } : {}),
    });
  }
  const gaps = stack.use(
    watchGaps({
      lifecycle: actor,
      clock,
      holidays,
      onGap(gap) {
        journal?.gap(gap);
        cluster?.gap(gap);
      },
    }),
  );

  const metrics = stack.use(createDaemonMetrics(actor, { feed: () => feed.snapshot(), startedAt }));
  // Local programs' Kite-compatible ticker: it asks the actor for the upstream it needs.
  const endpoint = stack.use(createEndpoint({
    credentials: credentialCheck({
      apiKey: config.apiKey,
      clientTokens: config.clientTokens,
      currentToken: () => actor.snapshot().token?.token ?? null,
    }),
    base: new Map(config.instruments.map((token) => [token, config.mode])),
    onPlan(plan) {
      // In a cluster the holder subscribes what every node's programs want.
      if (cluster === null) actor.send({ type: "PlanChanged", plan });
      else cluster.plan(plan);
    },
    lifecycle: actor,
    clock,
    log,
    limits: { maxClients: config.maxClients },
    lowerModes: "hold", // Kite's live feed: the raised mode's tick follows at once.
  }));
  // What the lifecycle subscribes: the endpoint's plan, or in a cluster every node's wants.
  upstreamPlan = () => actor.snapshot().shards.map((shard) => ({ instruments: shard.plan }));
  const quiet = config.noTicksWarnMs === null ? null : stack.use(
    watchQuietFeed(() => feedObservation(actor.snapshot(), feed.snapshot()), {
      clock,
      log,
      holidays,
      thresholdMs: config.noTicksWarnMs,
    }),
  );
  const statusOptions = {
    lifecycle: actor,
    feed,
    clock,
    market: cachedMarketPhase(clock.now(), { holidays }),
    feedWarning: () => quiet?.warning() ?? null,
    endpoint: () => endpointView(endpoint.stats(), endpointUrl),
    mode: config.mode,
    loginUrl,
    version: options.version,
    startedAt,
    gaps: gaps.today,
    journal: () => journal === null ? null : journalView(journal.status()),
    envProblems: () => tokens.problems(),
  };
  const localStatus = statusSource(statusOptions);
  const status = cluster === null ? localStatus : () => cluster.decorate(localStatus());
  // /stream's state events show no quotes: rendering every instrument's (3000: ~0.8 ms) on a
  // state change held up the new socket's handshake, which waits for that turn to end.
  const localHead = statusSource({ ...statusOptions, feed: { snapshot: () => NO_FEED } });
  const head = cluster === null ? localHead : () => cluster.decorate(localHead());
  const streams = stack.use(
    createStreamHub({
      lifecycle: actor,
      summary: () => JSON.stringify(stateSummary(head())),
      clock,
    }),
  );
  stack.defer(() => actor.stop());

  // The cluster's token goes into .env before the watcher's first read of it.
  let forgetEnv = (): void => {};
  await cluster?.attach({
    lifecycle: actor,
    onBusTicks(ticks, at) {
      feed.record(ticks, at);
      streams.publish(ticks, at);
      endpoint.publish(encode(ticks));
    },
    written: () => forgetEnv(),
  });
  const tokens = stack.use(watchEnvTokens(config.envFile, {
    tokenPattern: config.tokenPattern,
    send: actor.send,
    counted: metrics.countEnvRead,
    clock,
    debounceMs: options.debounceMs,
    maxBytes: config.envMaxBytes,
    log,
    current: () => actor.snapshot().token?.token,
  }));
  forgetEnv = tokens.forget;
  const login = createKiteLogin(config, {
    states,
    clock,
    log,
    send: actor.send,
    written: tokens.forget,
    writeFailed(token, detail) {
      tokens.writeFailed(token, detail);
      for (const line of envStaleBlock(config.envFile, detail)) log("error", line);
      notifier?.envStale(`${config.envFile} could not be written (${detail})`);
    },
  });
  const app = createApp({
    status,
    streams,
    instruments: config.instruments,
    metrics: () =>
      renderMetrics([
        ...metrics.families(),
        ...endpointFamilies(endpoint.stats()),
        ...journalFamilies(gaps.secondsTotal(), journal?.status() ?? null),
      ]),
    upgradeTicker: endpoint.upgrade,
    loginUrl: login.loginUrl,
    callback: login.callback,
  }, { adminToken: config.adminToken, tickerPaths: tickerPaths(config.publicUrl) });
  // Polled routes skip the app, from bodies at most 100 ms old (real time: it is about load).
  const hot = hotRoutes(app, {
    status,
    now: () => performance.now(),
    adminToken: config.adminToken,
  });
  stack.defer(actor.subscribe(hot.invalidate));
  http.serve(hot);

  const resources = stack.move();
  let closing: Promise<void> | undefined;
  const close = () => closing ??= resources.disposeAsync();
  return {
    url: http.url,
    loginUrl,
    actor,
    feed,
    app,
    status,
    reload: tokens.reload,
    close,
    [Symbol.asyncDispose]: close,
  };
}
