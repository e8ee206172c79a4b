/**
 * The upstream ticker socket adapter: opens Kite's WebSocket for a token and generation,
 * decodes what arrives, classifies failures, and reports everything through handlers. It
 * decides nothing: the lifecycle machine does.
 *
 * @module
 */
import { type Clock, systemClock, type TimerId } from "../clock.ts";
import { decode, type Decoded, type Mode, parseTextMessage, type TextMessage } from "./packets.ts";

/** Why a socket failed: Kite refused the token (`auth`) or anything else (`network`). */
export interface TickerFailure {
  readonly kind: "auth" | "network";
  /** Readable cause, never holding the token. */
  readonly detail: string;
}

/** Where the adapter reports; each call names the generation of the socket it is about. */
export interface TickerHandlers {
  opened(gen: number): void;
  /**
   * A binary message: ticks or a heartbeat, decoded, and the message's own bytes (a view the
   * handler may keep: the adapter never reuses it), so packets can be passed on as Kite sent
   * them.
   */
  binary(gen: number, decoded: Decoded, raw: Uint8Array): void;
  /**
   * A binary message's bytes, before they are decoded (3000 full packets take ~2 ms to
   * decode): for passing them on at once. Called just before `binary` with the same view.
   */
  received?(gen: number, raw: Uint8Array): void;
  /** A text message (order update, error, message). */
  text(gen: number, message: TextMessage): void;
  /** The handshake failed or the open socket ended; at most once a generation. */
  failed(gen: number, failure: TickerFailure): void;
}

/** The timer functions the adapter uses; injected so tests can drive the handshake timeout. */
export type TickerTimers = Pick<Clock, "setTimeout" | "clearTimeout">;

/** The socket port the lifecycle actor drives. */
export interface TickerPort {
  /** Opens a socket for `token`; any other open socket is the caller's to close first. */
  open(token: string, gen: number): void;
  /** Closes generation `gen`'s socket; it reports nothing more. */
  close(gen: number): void;
  /**
   * Subscribes `tokens` in `mode` on generation `gen`'s socket, when it is open: a
   * `subscribe` and a `mode` message per batch of at most {@linkcode SUBSCRIBE_BATCH} tokens.
   */
  subscribe(gen: number, tokens: readonly number[], mode: Mode): void;
  /** Unsubscribes `tokens` on generation `gen`'s socket, when it is open, in batches. */
  unsubscribe(gen: number, tokens: readonly number[]): void;
  /** Closes every socket and resolves once they are all closed. */
  closeAll(): Promise<void>;
}

interface Connection {
  readonly socket: WebSocket;
  readonly closed: Promise<void>;
  timer: TimerId | undefined;
  settled: boolean;
}

/**
 * The most instrument tokens one `subscribe`, `mode` or `unsubscribe` message carries: 3000
 * tokens in one message are ~24 KB of JSON, and Kite's own clients send what they are given,
 * so a full shard goes out as three messages of a size every proxy passes.
 */
export const SUBSCRIBE_BATCH = 1000;

function batches(tokens: readonly number[]): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < tokens.length; i += SUBSCRIBE_BATCH) {
    out.push(tokens.slice(i, i + SUBSCRIBE_BATCH));
  }
  return out;
}

// Deno reports a refused upgrade as "failed to connect to WebSocket: Invalid status code: 403".
const STATUS_IN_MESSAGE = /status code:?\s*(\d{3})/i;

/** Maps an error message from a WebSocket handshake to a failure kind. */
export function classifyHandshakeError(message: string): TickerFailure["kind"] {
  const status = Number(STATUS_IN_MESSAGE.exec(message)?.[1]);
  return status === 401 || status === 403 ? "auth" : "network";
}

/**
 * Creates the ticker port for Kite's WebSocket at `tickerUrl` (e.g. `wss://ws.kite.trade`).
 *
 * @example
 * ```ts
 * const port = createTickerPort("wss://ws.kite.trade", { apiKey, handlers });
 * port.open(token, 1);
 * ```
 */
