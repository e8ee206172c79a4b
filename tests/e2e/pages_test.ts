import assert from "node:assert/strict";
import { PAGE_SCRIPT, PAGE_STYLE } from "../../src/http/page_assets.ts";
import {
  formatChange,
  formatCountdown,
  formatExpiry,
  formatPrice,
} from "../../src/http/page_format.ts";
import { statusPage } from "../../src/http/pages.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { startHarness, waitFor } from "../../src/testing/daemon_harness.ts";

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
