import assert from "node:assert/strict";
import { PAGE_SCRIPT, PAGE_STYLE } from "../../src/http/page_assets.ts";
import {
  formatChange,
  formatCountdown,
  formatExpiry,
  formatPrice,
} from "../../src/http/page_format.ts";
import { PAGE_ROWS, statusPage } from "../../src/http/pages.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { envText, startHarness, waitFor } from "../../src/testing/daemon_harness.ts";
import { optionTokens } from "../../src/simulator/instruments.ts";

const NOW = Date.parse("2026-03-02T04:00:00.000Z"); // 09:30 IST
const EXPIRY = "2026-03-03T00:30:00.000Z"; // 06:00 IST the next day

/** A real daemon's /status body, Expired without a token, for the tests to vary. */
async function expiredStatus(): Promise<StatusBody> {
  await using h = await startHarness();
  await waitFor(h.daemon, "Expired without a token", (s) => s.state.name === "Expired");
  return h.daemon.status();
}

function liveStatus(base: StatusBody): StatusBody {
  return {
    ...base,
    state: "Live",
    since: "2026-03-02T03:45:00.000Z",
    reason: "live",
    login_needed: false,
    login_url: null,
    token: {
      fingerprint: "0123456789ab",
      source: "callback",
      loaded_at: "2026-03-02T03:44:59.000Z",
      expected_expiry: EXPIRY,
      user_id: "AB1234",
    },
    feed: {
      ...base.feed,
      instruments: {
        "256265": {
          name: "NIFTY 50",
          last_price: 24012.35,
          change: -12.3,
          change_percent: -0.0512,
          at: "2026-03-02T04:00:00.000Z",
        },
        "408065": {
          name: "INFY",
          last_price: 1500,
          change: 0,
          change_percent: 0,
          at: "2026-03-02T04:00:00.000Z",
        },
      },
    },
  };
}

function element(html: string, id: string): string {
  const match = new RegExp(`<[a-z]+ id="${id}"[^>]*>[^<]*<`).exec(html);
  assert.ok(match, `#${id} is on the page`);
  return match[0];
}

function row(html: string, token: number): string {
  const match = new RegExp(`<tr data-token="${token}">.*?</tr>`).exec(html);
  assert.ok(match, `a row for ${token}`);
  return match[0];
}

Deno.test("statusPage() when Expired shows the badge, the login button and a row per instrument", async () => {
  const status = await expiredStatus();
  const html = statusPage(status, { instruments: [256265, 260105, 265, 408065], now: NOW });
  assert.match(element(html, "state"), /data-state="Expired">Expired</);
  assert.match(element(html, "since"), new RegExp(`datetime="${status.since}"`));
  assert.match(element(html, "reason"), />no token</);
  assert.match(element(html, "login"), /href="\/api\/auth\/login">Log in to Kite</);
  assert.doesNotMatch(element(html, "login"), /hidden/);
  assert.match(element(html, "countdown"), />—</);
  const tokens = [...html.matchAll(/<tr data-token="(\d+)">/g)].map((m) => Number(m[1]));
  assert.deepEqual(tokens, [256265, 260105, 265, 408065]);
  assert.match(row(html, 260105), /class="name">NIFTY BANK<.*class="price num">—</);
  assert.match(html, /<title>kitekeeper: Expired<\/title>/);
});

Deno.test("statusPage() when Live hides the login button and shows prices and the countdown", async () => {
  const html = statusPage(liveStatus(await expiredStatus()), { now: NOW });
  assert.match(element(html, "state"), /data-state="Live">Live</);
  assert.match(element(html, "login"), / hidden>/);
  assert.match(element(html, "since"), />2 Mar, 09:15:00 IST</);
  assert.match(element(html, "expiry"), />3 Mar, 06:00:00 IST</);
  assert.match(element(html, "countdown"), />in 20 h 30 min 00 s</);
  const nifty = row(html, 256265);
  assert.match(nifty, /class="price num">24,012\.35</);
  assert.match(nifty, /data-sign="down">-12\.30 \(-0\.05%\)</);
  assert.match(nifty, /<time datetime="2026-03-02T04:00:00.000Z">09:30:00<\/time>/);
  // Default rows first (the three indices), then any other instrument with a tick.
  const tokens = [...html.matchAll(/<tr data-token="(\d+)">/g)].map((m) => Number(m[1]));
  assert.deepEqual(tokens, [256265, 260105, 265, 408065]);
  assert.match(row(html, 408065), /data-sign="flat">0\.00 \(0\.00%\)</);
});

Deno.test("statusPage() escapes what it shows and loads its script and style, inline none", async () => {
  const status = { ...(await expiredStatus()), reason: `<script>alert("x")</script> & co` };
  const html = statusPage(status, { now: NOW });
  assert.match(
    element(html, "reason"),
    />&lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt; &amp; co</,
  );
  assert.deepEqual([...html.matchAll(/<script[^>]*>/g)].map((m) => m[0]), [
    '<script src="/assets/page.js" defer>',
  ]);
  assert.match(html, /<script src="\/assets\/page.js" defer><\/script>/, "nothing inline");
  assert.match(html, /<link rel="stylesheet" href="\/assets\/page.css">/);
  assert.doesNotMatch(html, /<style|\sstyle=|\son[a-z]+=|javascript:/i);
});

