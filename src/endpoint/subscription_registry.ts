/**
 * Who wants which instrument in which mode: each local client's subscriptions, the configured
 * instruments, and their union at the highest mode anyone wants (what kitekeeper must ask of
 * Kite). Pure bookkeeping, no I/O.
 *
 * Kite's rules, per client: `subscribe` adds instruments in `quote` mode (an instrument the
 * client already holds keeps its mode); `mode` changes instruments the client holds and
 * ignores others; `unsubscribe` removes. Across clients: the union may not pass `limit`
 * instruments (Kite's 3 sockets × 3000); a subscribe that would pass it is refused for the
 * excess only, and whatever the union already holds is always accepted.
 *
 * @module
 */
import type { Mode } from "../kite/packets.ts";
import { MAX_SHARD_INSTRUMENTS, MAX_SHARDS } from "../lifecycle/machine.ts";

/** Identifies one local client for the registry's lifetime. */
export type ClientId = number;

/** What a `subscribe` did. */
export interface SubscribeResult {
  /** Tokens the client holds now from this request, in request order (new or already held). */
  readonly accepted: readonly number[];
  /** Tokens refused because the union is full. */
  readonly refused: readonly number[];
}

/** Options of {@linkcode SubscriptionRegistry}. */
export interface RegistryOptions {
  /** Instruments wanted whatever the clients do (the configured ones), with their mode. */
  readonly base?: ReadonlyMap<number, Mode>;
  /** Most instruments in the union; default 9000 (Kite's 3 × 3000). */
  readonly limit?: number;
}

/** Kite's default mode after `subscribe`. */
const SUBSCRIBE_MODE: Mode = "quote";
const RANK: Readonly<Record<Mode, 0 | 1 | 2>> = { ltp: 0, quote: 1, full: 2 };
const BY_RANK: readonly Mode[] = ["ltp", "quote", "full"];

/** Every client's subscriptions and their union. */
export class SubscriptionRegistry {
  #base: ReadonlyMap<number, Mode>;
  #limit: number;
  #clients = new Map<ClientId, Map<number, Mode>>();
  /** Per instrument held by any client: how many clients hold it in ltp, quote, full. */
  #counts = new Map<number, [number, number, number]>();
  #unionSize: number;
  #pairs = 0;

  /** An empty registry over the configured instruments. */
  constructor(options: RegistryOptions = {}) {
    this.#base = options.base ?? new Map();
    this.#limit = options.limit ?? MAX_SHARDS * MAX_SHARD_INSTRUMENTS;
    this.#unionSize = this.#base.size;
  }

  /** Instruments in the union now. */
  get size(): number {
    return this.#unionSize;
  }

  /** Client–instrument pairs held now (a subscription of two clients counts twice). */
  get subscriptions(): number {
    return this.#pairs;
  }

  /** What `client` holds: token → mode; empty for an unknown client. */
  modesOf(client: ClientId): ReadonlyMap<number, Mode> {
    return this.#clients.get(client) ?? new Map();
  }

  /** Subscribes `client` to `tokens` (duplicates ignored), refusing what would pass the limit. */
  subscribe(client: ClientId, tokens: readonly number[]): SubscribeResult {
    const modes = this.#modes(client);
    const accepted: number[] = [];
    const refused: number[] = [];
    for (const token of new Set(tokens)) {
      if (modes.has(token)) {
        accepted.push(token);
        continue;
      }
      const inUnion = this.#base.has(token) || this.#counts.has(token);
      if (!inUnion && this.#unionSize >= this.#limit) {
        refused.push(token);
        continue;
      }
      modes.set(token, SUBSCRIBE_MODE);
      this.#count(token, SUBSCRIBE_MODE, 1);
      accepted.push(token);
    }
    return { accepted, refused };
  }

  /** Unsubscribes `client` from `tokens`; returns those it held. */
  unsubscribe(client: ClientId, tokens: readonly number[]): number[] {
    const modes = this.#clients.get(client);
    if (modes === undefined) return [];
    const removed: number[] = [];
    for (const token of tokens) {
      const mode = modes.get(token);
      if (mode === undefined) continue;
      modes.delete(token);
      this.#count(token, mode, -1);
      removed.push(token);
    }
    return removed;
  }

  /** Sets `mode` on those of `tokens` the client holds; returns the ones that changed. */
  setMode(client: ClientId, mode: Mode, tokens: readonly number[]): number[] {
    const modes = this.#clients.get(client);
    if (modes === undefined) return [];
    const changed: number[] = [];
    for (const token of new Set(tokens)) {
      const current = modes.get(token);
      if (current === undefined || current === mode) continue;
      modes.set(token, mode);
      this.#count(token, current, -1);
      this.#count(token, mode, 1);
      changed.push(token);
    }
    return changed;
  }

  /** Forgets `client` and everything it held. */
  remove(client: ClientId): void {
    const modes = this.#clients.get(client);
    if (modes === undefined) return;
    this.#clients.delete(client);
    for (const [token, mode] of modes) this.#count(token, mode, -1);
  }

  /** The union: every configured or subscribed instrument at the highest mode wanted. */
  wanted(): Map<number, Mode> {
    const union = new Map(this.#base);
    for (const [token, counts] of this.#counts) {
      const top = counts[2] > 0 ? 2 : counts[1] > 0 ? 1 : 0;
      const base = this.#base.get(token);
      const mode = base !== undefined && RANK[base] > top ? base : BY_RANK[top] as Mode;
      union.set(token, mode);
    }
    return union;
  }

  #modes(client: ClientId): Map<number, Mode> {
    let modes = this.#clients.get(client);
    if (modes === undefined) {
      modes = new Map();
      this.#clients.set(client, modes);
    }
    return modes;
  }

  #count(token: number, mode: Mode, delta: 1 | -1): void {
    let counts = this.#counts.get(token);
    if (counts === undefined) {
      counts = [0, 0, 0];
      this.#counts.set(token, counts);
      if (!this.#base.has(token)) this.#unionSize++;
    }
    counts[RANK[mode]] += delta;
    this.#pairs += delta;
    if (counts[0] + counts[1] + counts[2] === 0) {
      this.#counts.delete(token);
      if (!this.#base.has(token)) this.#unionSize--;
    }
  }
}
