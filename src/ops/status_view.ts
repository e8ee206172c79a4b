/**
 * Renders `GET /status`'s body from one lifecycle snapshot and the feed: a pure function, so
 * the page, the JSON and the CLI all say the same thing.
 *
 * @module
 */
import type { FeedSnapshot } from "../feed/store.ts";
import type { Mode } from "../kite/packets.ts";
import { describeError, shardState, type Snapshot, wantsSocket } from "../lifecycle/machine.ts";
import type { MarketPhase } from "../market/phase.ts";
import type { EndpointStatus, JournalView, StatusBody, UpstreamShard } from "./status_body.ts";
import type { GapsToday } from "../feed/gap_tracker.ts";

/** What the status body needs besides the snapshot. */
export interface StatusContext {
  readonly feed: FeedSnapshot;
  readonly mode: Mode;
  /** The URL that starts a login here. */
  readonly loginUrl: string;
  readonly version: string;
  readonly pid: number;
  /** Epoch ms the process started. */
  readonly startedAt: number;
  /** Epoch ms now. */
  readonly now: number;
  /** NSE's phase at `now` (market_phase.ts). */
  readonly market: MarketPhase;
  /** The quiet-feed warning at `now` (quiet_feed.ts), or `null`. */
  readonly feedWarning: string | null;
  /** What the daemon knows is wrong with `.env` beside the lifecycle's note (stale, links). */
  readonly envProblems?: readonly string[];
  /** The Kite-compatible endpoint now. */
  readonly endpoint: EndpointStatus;
  /** Gaps today (gap_tracker.ts); none when not given. */
  readonly gaps?: GapsToday;
  /** The journal, or `null` (the default) when not journaling. */
  readonly journal?: JournalView | null;
}

const NO_GAPS: GapsToday = Object.freeze({ count: 0, seconds: 0, last: [] });

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

function reasonOf(snapshot: Snapshot): string {
  const { state } = snapshot;
  if (state.name !== "Live") return state.reason;
  if (snapshot.tokenDead) {
    return "live on a dead token: Kite rejects it now, and the next drop stops the feed; log in";
  }
  return snapshot.loginNeeded ? "live, but login needed: the token is past its expiry" : "live";
}

/** One entry per shard that carries instruments or has a socket (shard 0 always). */
function upstreamOf(snapshot: Snapshot): UpstreamShard[] {
  return snapshot.shards.filter((shard) => wantsSocket(shard) || shardState(shard) !== "idle")
    .map((shard) => ({
      shard: shard.index,
      state: shardState(shard),
      instruments: shard.plan.size,
      last_data_at: iso(shard.lastDataAt),
      attempts: shard.attempts,
    }));
}

/** The `/status` body for `snapshot`. */
export function renderStatus(snapshot: Snapshot, context: StatusContext): StatusBody {
  const { state, token } = snapshot;
  const live = state.name === "Live";
  return {
    state: state.name,
    since: new Date(state.since).toISOString(),
    reason: reasonOf(snapshot),
    login_needed: snapshot.loginNeeded || state.name === "Expired",
    token: token === null ? null : {
      fingerprint: token.fingerprint,
      source: token.source,
      loaded_at: new Date(token.loadedAt).toISOString(),
      expected_expiry: iso(snapshot.expectedExpiry),
      user_id: snapshot.userId,
    },
    env_problem: [snapshot.invalidToken?.detail, ...context.envProblems ?? []]
      .filter((problem) => problem !== undefined).join("; ") || null,
    feed: {
      mode: context.mode,
      ...context.feed,
      warning: context.feedWarning,
      upstream: upstreamOf(snapshot),
      gaps_today: context.gaps ?? NO_GAPS,
    },
    journal: context.journal ?? null,
    market: {
      phase: context.market.phase,
      next_change: new Date(context.market.next_change).toISOString(),
    },
    connection: {
      attempts: snapshot.attempts,
      reconnects_total: snapshot.reconnectsTotal,
      last_error: snapshot.lastError === null ? null : describeError(snapshot.lastError),
      text_errors_total: snapshot.textErrorsTotal,
    },
    endpoint: context.endpoint,
    login_url: live && !snapshot.loginNeeded ? null : context.loginUrl,
    next_reminder: iso(snapshot.nextReminderAt),
    pid: context.pid,
    version: context.version,
    uptime_s: Math.max(0, Math.floor((context.now - context.startedAt) / 1000)),
  };
}