Deno.test("the page writes prices, changes and countdowns the Indian way", () => {
  assert.equal(formatPrice(124012.3), "1,24,012.30");
  assert.equal(formatChange(12.3, 0.0512), "+12.30 (+0.05%)");
  assert.equal(formatCountdown(5 * 3600_000 + 3 * 60_000 + 9_400), "in 5 h 03 min 09 s");
  assert.equal(formatCountdown(61_000), "in 1 min 01 s");
  assert.equal(formatCountdown(9_999), "in 9 s");
  assert.equal(formatCountdown(0), "passed");
  assert.equal(formatCountdown(Number.NaN), "passed");
  const expiry = "2026-03-03T00:30:00.000Z";
  assert.equal(
    formatExpiry({ state: "Live", expected_expiry: expiry }, NOW),
    "in 20 h 30 min 00 s",
  );
  assert.equal(formatExpiry({ state: "Expired", expected_expiry: expiry }, NOW), "expired");
  assert.equal(formatExpiry({ state: "Expired", expected_expiry: null }, NOW), "—");
});

Deno.test("the page's script parses and carries the server's formatting functions", () => {
  // Compiled, not run: a syntax error here would be a dead page.
  assert.doesNotThrow(() => new Function(PAGE_SCRIPT));
  for (const fn of [formatPrice, formatChange, formatCountdown, formatExpiry]) {
    assert.ok(PAGE_SCRIPT.includes(String(fn)), `${fn.name} is shipped as the server runs it`);
  }
  assert.match(PAGE_SCRIPT, /new EventSource\("\/stream"\)/);
  assert.match(PAGE_STYLE, /\[hidden\]\{display:none!important\}/);
});

Deno.test("/assets/page.js and /assets/page.css are served with their content types", async () => {
  await using h = await startHarness();
  const script = await fetch(`${h.daemon.url}/assets/page.js`);
  assert.equal(script.status, 200);
  assert.equal(script.headers.get("content-type"), "text/javascript; charset=utf-8");
  assert.equal(await script.text(), PAGE_SCRIPT);
  const style = await fetch(`${h.daemon.url}/assets/page.css`);
  assert.equal(style.status, 200);
  assert.equal(style.headers.get("content-type"), "text/css; charset=utf-8");
  assert.equal(await style.text(), PAGE_STYLE);
  const page = await fetch(`${h.daemon.url}/`);
  assert.match(await page.text(), /<tr data-token="256265">/);
});

Deno.test("statusPage() pages the instrument table: PAGE_ROWS rows a page, links to the others", async () => {
  const base = liveStatus(await expiredStatus());
  const quote = base.feed.instruments["408065"]!;
  const instruments = Object.fromEntries(
    Array.from({ length: 450 }, (_, i) => [String(1_000 + i), { ...quote, name: `OPT${i}` }]),
  );
  const status = { ...base, feed: { ...base.feed, instruments } };
  const tokensOn = (html: string) =>
    [...html.matchAll(/<tr data-token="(\d+)">/g)].map((m) => Number(m[1]));
  const first = statusPage(status, { instruments: [], now: NOW });
  assert.equal(PAGE_ROWS, 200);
  assert.deepEqual(tokensOn(first), Array.from({ length: 200 }, (_, i) => 1_000 + i));
  assert.match(first, /<table id="quotes" data-state="Live" data-paged="">/);
  assert.match(first, /<nav id="pages">page 1 of 3: <strong aria-current="page">1<\/strong>/);
  assert.match(first, /<a href="\/\?page=2">2<\/a> <a href="\/\?page=3">3<\/a><\/nav>/);
  const last = statusPage(status, { instruments: [], now: NOW, page: 3 });
  assert.deepEqual(tokensOn(last), Array.from({ length: 50 }, (_, i) => 1_400 + i));
  assert.equal(statusPage(status, { instruments: [], now: NOW, page: 9 }), last, "past the end");
  // One page: no links, and the script adds rows for instruments that tick later.
  const one = statusPage(status, { instruments: [], now: NOW, pageRows: 450 });
  assert.equal(tokensOn(one).length, 450);
  assert.doesNotMatch(one, /data-paged|id="pages"/);
});

Deno.test("24 parallel GET / with 3000 instruments while the feed is live cause no stall reconnect", async () => {
  const tokens = optionTokens(3000);
  await using h = await startHarness({
    env: (sim) =>
      envText(sim.url, [
        `KITE_ACCESS_TOKEN=${sim.issueAccessToken()}`,
        `KITEKEEPER_INSTRUMENTS=${tokens.join(",")}`,
        "KITEKEEPER_MODE=ltp",
      ]),
  });
  const { daemon } = h;
  const live = await waitFor(daemon, "Live", (s) => s.state.name === "Live");
  // Every instrument has ticked: the page is as big as it gets.
  await waitFor(daemon, "3000 quotes", () => {
    return Object.keys(daemon.feed.snapshot().instruments).length === 3000;
  }, { timeoutMs: 15_000 });
  const before = (await (await fetch(`${daemon.url}/status`)).json()) as StatusBody;

  // Three rounds of 24 parallel loads of every page in turn (the stall watchdog is 400 ms).
  const pages = Math.ceil(3000 / PAGE_ROWS);
  for (let round = 0; round < 3; round++) {
    const loads = Array.from({ length: 24 }, async (_, i) => {
      const response = await fetch(`${daemon.url}/?page=${(round * 24 + i) % pages + 1}`);
      assert.equal(response.status, 200);
      return await response.text();
    });
    for (const html of await Promise.all(loads)) {
      assert.equal([...html.matchAll(/<tr data-token=/g)].length, PAGE_ROWS);
    }
  }
  const bad = await fetch(`${daemon.url}/?page=x`);
  assert.equal(bad.status, 400);
  assert.match(await bad.text(), /^Bad page: expected a whole number from 1/);

  const after = (await (await fetch(`${daemon.url}/status`)).json()) as StatusBody;
  assert.equal(after.state, "Live");
  assert.equal(after.connection.reconnects_total, before.connection.reconnects_total);
  assert.equal(daemon.actor.snapshot().gen, live.gen, "the same upstream socket");
});
