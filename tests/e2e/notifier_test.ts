import assert from "node:assert/strict";
import { systemClock } from "../../src/clock.ts";
import { FakeClock } from "../../src/testing/fake_clock.ts";
import { type Actor, type ActorPorts, createActor } from "../../src/lifecycle/actor.ts";
import type { NotifyTarget } from "../../src/config.ts";
import { createNotifier, type Notification, notificationRequest } from "../../src/ops/notifier.ts";
import {
  envText,
  KITE,
  simControl,
  startHarness,
  waitFor,
} from "../../src/testing/daemon_harness.ts";
import { type Received, startReceiver } from "../_support/receiver.ts";

// 2024-03-11 09:30 IST; the token loaded then is expected to die at 06:00 IST next morning.
const T0 = Date.UTC(2024, 2, 11, 4, 0);
const EXPIRY = Date.UTC(2024, 2, 12, 0, 30);
const MINUTE = 60_000;
const A = { token: "a".repeat(32), fingerprint: "aaaaaaaaaaa1" };
const BOT_PATH = "/bot123456:AAF-secret-bot-token/sendMessage";

const NOTIFICATION: Notification = {
  event: "login_needed",
  reason: "token expired",
  loginUrl: "https://kk.example/api/auth/login",
  state: "Expired",
  at: T0,
};

/**
 * A lifecycle actor on `clock` whose socket and probe ports go nowhere (the socket never
 * opens; every probe says ok), and whose `notify` port calls `notify`.
 */
function lifecycleOn(clock: FakeClock, notify: (reason: string) => void): Actor {
  const ports: ActorPorts = {
    socket: { open() {}, close() {}, subscribe() {}, unsubscribe() {} },
    probe: () => Promise.resolve({ result: "ok" }),
    clock,
    log() {},
    notify,
  };
  // A stall would only churn sockets that never open: keep the watchdog out of the way.
  return createActor({ ports, lifecycle: { stallMs: 7 * 24 * 60 * MINUTE } });
}

function json(received: Received): Record<string, unknown> {
  return JSON.parse(received.body);
}

Deno.test("notificationRequest() shapes each format: json, ntfy, telegram, slack", () => {
  const url = "https://hooks.example/x";
  const asJson = notificationRequest(NOTIFICATION, { format: "json", url });
  assert.equal(asJson.url, url);
  assert.equal(asJson.method, "POST");
  assert.equal(asJson.headers["Content-Type"], "application/json");
  assert.deepEqual(JSON.parse(asJson.body), {
    event: "login_needed",
    reason: "token expired",
    login_url: "https://kk.example/api/auth/login",
    state: "Expired",
    at: "2024-03-11T04:00:00.000Z",
  });

  const ntfy = notificationRequest(NOTIFICATION, { format: "ntfy", url });
  assert.equal(ntfy.headers["Title"], "kitekeeper: login needed");
  assert.equal(ntfy.headers["Click"], "https://kk.example/api/auth/login");
  assert.match(ntfy.headers["Tags"]!, /warning/);
  assert.equal(ntfy.body, "token expired. Log in: https://kk.example/api/auth/login");

  const telegram = notificationRequest(NOTIFICATION, { format: "telegram", url, chatId: "-1001" });
  const sent = JSON.parse(telegram.body);
  assert.equal(sent.chat_id, "-1001");
  assert.match(sent.text, /login needed: token expired/);
  assert.match(sent.text, /https:\/\/kk\.example\/api\/auth\/login/);

  const slack = notificationRequest(NOTIFICATION, { format: "slack", url });
  assert.deepEqual(Object.keys(JSON.parse(slack.body)), ["text"]);
  assert.match(JSON.parse(slack.body).text, /Log in: https:\/\/kk\.example/);
});

