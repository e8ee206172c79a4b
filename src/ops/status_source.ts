/**
 * Where the daemon's `/status` body comes from: the lifecycle's snapshot, the feed, the
 * market phase and the quiet-feed warning, read at one instant.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { FeedStore } from "../feed/store.ts";
import type { Mode } from "../kite/packets.ts";
import type { Actor } from "../lifecycle/actor.ts";
import type { MarketPhaseAt } from "../market/phase_cache.ts";
import type { EndpointStats } from "../endpoint/endpoint.ts";
import type { EndpointStatus, JournalView, StatusBody } from "./status_body.ts";
import type { GapsToday } from "../feed/gap_tracker.ts";
import { renderStatus } from "./status_view.ts";

/** Options of {@linkcode statusSource}. */
export interface StatusSourceOptions {
  readonly lifecycle: Pick<Actor, "snapshot">;
  readonly feed: Pick<FeedStore, "snapshot">;
  readonly clock: Clock;
  /** NSE's phase at an instant. */
  readonly market: MarketPhaseAt;
  /** The quiet-feed warning now, or `null`. */
  feedWarning(): string | null;
  /** The Kite-compatible endpoint now. */
  endpoint(): EndpointStatus;
  readonly mode: Mode;
  /** The URL that starts a login here. */
  readonly loginUrl: string;
  readonly version: string;
  /** Epoch ms the process started. */
  readonly startedAt: number;
  /** Gaps today, now. */
  gaps?(): GapsToday;
  /** The journal now, or `null` when not journaling. */
  journal?(): JournalView | null;
  /** What is wrong with `.env` beyond its token (a stale file, hard links). */
  envProblems?(): readonly string[];
}

/** What `/status` shows of the endpoint at `url`, from its counters. */
export function endpointView(stats: EndpointStats, url: string): EndpointStatus {
  return {
    url,
    clients: stats.clients,
    max_clients: stats.max_clients,
    instruments: stats.instruments,
    subscriptions: stats.subscriptions,
    slow_drops_total: stats.slow_drops_total,
  };
}

/** Returns a function that renders the current `/status` body. */
export function statusSource(options: StatusSourceOptions): () => StatusBody {
  const { lifecycle, feed, clock, market } = options;
  return function status() {
    const now = clock.now();
    return renderStatus(lifecycle.snapshot(), {
      feed: feed.snapshot(),
      mode: options.mode,
      loginUrl: options.loginUrl,
      version: options.version,
      pid: Deno.pid,
      startedAt: options.startedAt,
      now,
      market: market(now),
      feedWarning: options.feedWarning(),
      endpoint: options.endpoint(),
      ...(options.gaps === undefined ? {} : { gaps: options.gaps() }),
      ...(options.journal === undefined ? {} : { journal: options.journal() }),
      ...(options.envProblems === undefined ? {} : { envProblems: options.envProblems() }),
    });
  };
}
