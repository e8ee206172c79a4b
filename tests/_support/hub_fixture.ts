/**
 * Shared pieces for stream hub tests: a lifecycle whose snapshots the test moves by hand, a
 * /status body rendered from it, ticks, and an in-memory SSE sink whose writes can be held.
 *
 * @module
 */
import type { LtpTick } from "../../src/kite/packets.ts";
import type { Listener } from "../../src/lifecycle/actor.ts";
import { initialSnapshot, type Snapshot } from "../../src/lifecycle/machine.ts";
import type { SseSink } from "../../src/feed/stream_hub.ts";
import type { StateSummary } from "../../src/ops/state_summary.ts";

/** A lifecycle the test drives: `move()` sets the snapshot and tells the subscribers. */
export interface HandLifecycle {
  snapshot(): Snapshot;
  subscribe(listener: Listener): () => void;
  move(next: Snapshot): void;
  /** The summary of the current snapshot as JSON, as the daemon's `stateSummary(status())`. */
  summary(): string;
}

/** A lifecycle starting Disconnected at `now`. */
export function handLifecycle(now = 1_700_000_000_000): HandLifecycle {
  let current = initialSnapshot(now);
  const listeners = new Set<Listener>();
  return {
    snapshot: () => current,
    subscribe(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    move(next) {
      const previous = current;
      current = next;
      for (const listener of [...listeners]) listener(current, previous);
    },
    summary() {
      const { state } = current;
      const loginNeeded = current.loginNeeded || state.name === "Expired";
      const summary: StateSummary = {
        state: state.name,
        since: new Date(state.since).toISOString(),
        reason: state.name === "Live" ? "live" : state.reason,
        login_needed: loginNeeded,
        login_url: loginNeeded ? "http://127.0.0.1:1/api/auth/login" : null,
        expected_expiry: null,
        user_id: current.userId,
      };
      return JSON.stringify(summary);
    },
  };
}

/** `snapshot` moved to Expired for `reason` at `since`. */
export function expired(snapshot: Snapshot, reason: string, since: number): Snapshot {
  return { ...snapshot, state: { name: "Expired", since, reason, fingerprint: null } };
}

/** An ltp tick. */
export function ltp(token: number, price: number): LtpTick {
  return { kind: "ltp", mode: "ltp", instrument_token: token, tradable: true, last_price: price };
}

/** An SSE sink in memory; `hold()` makes writes wait until `release()`. */
export class MemorySink implements SseSink {
  text = "";
  writes = 0;
  aborted = false;
  #listeners: (() => void)[] = [];
  #gate: PromiseWithResolvers<void> | null = null;
  #waiters: { ready: (sink: MemorySink) => boolean; resolve: () => void }[] = [];

  /** Stores `chunk` as text; resolves at once, or on `release()` while held. */
  write(chunk: string | Uint8Array): Promise<void> {
    this.text += typeof chunk === "string" ? chunk : new TextDecoder().decode(chunk);
    this.writes += 1;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!waiter.ready(this)) return true;
      waiter.resolve();
      return false;
    });
    return this.#gate?.promise ?? Promise.resolve();
  }

  /** Resolves once `ready(this)` holds: now, or after the write that makes it so. */
  until(ready: (sink: MemorySink) => boolean): Promise<void> {
    if (ready(this)) return Promise.resolve();
    const { promise, resolve } = Promise.withResolvers<void>();
    this.#waiters.push({ ready, resolve });
    return promise;
  }

  /** Ends the stream, as a peer leaving or the hub dropping it would. */
  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    for (const listener of this.#listeners) listener();
    this.#gate?.resolve();
  }

  onAbort(listener: () => void): void {
    this.#listeners.push(listener);
  }

  /** Makes the next writes wait. */
  hold(): void {
    this.#gate = Promise.withResolvers();
  }

  /** The `data` of every `event: <name>` written so far, parsed. */
  data(name: string): unknown[] {
    return this.text.split("\n\n")
      .filter((block) => block.startsWith(`event: ${name}\n`))
      .map((block) => JSON.parse(block.slice(block.indexOf("data: ") + 6)));
  }
}
