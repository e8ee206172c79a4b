/**
 * A local Kite on one origin: the login form (kite.zerodha.com), the REST API
 * (api.kite.trade), the ticker (ws.kite.trade, at `/ws`) and `/_sim/*` controls. The
 * official `kiteconnect` client works against it unmodified.
 *
 * @example
 * ```ts
 * await using sim = await startSimulator({ apiKey, apiSecret, userId, password, redirectUrl });
 * const kc = new KiteConnect({ api_key: apiKey, root: sim.url });
 * ```
 *
 * @module
 */
import { Hono } from "hono";
import { HTTPException } from "hono/http-exception";
import { CallCounts } from "./call_counts.ts";
import { controlRoutes, type PeerEnv } from "./control_routes.ts";
import { InjectedErrors } from "./injected_errors.ts";
import { kiteErrorResponse } from "../kite/kite_error.ts";
import { loginRoutes } from "./login_routes.ts";
import { Market, type Random } from "./market.ts";
import { restRoutes } from "./rest_routes.ts";
import { SessionStore } from "./session_store.ts";
import { TickerHub, type TickerStats } from "./ticker_hub.ts";
import { hostPortText } from "../host_port.ts";

/** How to start a simulator. */
export interface SimulatorOptions {
  readonly apiKey: string;
  readonly apiSecret: string;
  /** The only user who can log in, and the profile's user_id. */
  readonly userId: string;
  readonly password: string;
  /** The app's redirect URL: where a good login sends the browser. */
  readonly redirectUrl: string;
  /** Defaults to 127.0.0.1. */
  readonly hostname?: string;
  /** Defaults to 0: any free port. */
  readonly port?: number;
  /** Tick cadence; defaults to 250 ms. */
  readonly tickMs?: number;
  /** Silence after which a socket gets a heartbeat; defaults to 1000 ms, as Kite's. */
  readonly heartbeatMs?: number;
  /** Epoch milliseconds for request token expiry, login_time, tick timestamps and the
   * market phase. */
  readonly clock?: { now(): number };
  /** Prices move only in NSE's pre-open and open phases (IST); default: always. */
  readonly marketHours?: boolean;
  /** Trading holidays (ISO dates, IST) for `marketHours`; defaults to NSE's 2026 list. */
  readonly holidays?: ReadonlySet<string>;
  /** Drives the random walk; defaults to `Math.random`. */
  readonly random?: Random;
  /** Concurrent ticker sockets allowed; Kite's 3 unless a benchmark needs more. */
  readonly maxSockets?: number;
  /** The profile's user_name; defaults to "Kite Simulator". */
  readonly userName?: string;
}

/** What `GET /_sim/stats` reports: the ticker's counters and subscriptions, and REST calls. */
export interface SimulatorStats extends TickerStats {
  /** Calls of each REST route by `METHOD path` (e.g. `"GET /user/profile"`), failures included. */
  readonly rest_calls: Record<string, number>;
}

/** A running simulator. */
export interface Simulator extends AsyncDisposable {
  /** `http://HOST:PORT`: login, REST and control routes. */
  readonly url: string;
  /** `ws://HOST:PORT/ws`: the ticker. */
  readonly tickerUrl: string;
  /** A live access token for the user, without the browser (as `POST /_sim/session`). */
  issueAccessToken(): string;
  /** What `GET /_sim/stats` reports. */
  stats(): SimulatorStats;
  /** Closes the server, every socket and every timer. */
  close(): Promise<void>;
}

function positive(value: number, what: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`Failed to start simulator: ${what} must be positive, got ${value}`);
  }
  return value;
}

/** Starts a simulator and resolves once it accepts connections. */
export async function startSimulator(options: SimulatorOptions): Promise<Simulator> {
  const clock = options.clock ?? Date;
  const now = () => clock.now();
  const sessions = new SessionStore({
    apiKey: options.apiKey,
    apiSecret: options.apiSecret,
    now,
  });
  const rejects = { ticker: new InjectedErrors(), rest: new InjectedErrors() };
  const calls = new CallCounts();
  const market = new Market({
    now,
    hours: options.marketHours === true ? "nse" : "always",
    ...(options.holidays === undefined ? {} : { holidays: options.holidays }),
    ...(options.random === undefined ? {} : { random: options.random }),
  });
  const hub = new TickerHub({
    sessions,
    market,
    now,
    rejects: rejects.ticker,
    tickMs: positive(options.tickMs ?? 250, "tickMs"),
    heartbeatMs: positive(options.heartbeatMs ?? 1000, "heartbeatMs"),
    ...(options.maxSockets === undefined
      ? {}
      : { maxSockets: positive(options.maxSockets, "maxSockets") }),
  });
  const app = new Hono<{ Bindings: PeerEnv }>();
  app.route("/", loginRoutes({ ...options, sessions }));
  app.route(
    "/",
    restRoutes({
      apiKey: options.apiKey,
      userId: options.userId,
      userName: options.userName ?? "Kite Simulator",
      sessions,
      now,
      rejects: rejects.rest,
      calls,
    }),
  );
  const stats = (): SimulatorStats => ({ ...hub.stats(), rest_calls: calls.snapshot() });
  app.route("/", controlRoutes({ sessions, hub, rejects, stats, userId: options.userId, now }));
  app.get("/ws", (c) => hub.upgrade(c.req.raw));
  app.get("/ws/", (c) => hub.upgrade(c.req.raw));
  app.notFound(() => kiteErrorResponse(404, "GeneralException", { message: "Route not found." }));
  app.onError(function renderError(error) {
    if (error instanceof HTTPException) return error.getResponse();
    return kiteErrorResponse(500, "GeneralException", { message: "Internal error." });
  });

  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    const listening = Promise.withResolvers<void>();
    server = Deno.serve({
      hostname: options.hostname ?? "127.0.0.1",
      port: options.port ?? 0,
      onListen: () => listening.resolve(),
    }, (request, info) => app.fetch(request, info));
    await listening.promise;
  } catch (error: unknown) {
    await hub.close();
    throw error;
  }
  const origin = hostPortText(server.addr.hostname, server.addr.port);
  let closed: Promise<void> | undefined;
  async function close(): Promise<void> {
    await hub.close();
    await server.shutdown();
  }
  return {
    url: `http://${origin}`,
    tickerUrl: `ws://${origin}/ws`,
    issueAccessToken: () => sessions.issueAccessToken(),
    stats,
    close: () => closed ??= close(),
    [Symbol.asyncDispose]: () => closed ??= close(),
  };
}
