/**
 * ws.kite.trade, simulated: the WebSocket handshake (403 for a bad token), heartbeats when a
 * socket is idle, the subscribe/unsubscribe/mode requests, cached and changed ticks in each
 * socket's modes, Kite's limits, and the faults `/_sim/*` asks for.
 *
 * What Kite does, and so this hub:
 * - Heartbeats: a 1-byte binary message, only when the socket has had nothing else for
 *   about a second (`heartbeatMs`); a socket that gets ticks gets no heartbeats.
 * - Subscribe: tokens are not validated (kite.trade forum #7069); a known token's cached
 *   tick is sent at once in quote mode (Kite's default after subscribe), an unknown one
 *   never ticks. Later ticks only when the price changed.
 * - Limits (Kite's docs: "up to 3000 instruments on a single WebSocket connection … upto 3
 *   websocket connections" an api_key): a 4th concurrent upgrade is refused with HTTP 429
 *   and Kite's error body (429 is Kite's documented rate-limit status; what it sends for a
 *   4th socket is not documented); tokens past 3000 on a socket stay unsubscribed and the
 *   socket gets one `{"type":"error","data":…}` text message (Kite's server raises a "max
 *   tokens exceeded" error, zerodha/pykiteconnect#67; its wording is not published).
 *
 * Choices where Kite's behaviour is not written down: a `mode` request for a token that is
 * not subscribed is ignored; a mode change sends that token's cached tick in the new mode
 * at once (as a subscribe does); requests that are not JSON, or name no known action, are
 * ignored; `/_sim/drop` closes with {@linkcode DROP_CLOSE_CODE} because Deno's server
 * WebSocket cannot cut the TCP connection without a close frame.
 *
 * @module
 */
import { encodeHeartbeat, frameBodies, type Mode } from "../kite/packets.ts";
import type { InjectedErrors } from "./injected_errors.ts";
import { kiteErrorResponse } from "../kite/kite_error.ts";
import type { Market } from "./market.ts";
import type { SessionStore } from "./session_store.ts";

/** What the hub needs. */
export interface TickerHubOptions {
  readonly sessions: SessionStore;
  readonly market: Market;
  /** Epoch milliseconds, read once at the start of each tick round. */
  readonly now: () => number;
  /** Handshake errors `/_sim/reject` queued. */
  readonly rejects: InjectedErrors;
  /** Tick cadence in milliseconds. */
  readonly tickMs: number;
  /** How long a socket stays silent before it gets a heartbeat, in milliseconds. */
  readonly heartbeatMs: number;
  /** Concurrent sockets an api_key may hold; Kite's 3 unless a benchmark needs more. */
  readonly maxSockets?: number;
}

/** One open socket, as `GET /_sim/stats` reports it. */
export interface SocketStats {
  /** Token → mode, unknown tokens included (Kite counts them against the limit too). */
  readonly subscriptions: Record<string, Mode>;
  /** `subscribe` requests received: shows how a client batches. */
  readonly subscribe_messages: number;
  /**
   * Tokens a subscribe named that this socket already had. Kite counts duplicates against
   * the 3000 limit (kite.trade forum #7069); here they are only counted, so tests can check
   * a client never sends them.
   */
  readonly resubscribed: number;
  readonly unsubscribe_messages: number;
  readonly mode_messages: number;
  /** Tick packets sent on this socket. */
  readonly ticks_sent: number;
  readonly heartbeats_sent: number;
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
  /** Each open socket, in the order they opened. */
  readonly sockets: readonly SocketStats[];
  /** Access tokens live now (issued, not yet logged out or expired). */
  readonly sessions_active: number;
  /** Whether prices move now (`--market-hours` stops them outside NSE's pre-open and open). */
  readonly market_moving: boolean;
}

