/**
 * The daemon's Prometheus metrics, derived from what it already knows: lifecycle snapshots
 * (state, counters, timestamps), the feed store (ticks, decode errors) and a count of `.env`
 * reads. Transitions and handshake results are counted by diffing each snapshot against the
 * previous one in an actor observer, so the machine and the ticker stay untouched. No token,
 * fingerprint or URL appears in any metric.
 *
 * @module
 */
import type { FeedSnapshot } from "../feed/store.ts";
import type { Actor } from "../lifecycle/actor.ts";
import {
  type ShardState,
  shardState,
  type Snapshot,
  type StateName,
  wantsSocket,
} from "../lifecycle/machine.ts";
import { createCounter, type MetricFamily, renderMetrics } from "./metrics.ts";

/** How a ticker handshake ended: upgraded, refused (401/403), failed, or timed out. */
export type HandshakeResult = "accepted" | "auth" | "network" | "stall";

/** Collects and renders the daemon's metrics. */
export interface DaemonMetrics extends Disposable {
  /** Counts one `.env` read the daemon processed (watcher, startup or SIGHUP). */
  countEnvRead(): void;
  /** The metric families as of now. */
  families(): MetricFamily[];
  /** The `/metrics` body as of now. */
  render(): string;
  /** Stops observing the actor. */
  close(): void;
}

/** Options of {@linkcode createDaemonMetrics}. */
export interface DaemonMetricsOptions {
  /** The feed's current counters. */
  feed(): FeedSnapshot;
  /** Epoch ms the process started. */
  readonly startedAt: number;
}

const STATES: readonly StateName[] = ["Disconnected", "Reconnecting", "Live", "Expired"];
const RESULTS: readonly HandshakeResult[] = ["accepted", "auth", "network", "stall"];
const SHARD_STATES: readonly ShardState[] = [
  "idle",
  "waiting",
  "backoff",
  "opening",
  "open",
  "streaming",
];

function seconds(ms: number | null): { value: number }[] {
  return ms === null ? [] : [{ value: ms / 1000 }];
}

/** A counter family of one unlabelled sample. */
function counter(
  { name, help, value }: { name: string; help: string; value: number },
): MetricFamily {
  return { name, help, type: "counter", samples: [{ value }] };
}

/**
 * How a handshake in flight in `previous` ended in `next`, or `null` when none ended (or it
 * was abandoned: a new token, a stop, a plan that dropped its shard, or a probe that expired
 * the token meanwhile). The machine records a shard's failure as its typed `lastError`; an
 * event ends at most one handshake.
 */
export function handshakeResult(previous: Snapshot, next: Snapshot): HandshakeResult | null {
  for (const before of previous.shards) {
    const opening = before.socket;
    if (opening?.phase !== "opening") continue;
    const after = next.shards[before.index];
    if (!after) continue;
    if (after.socket?.gen === opening.gen) {
      if (after.socket.phase === "open") return "accepted";
      continue;
    }
    const error = after.lastError;
    if (error === null || error === before.lastError) continue;
    if (error.kind === "auth" || error.kind === "network" || error.kind === "stall") {
      return error.kind;
    }
  }
  return null;
}

/** Starts counting: observes `actor` from now on. Call `close()` to stop. */
export function createDaemonMetrics(
  actor: Pick<Actor, "snapshot" | "subscribe">,
  options: DaemonMetricsOptions,
): DaemonMetrics {
  const transitions = createCounter();
  const handshakes = createCounter();
  for (const result of RESULTS) handshakes.inc({ result }, { by: 0 });
  let envReads = 0;

  const unsubscribe = actor.subscribe(function countChange(snapshot, previous) {
    const [from, to] = [previous.state.name, snapshot.state.name];
    if (from !== to) transitions.inc({ from, to });
    const result = handshakeResult(previous, snapshot);
    if (result !== null) handshakes.inc({ result });
  });

  function families(): MetricFamily[] {
    const snapshot = actor.snapshot();
    const feed = options.feed();
    return [
      {
        name: "kitekeeper_state",
        help: "1 for the lifecycle state the feed is in, 0 for the others.",
        type: "gauge",
        samples: STATES.map((state) => ({
          labels: { state },
          value: snapshot.state.name === state ? 1 : 0,
        })),
      },
      {
        name: "kitekeeper_login_needed",
        help: "1 when the token is dead or past its expected expiry and a login is needed.",
        type: "gauge",
        samples: [{ value: snapshot.loginNeeded || snapshot.state.name === "Expired" ? 1 : 0 }],
      },
      {
        name: "kitekeeper_transitions_total",
        help: "Lifecycle state changes, by from and to state.",
        type: "counter",
        samples: transitions.samples(),
      },
      {
        name: "kitekeeper_handshakes_total",
        help: "Ticker WebSocket handshakes that ended, by result (accepted, auth, network, stall).",
        type: "counter",
        samples: handshakes.samples(),
      },
      {
        name: "kitekeeper_upstream_shards",
        help: "Upstream shards (Kite sockets) by state; idle shards have nothing to carry.",
        type: "gauge",
        samples: SHARD_STATES.map((state) => ({
          labels: { state },
          value: snapshot.shards.filter((shard) => shardState(shard) === state).length,
        })),
      },
      {
        name: "kitekeeper_upstream_instruments",
        help: "Instruments each upstream shard should carry, by shard index.",
        type: "gauge",
        samples: snapshot.shards.filter(wantsSocket).map((shard) => ({
          labels: { shard: String(shard.index) },
          value: shard.plan.size,
        })),
      },
      counter({
        name: "kitekeeper_reconnects_total",
        help: "Ticker handshakes started after the first one, for any reason.",
        value: snapshot.reconnectsTotal,
      }),
      counter({
        name: "kitekeeper_ticks_total",
        help: "Instrument ticks received from Kite.",
        value: feed.ticks_total,
      }),
      counter({
        name: "kitekeeper_ignored_ticks_total",
        help: "Ticks for instruments nobody subscribed to: counted, not stored.",
        value: feed.ignored_ticks_total,
      }),
      counter({
        name: "kitekeeper_decode_errors_total",
        help: "Malformed parts of binary ticker messages, skipped.",
        value: feed.decode_errors_total,
      }),
      counter({
        name: "kitekeeper_text_errors_total",
        help: "Error text messages sent by Kite on the ticker socket.",
        value: snapshot.textErrorsTotal,
      }),
      counter({
        name: "kitekeeper_watcher_events_total",
        help: "Reads of the .env file the daemon processed (watcher, startup and SIGHUP).",
        value: envReads,
      }),
      {
        name: "kitekeeper_last_data_timestamp_seconds",
        help: "Unix time of the last ticker message (ticks or heartbeat); absent before any.",
        type: "gauge",
        samples: seconds(snapshot.lastDataAt),
      },
      {
        name: "kitekeeper_token_expected_expiry_timestamp_seconds",
        help: "Unix time the current token is expected to expire; absent without a token.",
        type: "gauge",
        samples: seconds(snapshot.expectedExpiry),
      },
      {
        name: "process_start_time_seconds",
        help: "Start time of the process since unix epoch in seconds.",
        type: "gauge",
        samples: [{ value: options.startedAt / 1000 }],
      },
    ];
  }

  return {
    countEnvRead() {
      envReads++;
    },
    families,
    render: () => renderMetrics(families()),
    close: unsubscribe,
    [Symbol.dispose]: unsubscribe,
  };
}
