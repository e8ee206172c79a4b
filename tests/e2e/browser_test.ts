/**
 * The page in a real browser: headless Chromium (Debian's `chromium`) driven by
 * `playwright-core`, against a real simulator and daemon. Skips, saying why, without Chromium.
 *
 * @module
 */
import assert from "node:assert/strict";
import {
  envText,
  KITE,
  simControl,
  startHarness,
  waitFor,
} from "../../src/testing/daemon_harness.ts";
import { optionTokens } from "../../src/simulator/instruments.ts";

const CHROMIUM = "/usr/bin/chromium";
// Without the background-networking flags Chromium keeps trying to reach Google's services.
const CHROMIUM_ARGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const NIFTY_PRICE = '[data-token="256265"] .price';

async function exists(path: string): Promise<boolean> {
  try {
    return (await Deno.stat(path)).isFile;
  } catch {
    return false;
  }
}

const hasChromium = await exists(CHROMIUM);
if (!hasChromium) {
  console.log(`browser_test: skipped: ${CHROMIUM} is absent (apt-get install chromium)`);
}

/** The little of the DOM the in-page checks use (Deno's types have no DOM). */
interface Dom {
  readonly document: { querySelector(selector: string): { textContent: string | null } | null };
}

Deno.test({
  name: "in Chromium the page logs in, turns Live, follows prices, and asks to log in on expiry",
  ignore: !hasChromium,
  async fn() {
    const started = performance.now();
    // playwright-core probes /proc/sys/fs/binfmt_misc/WSLInterop at import, which Deno allows
    // only with --allow-all; this switch (its own test hook) makes that probe lazy.
    Deno.env.set("__IS_WSL_TEST__", "1");
    const { chromium } = await import("playwright-core");

    await using h = await startHarness();
    const { daemon, sim } = h;
    const shots = await Deno.makeTempDir({ prefix: "kitekeeper_browser_" });
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage({ viewport: { width: 900, height: 640 } });
      const problems: string[] = [];
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      page.on("console", (message) => {
        if (message.type() === "error" && /Content.Security.Policy/i.test(message.text())) {
          problems.push(`CSP: ${message.text()}`);
        }
      });

      // No token: Expired, and a login button.
      await page.goto(`${daemon.url}/`);
      await page.locator('#state[data-state="Expired"]').waitFor();
      assert.equal(await page.locator("#state").textContent(), "Expired");
      await page.locator("#login").waitFor({ state: "visible" });
      await page.locator('#conn[data-conn="open"]').waitFor(); // The script runs and streams.

      // Log in through the simulator's form; the callback lands back on the page.
      await page.locator("#login").click();
      await page.locator('input[name="user_id"]').fill(KITE.userId);
      await page.locator('input[name="password"]').fill(KITE.password);
      await page.locator('button[type="submit"]').click();
      await page.waitForURL(`${daemon.url}/`);
      await page.locator('#state[data-state="Live"]').waitFor();
      await page.locator("#login").waitFor({ state: "hidden" });
      assert.match(await page.locator("#countdown").textContent() ?? "", /^in \d+ h \d\d min/);

      // Prices move: two different NIFTY 50 prices, seen in the DOM as /stream delivers them.
      // Functions, not strings: the page's CSP forbids eval, and Playwright runs functions
      // outside it. Each is sent as source, so it names nothing from this module.
      const priced = await page.waitForFunction((selector) => {
        const dom = globalThis as unknown as Dom;
        const text = dom.document.querySelector(selector)?.textContent ?? "";
        return /\d/.test(text) ? text : false;
      }, NIFTY_PRICE);
      const first = await priced.jsonValue();
      await priced.dispose();
      const moved = await page.waitForFunction(([selector, before]) => {
        const dom = globalThis as unknown as Dom;
        const text = dom.document.querySelector(selector)?.textContent ?? "";
        return text !== before ? text : false;
      }, [NIFTY_PRICE, first] as const);
      const second = await moved.jsonValue();
      await moved.dispose();
      assert.notEqual(second, first);
      assert.match(String(second), /^\d{1,2}(,\d\d)*,\d{3}\.\d\d$/);
      await page.screenshot({ path: `${shots}/live.png`, fullPage: true });

      // Kite kills the token and drops the socket: Expired, and the button is back.
      await simControl(sim, "expire");
      await simControl(sim, "drop");
      await page.locator('#state[data-state="Expired"]').waitFor();
      await page.locator("#login").waitFor({ state: "visible" });
      assert.equal(await page.title(), "kitekeeper: Expired");
      assert.equal(await page.locator("#countdown").textContent(), "expired");
      await page.screenshot({ path: `${shots}/expired.png`, fullPage: true });
      assert.ok((await Deno.stat(`${shots}/expired.png`)).size > 1000);
      await Deno.copyFile(`${shots}/live.png`, "/tmp/kitekeeper_page_live.png");
      await Deno.copyFile(`${shots}/expired.png`, "/tmp/kitekeeper_page.png");

      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
      await Deno.remove(shots, { recursive: true });
    }
    console.log(`browser_test: ${Math.round(performance.now() - started)} ms`);
  },
});

Deno.test({
  name: "in Chromium a paged table follows prices of its own rows and adds none from other pages",
  ignore: !hasChromium,
  async fn() {
    Deno.env.set("__IS_WSL_TEST__", "1");
    const { chromium } = await import("playwright-core");
    const tokens = optionTokens(250);
    await using h = await startHarness({
      env: (sim) =>
        envText(sim.url, [
          `KITE_ACCESS_TOKEN=${sim.issueAccessToken()}`,
          `KITEKEEPER_INSTRUMENTS=${tokens.join(",")}`,
          "KITEKEEPER_MODE=ltp",
        ]),
    });
    await waitFor(h.daemon, "Live", (s) => s.state.name === "Live");
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
    try {
      const page = await browser.newPage();
      const problems: string[] = [];
      page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
      await page.goto(`${h.daemon.url}/?page=2`);
      await page.locator('#conn[data-conn="open"]').waitFor();
      assert.equal(await page.locator("#quotes-body tr").count(), 50);
      // Two prices seen on page 2's last row: every instrument has ticked in between.
      const price = `[data-token="${tokens[249]}"] .price`;
      const seen: string[] = [];
      while (seen.length < 2) {
        const shown = await page.waitForFunction(([selector, before]) => {
          const dom = globalThis as unknown as Dom;
          const text = dom.document.querySelector(selector)?.textContent ?? "";
          return /\d/.test(text) && text !== before ? text : false;
        }, [price, seen.at(-1) ?? ""] as const);
        seen.push(String(await shown.jsonValue()));
        await shown.dispose();
      }
      assert.equal(await page.locator("#quotes-body tr").count(), 50, "no rows from page 1");
      assert.equal(await page.locator(`[data-token="${tokens[0]}"]`).count(), 0);
      await page.locator('#pages a[href="/?page=1"]').click();
      await page.locator(`[data-token="${tokens[0]}"]`).waitFor();
      assert.equal(await page.locator("#quotes-body tr").count(), 200);
      assert.deepEqual(problems, []);
    } finally {
      await browser.close();
    }
  },
});