const FORMATS: readonly {
  readonly name: string;
  readonly env: (url: string) => string[];
  readonly check: (received: Received, loginUrl: string) => void;
}[] = [
  {
    name: "json",
    env: (url) => [`KITEKEEPER_NOTIFY_URL=${url}/hook`],
    check(received, loginUrl) {
      assert.equal(received.path, "/hook");
      assert.equal(received.headers.get("content-type"), "application/json");
      const body = json(received);
      assert.equal(body.event, "login_needed");
      assert.equal(body.reason, "no token");
      assert.equal(body.state, "Expired");
      assert.equal(body.login_url, loginUrl);
      assert.ok(Math.abs(Date.parse(String(body.at)) - Date.now()) < 60_000);
    },
  },
  {
    name: "ntfy",
    env: (
      url,
    ) => [`KITEKEEPER_NOTIFY_URL=${url}/kitekeeper-topic`, "KITEKEEPER_NOTIFY_FORMAT=ntfy"],
    check(received, loginUrl) {
      assert.equal(received.path, "/kitekeeper-topic");
      assert.equal(received.headers.get("title"), "kitekeeper: login needed");
      assert.equal(received.headers.get("click"), loginUrl);
      assert.match(received.headers.get("tags") ?? "", /warning/);
      assert.equal(received.body, `no token. Log in: ${loginUrl}`);
    },
  },
  {
    name: "telegram",
    env: (url) => [
      `KITEKEEPER_NOTIFY_URL=${url}${BOT_PATH}`,
      "KITEKEEPER_NOTIFY_FORMAT=telegram",
      "KITEKEEPER_TELEGRAM_CHAT_ID=-100123",
    ],
    check(received, loginUrl) {
      assert.equal(received.path, BOT_PATH);
      const body = json(received);
      assert.equal(body.chat_id, "-100123");
      assert.match(String(body.text), /login needed: no token/);
      assert.ok(String(body.text).includes(loginUrl));
    },
  },
  {
    name: "slack",
    env: (
      url,
    ) => [
      `KITEKEEPER_NOTIFY_URL=${url}/services/T0/B0/slack-secret`,
      "KITEKEEPER_NOTIFY_FORMAT=slack",
    ],
    check(received, loginUrl) {
      const body = json(received);
      assert.deepEqual(Object.keys(body), ["text"]);
      assert.ok(String(body.text).includes(loginUrl));
    },
  },
];

for (const format of FORMATS) {
  Deno.test(`the daemon POSTs login_needed in ${format.name} format on entering Expired, logging only the origin`, async () => {
    await using receiver = await startReceiver();
    await using h = await startHarness({
      env: (sim) => envText(sim.url, format.env(receiver.url)),
    });
    const received = await receiver.next();
    assert.equal(h.daemon.actor.snapshot().state.name, "Expired");
    assert.equal(received.method, "POST");
    format.check(received, `${h.daemon.url}/api/auth/login`);
    await h.daemon.close();
    const log = h.lines.join("\n");
    for (const secret of ["secret", "topic", "sendMessage", "/hook", KITE.apiSecret]) {
      assert.ok(!log.includes(secret), `the log never shows the webhook's path (${secret})`);
    }
  });
}

Deno.test("a failing webhook is retried with backoff: 500, then 200", async () => {
  await using receiver = await startReceiver((_request, index) =>
    new Response(index === 0 ? "boom" : "ok", { status: index === 0 ? 500 : 200 })
  );
  const lines: string[] = [];
  const clock = new FakeClock(T0);
  // The port runs only on events, after the notifier below exists.
  const actor = lifecycleOn(clock, (reason) => notifier.loginNeeded(reason));
  const notifier = createNotifier({ format: "json", url: `${receiver.url}/hook` }, {
    lifecycle: actor,
    loginUrl: () => "http://127.0.0.1:1/api/auth/login",
    clock: systemClock(), // Real retry delays, kept short: the receiver's answers drive the test.
    log: (level, message) => lines.push(`${level} ${message}`),
    backoffBaseMs: 20,
  });
  notifier.loginNeeded("token expired");
  const first = await receiver.next();
  const second = await receiver.next();
  assert.equal(second.body, first.body, "the same message, again");
  await notifier.settled();
  assert.equal(receiver.received.length, 2);
  assert.deepEqual(lines.filter((line) => !line.startsWith("debug")), [
    `info Sent the login_needed notification to ${receiver.url}`,
  ]);
  assert.match(lines.join("\n"), /failed \(HTTP 500\); retrying in \d+ ms/);
  await notifier.close();
  await actor.stop();
});

