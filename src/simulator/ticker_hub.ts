/**
 * ws.kite.trade, simulated: the WebSocket handshake (403 for a bad token), heartbeats, the
 * subscribe/unsubscribe/mode requests, cached and changed ticks, Kite's limits, and the
 * faults `/_sim/*` asks for.
 *
 * Limits, as Kite states them (kite.trade forum, Zerodha staff): at most 3 sockets an
 * api_key (Kite refuses a 4th upgrade with HTTP 429 "TooManyRequests", so does this) and
 * at most 3000 instruments a socket (Kite does not document its reply; here tokens past
 * 3000 stay unsubscribed and the socket gets one `{"type":"error","data":…}` text message).
 *
 * Choices where Kite's behaviour is not written down: a `mode` request for a token that is
 * not subscribed is ignored; a mode change sends that token's cached tick in the new mode
 * at once (as a subscribe does); `/_sim/drop` closes with {@linkcode DROP_CLOSE_CODE}
 * because Deno's server WebSocket cannot cut the TCP connection without a close frame.
 *
 * @module
 */
import { encode, encodeHeartbeat, type Mode, type Tick } from "../kite/packets.ts";
import { kiteErrorResponse } from "../kite/kite_error.ts";
import type { Market } from "./market.ts";
import type { SessionStore } from "./session_store.ts";

/** What the hub needs. */
export interface TickerHubOptions {
  readonly sessions: SessionStore;
  readonly market: Market;
  /** Tick cadence in milliseconds. */
  readonly tickMs: number;
  /** Heartbeat cadence in milliseconds. */
  readonly heartbeatMs: number;
}

/** Counters and subscriptions, as `GET /_sim/stats` reports them. */
export interface TickerStats {
  readonly handshakes: { readonly accepted: number; readonly rejected: number };
  readonly sockets_open: number;
  /** Tick packets sent (a message carries one or more), cached ones included. */
  readonly ticks_sent: number;
  readonly heartbeats_sent: number;
  /** Every open socket's subscriptions merged: token → mode (a later socket wins a tie). */
  readonly subscriptions: Record<string, Mode>;
  /** Each open socket's subscriptions, in the order they opened. */
  readonly sockets: readonly { readonly subscriptions: Record<string, Mode> }[];
  /** Access tokens live now (issued, not yet logged out or expired). */
  readonly sessions_active: number;
}

interface Client {
  readonly socket: WebSocket;
  readonly modes: Map<number, Mode>;
  readonly closed: Promise<void>;
}

/** Kite's limits. */
const MAX_SOCKETS_PER_KEY = 3;
const MAX_INSTRUMENTS_PER_SOCKET = 3000;
const MODES: ReadonlySet<string> = new Set(["ltp", "quote", "full"]);
/** Close code for `/_sim/drop`: Deno's WebSocket cannot drop the TCP connection, and only
 * 1000 or 3000–4999 may be sent, so a private-use code marks the abrupt end. */
export const DROP_CLOSE_CODE = 4000;
/** How long `close()` waits for a peer to answer the close handshake. */
const CLOSE_GRACE_MS = 1000;
/** Two packets announced, the first cut short: every decoder must flag it. */
const GARBAGE = new Uint8Array([0x00, 0x02, 0x00, 0x2c, 0x00, 0x06, 0x3a, 0x01, 0xff]);

function tokensOf(value: unknown): number[] {
  if (!Array.isArray(value)) return [];
  return value.filter((t): t is number => Number.isInteger(t) && t > 0 && t <= 0xffffffff);
}

function record(modes: ReadonlyMap<number, Mode>): Record<string, Mode> {
  return Object.fromEntries([...modes].map(([token, mode]) => [String(token), mode]));
}

