/**
 * A WebSocket client for tests that records every event and lets a test await the next one
 * that matches, so tests wait on what happens instead of sleeping.
 *
 * @module
 */
import { decode, type Decoded } from "../../src/kite/packets.ts";

/** One thing the socket did, stamped with `performance.now()`. */
export type ProbeEvent =
  | { readonly kind: "open"; readonly at: number }
  | {
    readonly kind: "binary";
    readonly at: number;
    readonly bytes: Uint8Array;
    readonly decoded: Decoded;
  }
  | { readonly kind: "text"; readonly at: number; readonly text: string }
  | { readonly kind: "error"; readonly at: number; readonly message: string }
  | { readonly kind: "close"; readonly at: number; readonly code: number; readonly reason: string };

interface Waiter {
  readonly match: (event: ProbeEvent) => boolean;
  readonly resolve: (event: ProbeEvent) => void;
}

/** A guard so a broken simulator fails the test instead of hanging it. */
const GIVE_UP_MS = 10_000;

/** Records a WebSocket's events. */
export class WsProbe {
  readonly socket: WebSocket;
  #events: ProbeEvent[] = [];
  #cursor = 0;
  #waiter: Waiter | undefined;
  #closed = Promise.withResolvers<void>();

  /** Opens `url` and starts recording. */
  constructor(url: string) {
    this.socket = new WebSocket(url);
    this.socket.binaryType = "arraybuffer";
    const at = () => performance.now();
    this.socket.onopen = () => this.#push({ kind: "open", at: at() });
    this.socket.onmessage = (event) => {
      if (typeof event.data === "string") {
        this.#push({ kind: "text", at: at(), text: event.data });
        return;
      }
      const bytes = new Uint8Array(event.data as ArrayBuffer);
      this.#push({ kind: "binary", at: at(), bytes, decoded: decode(bytes) });
    };
    this.socket.onerror = (event) => {
      const message = event instanceof ErrorEvent ? event.message : "error";
      this.#push({ kind: "error", at: at(), message });
    };
    this.socket.onclose = (event) => {
      this.#push({ kind: "close", at: at(), code: event.code, reason: event.reason });
      this.#closed.resolve();
    };
  }

  #push(event: ProbeEvent): void {
    this.#events.push(event);
    this.#drain();
  }

  #drain(): void {
    const waiter = this.#waiter;
    if (waiter === undefined) return;
    while (this.#cursor < this.#events.length) {
      const event = this.#events[this.#cursor++] as ProbeEvent;
      if (waiter.match(event)) {
        this.#waiter = undefined;
        waiter.resolve(event);
        return;
      }
    }
  }

  /** The next event (after those already consumed) that `match` accepts; skips the rest. */
  next<E extends ProbeEvent>(match: (event: ProbeEvent) => event is E): Promise<E>;
  /** The next event (after those already consumed) that `match` accepts; skips the rest. */
  next(match: (event: ProbeEvent) => boolean): Promise<ProbeEvent>;
  next(match: (event: ProbeEvent) => boolean): Promise<ProbeEvent> {
    if (this.#waiter !== undefined) throw new Error("Failed to wait: already waiting");
    const { promise, resolve, reject } = Promise.withResolvers<ProbeEvent>();
    const timer = setTimeout(() => {
      this.#waiter = undefined;
      reject(new Error(`Failed to see the expected event within ${GIVE_UP_MS} ms`));
    }, GIVE_UP_MS);
    this.#waiter = {
      match,
      resolve: (event) => {
        clearTimeout(timer);
        resolve(event);
      },
    };
    this.#drain();
    return promise;
  }

  /** Resolves on open, rejects with the error message when the handshake fails. */
  async opened(): Promise<void> {
    const event = await this.next((e) => e.kind === "open" || e.kind === "error");
    if (event.kind === "error") throw new Error(event.message);
  }

  /** The handshake's failure message (e.g. "…Invalid status code: 403"); throws if it opened. */
  async refused(): Promise<string> {
    const event = await this.next((e) => e.kind === "open" || e.kind === "error");
    if (event.kind === "open") throw new Error("Expected the handshake to fail, it opened");
    await this.#closed.promise;
    return event.message;
  }

  /** Sends a JSON request such as `{"a":"subscribe","v":[…]}`. */
  send(request: unknown): void {
    this.socket.send(JSON.stringify(request));
  }

  /** Closes (if still open) and waits for the close event. */
  async close(): Promise<void> {
    if (
      this.socket.readyState === WebSocket.OPEN || this.socket.readyState === WebSocket.CONNECTING
    ) {
      this.socket.close();
    }
    await this.#closed.promise;
  }
}

/** Matches a heartbeat. */
export function isHeartbeat(event: ProbeEvent): event is Extract<ProbeEvent, { kind: "binary" }> {
  return event.kind === "binary" && event.decoded.kind === "heartbeat";
}

/** Matches a message of ticks. */
export function isTicks(
  event: ProbeEvent,
): event is Extract<ProbeEvent, { kind: "binary" }> & {
  decoded: Extract<Decoded, { kind: "ticks" }>;
} {
  return event.kind === "binary" && event.decoded.kind === "ticks";
}