interface Client {
  readonly socket: WebSocket;
  readonly modes: Map<number, Mode>;
  readonly closed: Promise<void>;
  /** `performance.now()` of the last message sent: heartbeats fill only silences. */
  lastSentAt: number;
  subscribeMessages: number;
  resubscribed: number;
  unsubscribeMessages: number;
  modeMessages: number;
  ticksSent: number;
  heartbeatsSent: number;
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
/** Silence is checked this many times a heartbeat period, so a beat is at most 25 % late. */
const HEARTBEAT_CHECKS_PER_PERIOD = 4;
/** Two packets announced, the first cut short: every decoder must flag it. */
const GARBAGE = new Uint8Array([0x00, 0x02, 0x00, 0x2c, 0x00, 0x06, 0x3a, 0x01, 0xff]);
const HEARTBEAT = encodeHeartbeat();

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
  /** Known tokens any socket subscribed → how many sockets did: the market moves these. */
  #wanted = new Map<number, number>();
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
    this.#heartbeatTimer = setInterval(
      () => this.#heartbeat(),
      Math.max(1, options.heartbeatMs / HEARTBEAT_CHECKS_PER_PERIOD),
    );
  }

  /** Answers a `/ws` request: an upgrade, or Kite's refusal (403, 429, 503, or injected). */
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
      lastSentAt: performance.now(),
      subscribeMessages: 0,
      resubscribed: 0,
      unsubscribeMessages: 0,
      modeMessages: 0,
      ticksSent: 0,
      heartbeatsSent: 0,
    };
    this.#clients.add(client);
    socket.addEventListener("message", (event) => this.#onMessage(client, event.data));
    socket.addEventListener("close", () => this.#forget(client));
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
    const injected = this.#options.rejects.take();
    if (injected !== undefined) {
      return kiteErrorResponse(injected.status, injected.errorType, { message: injected.message });
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
    const max = this.#options.maxSockets ?? MAX_SOCKETS_PER_KEY;
    if (this.#clients.size >= max) {
      return kiteErrorResponse(429, "NetworkException", {
        message: `Too many requests: at most ${max} WebSocket connections an api_key.`,
      });
    }
    return undefined;
  }

  #forget(client: Client): void {
    if (!this.#clients.delete(client)) return;
    for (const token of client.modes.keys()) this.#release(token);
  }

  #want(token: number): void {
    if (this.#options.market.knows(token)) {
      this.#wanted.set(token, (this.#wanted.get(token) ?? 0) + 1);
    }
  }

  #release(token: number): void {
    const count = this.#wanted.get(token);
    if (count === undefined) return;
    if (count <= 1) this.#wanted.delete(token);
    else this.#wanted.set(token, count - 1);
  }

  #stalled(): boolean {
    return performance.now() < this.#stallUntil;
  }

  #send(client: Client, data: string | Uint8Array): boolean {
    if (client.socket.readyState !== WebSocket.OPEN) return false;
    try {
      client.socket.send(data);
      client.lastSentAt = performance.now();
      return true;
    } catch {
      // The peer went away between the check and the send; its close event cleans up.
      return false;
    }
  }

  /** Sends `tokens` the client subscribed (and the market knows) in one binary message. */
  #sendTicks(client: Client, tokens: Iterable<number>): void {
    if (this.#stalled()) return;
    const market = this.#options.market;
    const packets: Uint8Array[] = [];
    for (const token of tokens) {
      const mode = client.modes.get(token);
      if (mode === undefined || !market.knows(token)) continue;
      packets.push(market.packet(token, mode));
    }
    if (packets.length === 0) return;
    const message = frameBodies(packets);
    if (this.#send(client, message)) {
      client.ticksSent += packets.length;
      this.#ticksSent += packets.length;
    }
  }

  #onMessage(client: Client, data: unknown): void {
    if (typeof data !== "string") return;
    let request: { a?: unknown; v?: unknown };
    try {
      request = JSON.parse(data);
    } catch {
      return;
    }
    if (request === null || typeof request !== "object") return;
    if (request.a === "subscribe") {
      client.subscribeMessages++;
      this.#subscribe(client, tokensOf(request.v));
    } else if (request.a === "unsubscribe") {
      client.unsubscribeMessages++;
      for (const token of tokensOf(request.v)) {
        if (client.modes.delete(token)) this.#release(token);
      }
    } else if (request.a === "mode" && Array.isArray(request.v)) {
      client.modeMessages++;
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
      if (client.modes.has(token)) {
        client.resubscribed++;
        continue;
      }
      if (client.modes.size >= MAX_INSTRUMENTS_PER_SOCKET) {
        refused++;
        continue;
      }
      client.modes.set(token, "quote"); // Kite's default mode after subscribe.
      this.#want(token);
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
    if (this.#wanted.size === 0) return;
    const changed = this.#options.market.step(this.#wanted.keys(), this.#options.now());
    if (changed.length === 0) return;
    for (const client of this.#clients) this.#sendTicks(client, changed);
  }

  #heartbeat(): void {
    if (this.#stalled()) return;
    const silentSince = performance.now() - this.#options.heartbeatMs;
    for (const client of this.#clients) {
      if (client.lastSentAt > silentSince) continue;
      if (this.#send(client, HEARTBEAT)) {
        client.heartbeatsSent++;
        this.#heartbeatsSent++;
      }
    }
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
    return this.sendText(JSON.stringify({ type: "error", data: message }));
  }

  /** Sends one text message (an order update, say) to every open socket; returns how many. */
  sendText(text: string): number {
    let sent = 0;
    for (const client of this.#clients) if (this.#send(client, text)) sent++;
    return sent;
  }

  /** Counters and subscriptions now. */
  stats(): TickerStats {
    const merged = new Map<number, Mode>();
    const sockets: SocketStats[] = [];
    for (const client of this.#clients) {
      for (const [token, mode] of client.modes) merged.set(token, mode);
      sockets.push({
        subscriptions: record(client.modes),
        subscribe_messages: client.subscribeMessages,
        resubscribed: client.resubscribed,
        unsubscribe_messages: client.unsubscribeMessages,
        mode_messages: client.modeMessages,
        ticks_sent: client.ticksSent,
        heartbeats_sent: client.heartbeatsSent,
      });
    }
    return {
      handshakes: { accepted: this.#accepted, rejected: this.#rejected },
      sockets_open: this.#clients.size,
      ticks_sent: this.#ticksSent,
      heartbeats_sent: this.#heartbeatsSent,
      subscriptions: record(merged),
      sockets,
      sessions_active: this.#options.sessions.liveCount(),
      market_moving: this.#options.market.movingNow(),
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
