import assert from "node:assert/strict";
import type { Clock } from "../../../src/clock.ts";
import { watchGaps } from "../../../src/feed/gap_watch.ts";
import {
  type Event,
  initialSnapshot,
  type Snapshot,
  transition,
} from "../../../src/lifecycle/machine.ts";
import { nseHolidays2026 } from "../../../src/market/holidays_nse_2026.ts";
import { FakeClock } from "../../../src/testing/fake_clock.ts";

function ist(local: string): number {
  const ms = Date.parse(`${local}:00+05:30`);
  assert.ok(Number.isFinite(ms), `bad test instant ${local}`);
  return ms;
}

const TOKEN = { token: "a".repeat(32), fingerprint: "aaaaaaaaaaa1" };

/**
 * The machine's snapshots as events make them, with no timers of its own (no watchdog: a
 * silent socket stays open), on a fake clock whose timers are counted.
 */
function setup(start: number) {
  const fake = new FakeClock(start);
  let armed = 0;
  const clock: Clock = {
    now: () => fake.now(),
    setTimeout(callback, ms) {
      armed++;
      return fake.setTimeout(callback, ms);
    },
    clearTimeout: (id) => fake.clearTimeout(id),
  };
  let snapshot = initialSnapshot(start, { subscriptions: { tokens: [256265], mode: "full" } });
  const listeners = new Set<(s: Snapshot, previous: Snapshot) => void>();
  const lifecycle = {
    snapshot: () => snapshot,
    subscribe(listener: (s: Snapshot, previous: Snapshot) => void) {
      listeners.add(listener);
      return () => void listeners.delete(listener);
    },
  };
  function send(event: Event): void {
    const previous = snapshot;
    snapshot = transition(snapshot, event, { now: fake.now(), random: 0.5 }).snapshot;
    for (const listener of listeners) listener(snapshot, previous);
  }
  const gaps = watchGaps({ lifecycle, clock, holidays: nseHolidays2026() });
  return { fake, gaps, send, armed: () => armed };
}

Deno.test("watchGaps() arms one timer, for the next market phase, while the market is closed, and sees the gap open at the bell", () => {
  const { fake, gaps } = setup(ist("2026-03-04T08:00"));
  assert.equal(fake.pending, 1);
  assert.equal(fake.nextDue, ist("2026-03-04T09:00"), "the next phase: pre-open");
  fake.tick(ist("2026-03-04T09:15") - fake.now() - 1);
  assert.equal(fake.pending, 1);
  assert.equal(fake.nextDue, ist("2026-03-04T09:15"));
  assert.equal(gaps.today().count, 0);
  fake.tick(1);
  const today = gaps.today();
  assert.equal(today.count, 1, "not live when the market opens: a gap");
  assert.equal(today.last[0]?.cause, "not_live");
  assert.equal(today.last[0]?.start, new Date(ist("2026-03-04T09:15")).toISOString());
  assert.equal(fake.nextDue, ist("2026-03-04T15:30"), "then only the close, until an event");
  gaps[Symbol.dispose]();
  assert.equal(fake.pending, 0);
});

Deno.test("watchGaps() wakes once per stall limit while data flows, and sees a silent shard without an event", () => {
  const start = ist("2026-03-04T10:00");
  const { fake, gaps, send, armed } = setup(start);
  send({ type: "TokenLoaded", ...TOKEN, source: "file" });
  send({ type: "SocketOpened", gen: 1 });
  send({ type: "DataReceived", gen: 1 });
  const before = armed();
  for (let second = 0; second < 60; second++) {
    fake.tick(1000);
    send({ type: "DataReceived", gen: 1 });
  }
  // A look per stall limit (5 s) less a second of data, not one per second or per message.
  assert.ok(armed() - before <= 60 / 4, `${armed() - before} timers in 60 s`);
  assert.equal(gaps.today().count, 1, "only the start's connection: a short gap");
  const lastData = fake.now();
  fake.tick(4999);
  assert.equal(gaps.today().count, 1, "short of the stall limit the shard is fine");
  fake.tick(1);
  const today = gaps.today();
  assert.equal(today.count, 2);
  assert.equal(today.last[1]?.cause, "silent");
  assert.equal(today.last[1]?.start, new Date(lastData).toISOString());
  gaps[Symbol.dispose]();
});