Deno.test("a webhook that refuses (HTTP 400) is not retried, and giving up is logged", async () => {
  await using receiver = await startReceiver(() => new Response("bad chat id", { status: 400 }));
  const lines: string[] = [];
  const clock = new FakeClock(T0);
  const actor = lifecycleOn(clock, () => {});
  await using notifier = createNotifier({ format: "slack", url: `${receiver.url}/hook` }, {
    lifecycle: actor,
    loginUrl: () => "http://127.0.0.1:1/api/auth/login",
    clock,
    log: (level, message) => lines.push(`${level} ${message}`),
  });
  notifier.loginNeeded("token expired");
  await receiver.next();
  await notifier.settled();
  assert.equal(receiver.received.length, 1);
  assert.deepEqual(lines, [
    `warn Failed to send the login_needed notification to ${receiver.url} (attempt 1 of 4): HTTP 400`,
  ]);
  await actor.stop();
});

Deno.test("a hanging webhook never holds up the lifecycle: Live and Expired arrive on time", async () => {
  const release = Promise.withResolvers<Response>();
  await using receiver = await startReceiver(() => release.promise);
  try {
    await using h = await startHarness({
      env: (sim) => envText(sim.url, [`KITEKEEPER_NOTIFY_URL=${receiver.url}/hook`]),
    });
    const { daemon, sim } = h;
    await receiver.next(); // The "no token" message: its answer never comes.
    assert.equal(daemon.actor.snapshot().state.name, "Expired");

    const token = sim.issueAccessToken();
    await Deno.writeTextFile(h.envFile, `KITE_ACCESS_TOKEN=${token}\r\n`, { append: true });
    const loading = performance.now();
    await daemon.reload();
    await waitFor(daemon, "Live", (s) => s.state.name === "Live", { timeoutMs: 3_000 });
    const toLive = performance.now() - loading;

    const expiring = performance.now();
    await simControl(sim, "expire");
    await simControl(sim, "drop");
    await waitFor(daemon, "Expired", (s) => s.state.name === "Expired", { timeoutMs: 3_000 });
    const toExpired = performance.now() - expiring;
    console.log(
      `with the webhook hanging: Live in ${toLive.toFixed(0)} ms, Expired in ${
        toExpired.toFixed(0)
      } ms`,
    );
    assert.equal(receiver.received.length, 1, "the second message waits behind the hung one");

    const closing = performance.now();
    await daemon.close(); // Aborts the hung request instead of waiting out its time limit.
    assert.ok(performance.now() - closing < 3_000);
  } finally {
    release.resolve(new Response("late"));
  }
});