/** Every ticker socket of one simulator, with its timers. */
export class TickerHub {
  #options: TickerHubOptions;
  #clients = new Set<Client>();
  #accepted = 0;
  #rejected = 0;
  #ticksSent = 0;
  #heartbeatsSent = 0;
  #stallUntil = 0;
  #refuseUntil = 0;
  #tickTimer: ReturnType<typeof setInterval>;
  #heartbeatTimer: ReturnType<typeof setInterval>;
  #closing = false;

  /** Starts the tick and heartbeat timers; {@linkcode TickerHub.close} stops them. */
  constructor(options: TickerHubOptions) {
    this.#options = options;
    this.#tickTimer = setInterval(() => this.#tick(), options.tickMs);
    this.#heartbeatTimer = setInterval(() => this.#heartbeat(), options.heartbeatMs);
  }

  /** Answers a `/ws` request: an upgrade, or Kite's refusal (403, 429, 503). */
  upgrade(request: Request): Response {
    const refusal = this.#refusal(request);
    if (refusal !== undefined) {
      this.#rejected++;
      return refusal;
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    this.#accepted++;
    socket.binaryType = "arraybuffer";
    const client: Client = {
      socket,
      modes: new Map(),
      closed: new Promise((resolve) => socket.addEventListener("close", () => resolve())),
    };
    this.#clients.add(client);
    socket.addEventListener("message", (event) => this.#onMessage(client, event.data));
    socket.addEventListener("close", () => this.#clients.delete(client));
    return response;
  }

  #refusal(request: Request): Response | undefined {
    if (this.#closing) {
      return kiteErrorResponse(503, "NetworkException", { message: "Shutting down." });
    }
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return kiteErrorResponse(400, "InputException", { message: "Expected a WebSocket upgrade." });
    }
    if (performance.now() < this.#refuseUntil) {
      return kiteErrorResponse(503, "NetworkException", { message: "Service unavailable." });
    }
    const query = new URL(request.url).searchParams;
    const live = this.#options.sessions.isLive(
      query.get("api_key") ?? "",
      query.get("access_token") ?? "",
    );
    if (!live) {
      return kiteErrorResponse(403, "TokenException", {
        message: "Incorrect `api_key` or `access_token`.",
      });
    }
    if (this.#clients.size >= MAX_SOCKETS_PER_KEY) {
      return kiteErrorResponse(429, "NetworkException", { message: "TooManyRequests" });
    }
    return undefined;
  }

