import assert from "node:assert/strict";
import {
  initialLease,
  type LeaseState,
  type LeaseStep,
  leaseStep,
  leaseTiming,
} from "../../../src/cluster/lease.ts";

const timing = leaseTiming(3_000); // renew 1000, poll 250, drift 35
const T0 = 1_000_000;

function holderAt(sentAt: number, fence = 7): LeaseState {
  const step = leaseStep(
    initialLease(),
    { kind: "claimed", fence, sentAt, at: sentAt + 2 },
    timing,
  );
  assert.equal(step.upstream, "open");
  return step.state;
}

Deno.test("leaseTiming() renews at a third of the TTL and refuses a TTL under 300 ms", () => {
  assert.deepEqual(timing, { ttlMs: 3_000, renewMs: 1_000, pollMs: 250, driftMs: 35 });
  assert.throws(() => leaseTiming(299), RangeError);
  assert.throws(() => leaseTiming(1.5e3 + 0.5), RangeError);
});

Deno.test("leaseStep() a standby that claims the lease opens upstream and renews from the send time", () => {
  const step = leaseStep(
    initialLease(),
    { kind: "claimed", fence: 3, sentAt: T0, at: T0 + 40 },
    timing,
  );
  assert.equal(step.upstream, "open");
  assert.deepEqual(step.state, { role: "holder", fence: 3, validUntil: T0 + 2_965, problem: null });
  assert.deepEqual(step.next, { op: "renew", at: T0 + 1_000 });
});

Deno.test("leaseStep() a standby that finds a holder polls and remembers its fence", () => {
  const holder = { node: "b", fence: 9 };
  const step = leaseStep(initialLease(), { kind: "held_by", holder, at: T0 }, timing);
  assert.equal(step.upstream, null);
  assert.deepEqual(step.state, {
    role: "standby",
    holder,
    problem: null,
    quietUntil: 0,
    fenceSeen: 9,
  });
  assert.deepEqual(step.next, { op: "acquire", at: T0 + 250 });
});

Deno.test("leaseStep() a renewal extends the lease from when it was sent, not answered", () => {
  const step = leaseStep(holderAt(T0), {
    kind: "claimed",
    fence: 7,
    sentAt: T0 + 1_000,
    at: T0 + 1_900,
  }, timing);
  assert.equal(step.upstream, null);
  assert.equal(step.state.role === "holder" && step.state.validUntil, T0 + 3_965);
  assert.deepEqual(step.next, { op: "renew", at: T0 + 2_000 });
});

Deno.test("leaseStep() a holder that cannot renew keeps its feed until the lease may lapse, then closes", () => {
  let step: LeaseStep = leaseStep(holderAt(T0), {
    kind: "failed",
    failure: "timeout",
    at: T0 + 2_900,
  }, timing);
  assert.equal(step.upstream, null);
  assert.equal(step.state.role, "holder");
  // Retries soon, but looks again exactly at validUntil (T0 + 2965).
  assert.deepEqual(step.next, { op: "renew", at: T0 + 2_965 });
  step = leaseStep(step.state, { kind: "tick", at: T0 + 2_965 }, timing);
  assert.equal(step.upstream, "close");
  assert.equal(step.state.role, "standby");
  assert.equal(step.state.role === "standby" && step.state.fenceSeen, 7);
  // Having lost Redis, it only looks until Redis answers again.
  assert.equal(step.next.op, "observe");
});

Deno.test("leaseStep() a renewal still in flight when the lease may lapse closes upstream", () => {
  const step = leaseStep(holderAt(T0), { kind: "tick", at: T0 + 2_965 }, timing);
  assert.equal(step.upstream, "close");
});

Deno.test("leaseStep() a refused Redis keeps a holder's feed past its lease; the next claim keeps it open", () => {
  let step: LeaseStep = leaseStep(holderAt(T0), {
    kind: "failed",
    failure: "refused",
    at: T0 + 1_000,
  }, timing);
  for (let at = T0 + 1_250; at < T0 + 20_000; at += 250) {
    step = leaseStep(step.state, { kind: "failed", failure: "refused", at }, timing);
    assert.equal(step.upstream, null, `at +${at - T0}`);
    assert.equal(step.state.role, "holder");
  }
  // Redis is back, empty: the renewal took the lease again under a higher fence.
  step = leaseStep(
    step.state,
    { kind: "claimed", fence: 8, sentAt: T0 + 20_000, at: T0 + 20_001 },
    timing,
  );
  assert.equal(step.upstream, null);
  assert.deepEqual(step.state, {
    role: "holder",
    fence: 8,
    validUntil: T0 + 22_965,
    problem: null,
  });
});

Deno.test("leaseStep() past its lease, a holder closes on the first failure that is not refused", () => {
  let step: LeaseStep = leaseStep(holderAt(T0), {
    kind: "failed",
    failure: "refused",
    at: T0 + 3_000,
  }, timing);
  assert.equal(step.upstream, null);
  step = leaseStep(step.state, { kind: "failed", failure: "timeout", at: T0 + 3_250 }, timing);
  assert.equal(step.upstream, "close");
});

Deno.test("leaseStep() a holder that finds another node on the lease closes at once", () => {
  const step = leaseStep(holderAt(T0), {
    kind: "held_by",
    holder: { node: "b", fence: 8 },
    at: T0 + 1_000,
  }, timing);
  assert.equal(step.upstream, "close");
  assert.deepEqual(step.state, {
    role: "standby",
    holder: { node: "b", fence: 8 },
    problem: null,
    quietUntil: 0,
    fenceSeen: 8,
  });
});

Deno.test("leaseStep() after an outage a standby only looks for one TTL, then tries to acquire", () => {
  let step: LeaseStep = leaseStep(
    initialLease(),
    { kind: "failed", failure: "refused", at: T0 },
    timing,
  );
  assert.equal(step.next.op, "observe");
  step = leaseStep(step.state, { kind: "held_by", holder: null, at: T0 + 500 }, timing);
  assert.equal(step.state.role === "standby" && step.state.quietUntil, T0 + 3_500);
  assert.equal(step.next.op, "observe");
  step = leaseStep(step.state, { kind: "held_by", holder: null, at: T0 + 3_200 }, timing);
  assert.deepEqual(step.next, { op: "observe", at: T0 + 3_450 });
  step = leaseStep(step.state, { kind: "held_by", holder: null, at: T0 + 3_450 }, timing);
  assert.deepEqual(step.next, { op: "acquire", at: T0 + 3_700 });
});

Deno.test("leaseStep() never opens upstream but on a claim", () => {
  const outcomes = [
    { kind: "held_by", holder: null, at: T0 },
    { kind: "held_by", holder: { node: "x", fence: 1 }, at: T0 },
    { kind: "failed", failure: "refused", at: T0 },
    { kind: "failed", failure: "timeout", at: T0 },
    { kind: "tick", at: T0 },
  ] as const;
  for (const state of [initialLease(), holderAt(T0 - 10_000)]) {
    for (const outcome of outcomes) {
      assert.notEqual(leaseStep(state, outcome, timing).upstream, "open", outcome.kind);
    }
  }
});