export function createTickerPort(
  tickerUrl: string,
  options: {
    apiKey: string;
    handlers: TickerHandlers;
    handshakeTimeoutMs?: number;
    timers?: TickerTimers;
  },
): TickerPort {
  const { apiKey, handlers } = options;
  const handshakeTimeoutMs = options.handshakeTimeoutMs ?? 10_000;
  const timers: TickerTimers = options.timers ?? systemClock();
  const connections = new Map<number, Connection>();

  function settle(connection: Connection): void {
    connection.settled = true;
    if (connection.timer !== undefined) timers.clearTimeout(connection.timer);
    connection.timer = undefined;
  }

  function fail(gen: number, connection: Connection, failure: TickerFailure): void {
    if (connection.settled) return;
    settle(connection);
    connection.socket.close();
    handlers.failed(gen, failure);
  }

  function open(token: string, gen: number): void {
    const url = new URL(tickerUrl);
    url.searchParams.set("api_key", apiKey);
    url.searchParams.set("access_token", token);
    const scrub = (text: string) => text.replaceAll(token, "<token>");
    const socket = new WebSocket(url);
    socket.binaryType = "arraybuffer";
    const { promise: closed, resolve } = Promise.withResolvers<void>();
    const connection: Connection = { socket, closed, timer: undefined, settled: false };
    connections.set(gen, connection);
    let opened = false;
    let handshakeError = "";
    connection.timer = timers.setTimeout(() => {
      connection.timer = undefined;
      fail(gen, connection, {
        kind: "network",
        detail: `Handshake timed out after ${handshakeTimeoutMs} ms`,
      });
    }, handshakeTimeoutMs);

    socket.onopen = () => {
      if (connection.settled) return;
      opened = true;
      if (connection.timer !== undefined) timers.clearTimeout(connection.timer);
      connection.timer = undefined;
      handlers.opened(gen);
    };
    socket.onmessage = (message: MessageEvent) => {
      if (connection.settled) return;
      if (typeof message.data === "string") handlers.text(gen, parseTextMessage(message.data));
      else {
        const data = message.data as ArrayBuffer;
        const raw = new Uint8Array(data);
        handlers.received?.(gen, raw);
        handlers.binary(gen, decode(data), raw);
      }
    };
    socket.onerror = (event: Event) => {
      if (!opened) handshakeError = event instanceof ErrorEvent ? event.message : "error";
    };
    socket.onclose = (event: CloseEvent) => {
      resolve();
      if (connections.get(gen) === connection) connections.delete(gen);
      if (opened) {
        const reason = event.reason === "" ? "" : `: ${scrub(event.reason)}`;
        fail(gen, connection, {
          kind: "network",
          detail: `Socket closed (${event.code})${reason}`,
        });
      } else {
        const detail = scrub(handshakeError || `Handshake failed (${event.code})`);
        fail(gen, connection, { kind: classifyHandshakeError(detail), detail });
      }
    };
  }

  function close(gen: number): void {
    const connection = connections.get(gen);
    if (connection === undefined) return;
    settle(connection);
    connection.socket.close();
  }

  function openSocket(gen: number): WebSocket | undefined {
    const socket = connections.get(gen)?.socket;
    return socket?.readyState === WebSocket.OPEN ? socket : undefined;
  }

  function subscribe(gen: number, tokens: readonly number[], mode: Mode): void {
    const socket = openSocket(gen);
    if (!socket) return;
    for (const batch of batches(tokens)) {
      socket.send(JSON.stringify({ a: "subscribe", v: batch }));
      socket.send(JSON.stringify({ a: "mode", v: [mode, batch] }));
    }
  }

  function unsubscribe(gen: number, tokens: readonly number[]): void {
    const socket = openSocket(gen);
    if (!socket) return;
    for (const batch of batches(tokens)) {
      socket.send(JSON.stringify({ a: "unsubscribe", v: batch }));
    }
  }

  async function closeAll(): Promise<void> {
    const pending = [...connections.entries()].map(([gen, connection]) => {
      close(gen);
      return connection.closed;
    });
    await Promise.all(pending);
  }

  return { open, close, subscribe, unsubscribe, closeAll };
}
