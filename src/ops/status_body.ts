/**
 * The JSON body of `GET /status` (DESIGN.md §5): a contract that monitors and the
 * `kitekeeper status` command read.
 *
 * @module
 */
import type { FeedSnapshot } from "../feed/store.ts";
import type { Mode } from "../kite/packets.ts";
import type { MarketPhaseName } from "../market/phase.ts";
import type { ShardState } from "../lifecycle/machine.ts";
import type { GapsToday } from "../feed/gap_tracker.ts";
import type { JournalStatus } from "../journal/writer.ts";

/** The lifecycle state names. */
export type StateName = "Disconnected" | "Reconnecting" | "Live" | "Expired";

/** The current token, by fingerprint only. */
export interface TokenInfo {
  /** First 12 hex digits of the token's SHA-256. */
  readonly fingerprint: string;
  readonly source: string;
  readonly loaded_at: string;
  readonly expected_expiry: string | null;
  readonly user_id: string | null;
}

/** One upstream Kite socket (a shard of the pool), as `feed.upstream` lists it. */
export interface UpstreamShard {
  /** 0 to 2. */
  readonly shard: number;
  /** `idle`, `waiting`, `backoff`, `opening`, `open` (no data yet) or `streaming`. */
  readonly state: ShardState;
  /** How many instruments it should carry. */
  readonly instruments: number;
  /** When its last message arrived (ISO 8601), or `null`. */
  readonly last_data_at: string | null;
  /** Consecutive failed attempts since it last had data. */
  readonly attempts: number;
}

/** The Kite-compatible endpoint (`/ws`), as `/status` shows it. */
export interface EndpointStatus {
  /** Where local programs point their Kite client (`root`), e.g. `ws://127.0.0.1:8000/ws`. */
  readonly url: string;
  /** Local clients connected now. */
  readonly clients: number;
  readonly max_clients: number;
  /** Instruments subscribed upstream: every client's and the configured ones, once each. */
  readonly instruments: number;
  /** Client–instrument pairs held (an instrument two clients hold counts twice). */
  readonly subscriptions: number;
  /** Clients closed because their send queue filled (they stopped reading). */
  readonly slow_drops_total: number;
}

/**
 * What `/status` shows of the journal: the writer's own status, less its directory (a path
 * `/status` need not show) and the torn bytes it cut at opening (logged instead).
 */
export type JournalView = Omit<JournalStatus, "dir" | "truncated_bytes_total">;

/** `GET /status`'s body. */
export interface StatusBody {
  readonly state: StateName;
  readonly since: string;
  readonly reason: string;
  /** True once the token has passed its expected expiry or Kite refused it. */
  readonly login_needed: boolean;
  readonly token: TokenInfo | null;
  /** Set when `.env` holds a value that is not a valid token (it was not used). */
  readonly env_problem: string | null;
  readonly feed: FeedSnapshot & {
    readonly mode: Mode;
    /** Set while Live but without ticks for a while during market hours (quiet_feed.ts). */
    readonly warning: string | null;
    /** Each upstream socket of the pool. */
    readonly upstream: readonly UpstreamShard[];
    /** Gaps in the feed today (IST) during market hours, the ones going on included. */
    readonly gaps_today: GapsToday;
  };
  /** The journal (`KITEKEEPER_JOURNAL_DIR`), or `null` when not journaling. */
  readonly journal: JournalView | null;
  /** NSE's trading phase now (IST) and when it next changes (ISO 8601). */
  readonly market: { readonly phase: MarketPhaseName; readonly next_change: string };
  readonly connection: {
    readonly attempts: number;
    readonly reconnects_total: number;
    readonly last_error: string | null;
    readonly text_errors_total: number;
  };
  /** The Kite-compatible endpoint for local programs. */
  readonly endpoint: EndpointStatus;
  readonly login_url: string | null;
  /** When the next login reminder goes out (ISO 8601), while a login is needed; else `null`. */
  readonly next_reminder: string | null;
  readonly pid: number;
  readonly version: string;
  readonly uptime_s: number;
  /**
   * With `KITEKEEPER_REDIS_URL` only: whether this node holds the feed lease. A standby's
   * `state`, `since` and `reason` are the holder's, as it announced them through Redis.
   */
  readonly role?: "holder" | "standby";
  /** With `KITEKEEPER_REDIS_URL` only: the cluster as this node sees it. */
  readonly cluster?: ClusterStatus;
}

/** `/status`'s `cluster` object. */
export interface ClusterStatus {
  readonly name: string;
  /** This node's name on the lease. */
  readonly node: string;
  /** Who holds the lease and under which fencing number, as last seen; `null`: nobody. */
  readonly holder: { readonly node: string; readonly fence: number } | null;
  /** The Redis URL without credentials, and why it is out of reach now (`null`: fine). */
  readonly redis: { readonly url: string; readonly problem: string | null };
  /** The tick bus: ticks published to Redis (holder), dropped (queue full), failed. */
  readonly bus: {
    readonly published: number;
    readonly dropped: number;
    readonly failed: number;
    readonly received: number;
  };
}