Deno.test("a trading morning over the webhook: nothing before expiry, one login_needed when the token dies, reminders at 08:30 and 08:50", async () => {
  await using receiver = await startReceiver();
  // Monday 2024-03-11 16:00 IST: a token loaded after the close.
  const clock = new FakeClock(Date.UTC(2024, 2, 11, 10, 30));
  let alive = true;
  const ports: ActorPorts = {
    socket: { open() {}, close() {}, subscribe() {}, unsubscribe() {} },
    probe: () =>
      Promise.resolve(alive ? { result: "ok" } : { result: "auth", detail: "TokenException" }),
    clock,
    log() {},
    notify: (reason, notice) =>
      notice?.kind === "reminder" ? notifier.reminder(reason) : notifier.loginNeeded(reason),
  };
  const actor = createActor({ ports, lifecycle: { stallMs: 7 * 24 * 60 * MINUTE } });
  const notifier = createNotifier({ format: "json", url: `${receiver.url}/hook` }, {
    lifecycle: actor,
    loginUrl: () => "https://kk.example/api/auth/login",
    clock,
  });
  actor.send({ type: "TokenLoaded", ...A, source: "callback" });
  assert.equal(actor.snapshot().expectedExpiry, EXPIRY);
  // Through 06:00 IST (the probe says the token still works): no message at all.
  /** Moves the clock timer by timer up to `when`, each message delivered before the next. */
  async function until(when: number): Promise<void> {
    while (clock.now() < when) {
      // One timer at a time: a webhook's own time limit must not pass during its fetch.
      clock.tick(Math.min(clock.nextDue ?? when, when) - clock.now());
      await new Promise((resolve) => setTimeout(resolve, 0)); // the probe answers
      await notifier.settled();
    }
  }
  await until(EXPIRY + MINUTE);
  assert.equal(receiver.received.length, 0);
  assert.equal(actor.snapshot().loginNeeded, true);
  // Kite flushes the token before the 07:35 IST recheck: one login_needed.
  alive = false;
  await until(EXPIRY + 95 * MINUTE + 1);
  const dead = json(await receiver.next());
  assert.equal(dead.event, "login_needed");
  assert.equal(dead.login_url, "https://kk.example/api/auth/login");
  assert.equal(actor.snapshot().state.name, "Expired");
  // 08:30 and 08:50 IST: one reminder each, with the login URL.
  await until(EXPIRY + 170 * MINUTE + 1);
  const first = json(await receiver.next());
  assert.equal(first.event, "login_reminder");
  assert.equal(first.at, new Date(EXPIRY + 150 * MINUTE).toISOString());
  assert.equal(first.login_url, "https://kk.example/api/auth/login");
  const second = json(await receiver.next());
  assert.equal(second.at, new Date(EXPIRY + 170 * MINUTE).toISOString());
  await until(EXPIRY + 12 * 60 * MINUTE);
  assert.deepEqual(receiver.received.map((r) => json(r).event), [
    "login_needed",
    "login_reminder",
    "login_reminder",
  ]);
  await notifier.close();
  await actor.stop();
});

Deno.test("closing the notifier drops the queue and leaves no timer", async () => {
  await using receiver = await startReceiver();
  const clock = new FakeClock(T0);
  const actor = lifecycleOn(clock, () => {});
  actor.send({ type: "TokenLoaded", ...A, source: "file" });
  const target: NotifyTarget = { format: "json", url: `${receiver.url}/hook` };
  const notifier = createNotifier(target, {
    lifecycle: actor,
    loginUrl: () => "x",
    clock,
  });
  const timers = clock.pending;
  await notifier.close();
  assert.equal(clock.pending, timers, "the notifier keeps no timer of its own");
  notifier.loginNeeded("after close");
  await notifier.settled();
  assert.equal(receiver.received.length, 0);
  await actor.stop();
});

Deno.test("a webhook that cannot be reached is logged by origin only, never its secret path", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const origin = `http://127.0.0.1:${(listener.addr as Deno.NetAddr).port}`;
  listener.close(); // Nothing listens there now: every attempt is refused.
  const lines: string[] = [];
  const clock = new FakeClock(T0);
  const actor = lifecycleOn(clock, () => {});
  const notifier = createNotifier(
    { format: "telegram", url: `${origin}${BOT_PATH}`, chatId: "-100123" },
    {
      lifecycle: actor,
      loginUrl: () => "https://kk.example/api/auth/login",
      clock: systemClock(),
      log: (level, message) => lines.push(`${level} ${message}`),
      attempts: 2,
      backoffBaseMs: 5,
    },
  );
  notifier.loginNeeded("token expired");
  await notifier.settled();
  await notifier.close();
  await actor.stop();
  const log = lines.join("\n");
  assert.match(
    log,
    new RegExp(
      `warn Failed to send the login_needed notification to ${origin} \\(attempt 2 of 2\\)`,
    ),
  );
  assert.ok(!log.includes("AAF-secret-bot-token"), log);
  assert.ok(!log.includes("sendMessage"), log);
});
