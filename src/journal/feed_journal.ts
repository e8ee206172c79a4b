/**
 * The journal as the daemon runs it: every binary message from Kite (heartbeats left out)
 * with its receive time and upstream shard, every change of the lifecycle (state, token
 * fingerprint, subscriptions), and every gap as it closes.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import type { Gap } from "../feed/gap_tracker.ts";
import type { Mode } from "../kite/packets.ts";
import type { Actor } from "../lifecycle/actor.ts";
import type { Snapshot } from "../lifecycle/machine.ts";
import type { Logger } from "../log.ts";
import type { LifecycleChange } from "./record.ts";
import { createJournalWriter, type JournalStatus, type JournalWriter } from "./writer.ts";

/** Options of {@linkcode startFeedJournal}. */
export interface FeedJournalOptions {
  readonly lifecycle: Pick<Actor, "subscribe" | "snapshot">;
  readonly clock: Clock;
  readonly log: Logger;
  /** Receive time in µs since the epoch; default: the clock's ms × 1000. */
  readonly nowUs?: () => number;
  /** `KITEKEEPER_JOURNAL_KEEP_DAYS`; `null` keeps every day. */
  readonly keepDays: number | null;
  /** Called once if journaling stops on a problem. */
  readonly onProblem?: (problem: string) => void;
}

/** The daemon's journal. */
export interface FeedJournal extends AsyncDisposable {
  /** A binary message from Kite on socket generation `gen`, as received (not a heartbeat). */
  message(gen: number, raw: Uint8Array): void;
  /** A gap that closed. */
  gap(gap: Gap): void;
  status(): JournalStatus;
}

/** The microseconds now, finer than `Date.now()`: the epoch origin plus a monotonic offset. */
export function preciseNowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

/** The lifecycle change `snapshot` stands for. */
export function lifecycleChange(snapshot: Snapshot): LifecycleChange {
  const { state } = snapshot;
  const subscriptions: { shard: number; mode: Mode; tokens: number[] }[] = [];
  for (const shard of snapshot.shards) {
    const byMode = new Map<Mode, number[]>();
    for (const [token, mode] of shard.plan) byMode.set(mode, [...byMode.get(mode) ?? [], token]);
    for (const [mode, tokens] of byMode) subscriptions.push({ shard: shard.index, mode, tokens });
  }
  return {
    state: state.name,
    since: state.since,
    fingerprint: "fingerprint" in state ? state.fingerprint : null,
    reason: "reason" in state ? state.reason : null,
    subscriptions,
  };
}

function changed(previous: Snapshot, next: Snapshot): boolean {
  const [a, b] = [previous.state, next.state];
  if (a.name !== b.name) return true;
  if (("fingerprint" in a ? a.fingerprint : null) !== ("fingerprint" in b ? b.fingerprint : null)) {
    return true;
  }
  return next.shards.some((shard, i) => shard.plan !== previous.shards[i]?.plan);
}

/** Starts journaling into `dir`; dispose it to flush and close the day's file. */
export async function startFeedJournal(
  dir: string,
  options: FeedJournalOptions,
): Promise<FeedJournal> {
  const { lifecycle, clock, log } = options;
  const nowUs = options.nowUs ?? (() => clock.now() * 1000);
  const writer: JournalWriter = await createJournalWriter(dir, {
    clock,
    log,
    ...(options.keepDays === null ? {} : { keepDays: options.keepDays }),
    ...(options.onProblem === undefined ? {} : { onProblem: options.onProblem }),
  });
  function record(snapshot: Snapshot): void {
    writer.append({
      kind: "lifecycle",
      at_us: nowUs(),
      shard: 0,
      change: lifecycleChange(snapshot),
    });
  }
  record(lifecycle.snapshot());
  const unsubscribe = lifecycle.subscribe((snapshot, previous) => {
    if (changed(previous, snapshot)) record(snapshot);
  });
  log("info", `Journal: writing to ${dir}`);

  async function close(): Promise<void> {
    unsubscribe();
    await writer.close();
  }
  return {
    message(gen, raw) {
      const shard = lifecycle.snapshot().shards.findIndex((s) => s.socket?.gen === gen);
      writer.append({ kind: "message", at_us: nowUs(), shard: Math.max(shard, 0), bytes: raw });
    },
    gap(gap) {
      writer.append({ kind: "gap", at_us: gap.end * 1000, shard: gap.shard, gap });
    },
    status: writer.status,
    [Symbol.asyncDispose]: close,
  };
}