  #stalled(): boolean {
    return performance.now() < this.#stallUntil;
  }

  #send(client: Client, data: string | Uint8Array): boolean {
    if (client.socket.readyState !== WebSocket.OPEN) return false;
    try {
      client.socket.send(data);
      return true;
    } catch {
      // The peer went away between the check and the send; its close event cleans up.
      return false;
    }
  }

  #sendTicks(client: Client, tokens: Iterable<number>): void {
    if (this.#stalled()) return;
    const ticks: Tick[] = [];
    for (const token of tokens) {
      const mode = client.modes.get(token);
      if (mode !== undefined) ticks.push(this.#options.market.tick(token, mode));
    }
    if (ticks.length > 0 && this.#send(client, encode(ticks))) this.#ticksSent += ticks.length;
  }

  #onMessage(client: Client, data: unknown): void {
    if (typeof data !== "string") return;
    let request: { a?: unknown; v?: unknown };
    try {
      request = JSON.parse(data);
    } catch {
      return; // Kite ignores what it cannot parse.
    }
    if (request === null || typeof request !== "object") return;
    if (request.a === "subscribe") this.#subscribe(client, tokensOf(request.v));
    else if (request.a === "unsubscribe") {
      for (const token of tokensOf(request.v)) client.modes.delete(token);
    } else if (request.a === "mode" && Array.isArray(request.v)) {
      const [mode, tokens] = request.v as unknown[];
      if (typeof mode === "string" && MODES.has(mode)) {
        this.#setMode(client, mode as Mode, tokensOf(tokens));
      }
    }
  }

  #subscribe(client: Client, tokens: readonly number[]): void {
    const added: number[] = [];
    let refused = 0;
    for (const token of tokens) {
      if (client.modes.has(token)) continue;
      if (client.modes.size >= MAX_INSTRUMENTS_PER_SOCKET) {
        refused++;
        continue;
      }
      client.modes.set(token, "quote"); // Kite's default mode after subscribe.
      added.push(token);
    }
    if (refused > 0) {
      const message =
        `Subscription limit exceeded: at most ${MAX_INSTRUMENTS_PER_SOCKET} instruments a connection; ${refused} not subscribed`;
      this.#send(client, JSON.stringify({ type: "error", data: message }));
    }
    this.#sendTicks(client, added);
  }

  /** Changes the mode of subscribed tokens (others are ignored) and sends them in it. */
  #setMode(client: Client, mode: Mode, tokens: readonly number[]): void {
    const changed = tokens.filter((token) => {
      const current = client.modes.get(token);
      if (current === undefined || current === mode) return false;
      client.modes.set(token, mode);
      return true;
    });
    this.#sendTicks(client, changed);
  }

  #tick(): void {
    const subscribed = new Set<number>();
    for (const client of this.#clients) {
      for (const token of client.modes.keys()) subscribed.add(token);
    }
    if (subscribed.size === 0) return;
    const changed = this.#options.market.step(subscribed);
    for (const client of this.#clients) this.#sendTicks(client, changed);
  }

  #heartbeat(): void {
    if (this.#stalled()) return;
    const beat = encodeHeartbeat();
    for (const client of this.#clients) if (this.#send(client, beat)) this.#heartbeatsSent++;
  }

  /** Closes every socket at once with {@linkcode DROP_CLOSE_CODE}; returns how many. */
  drop(): number {
    let dropped = 0;
    for (const client of this.#clients) {
      if (client.socket.readyState !== WebSocket.OPEN) continue;
      client.socket.close(DROP_CLOSE_CODE, "Simulated drop");
      dropped++;
    }
    return dropped;
  }

  /** Sends nothing at all, heartbeats included, for `ms` (sockets stay open). */
  stall(ms: number): void {
    this.#stallUntil = performance.now() + ms;
  }

  /** Answers upgrades with 503 for `ms`; 0 ends an ongoing refusal. */
  refuse(ms: number): void {
    this.#refuseUntil = performance.now() + ms;
  }

  /** Sends one malformed binary message to every socket; returns how many got it. */
  sendGarbage(): number {
    let sent = 0;
    for (const client of this.#clients) if (this.#send(client, GARBAGE)) sent++;
    return sent;
  }

  /** Sends one `{"type":"error","data":message}` text message to every socket. */
  sendTextError(message: string): number {
    const text = JSON.stringify({ type: "error", data: message });
    let sent = 0;
    for (const client of this.#clients) if (this.#send(client, text)) sent++;
    return sent;
  }

  /** Counters and subscriptions now. */
  stats(): TickerStats {
    const merged = new Map<number, Mode>();
    const sockets: { subscriptions: Record<string, Mode> }[] = [];
    for (const client of this.#clients) {
      for (const [token, mode] of client.modes) merged.set(token, mode);
      sockets.push({ subscriptions: record(client.modes) });
    }
    return {
      handshakes: { accepted: this.#accepted, rejected: this.#rejected },
      sockets_open: this.#clients.size,
      ticks_sent: this.#ticksSent,
      heartbeats_sent: this.#heartbeatsSent,
      subscriptions: record(merged),
      sockets,
      sessions_active: this.#options.sessions.liveCount(),
    };
  }

  /** Stops the timers and closes every socket, waiting briefly for each close handshake. */
  async close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#tickTimer);
    clearInterval(this.#heartbeatTimer);
    const closing = [...this.#clients].map((client) => {
      if (client.socket.readyState === WebSocket.OPEN) client.socket.close(1000, "Shutting down");
      return client.closed;
    });
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS);
    });
    await Promise.race([Promise.all(closing), grace]);
    clearTimeout(timer);
  }
}
