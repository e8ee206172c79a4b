/**
 * The HTML pages: the status page at `/` and the page a refused login shows. Neither has
 * inline script or style (they load `/assets/page.js` and `/assets/page.css`), so a strict
 * CSP (`script-src 'self'; style-src 'self'`) holds.
 *
 * @module
 */
import type { InstrumentQuote } from "../feed/store.ts";
import { DEFAULT_INSTRUMENTS, instrumentName } from "../kite/instruments.ts";
import type { StatusBody } from "../ops/status_body.ts";
import {
  formatChange,
  formatExpiry,
  formatIstDateTime,
  formatIstTime,
  formatPrice,
} from "./page_format.ts";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

function layout(title: string, body: string, options: { script?: string } = {}): string {
  const script = options.script === undefined
    ? ""
    : `\n<script src="${escapeHtml(options.script)}" defer></script>`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title>
<link rel="stylesheet" href="/assets/page.css">${script}
</head><body>${body}</body></html>`;
}

/** Options of {@linkcode statusPage}. */
export interface StatusPageOptions {
  /** The instruments to list first, in order; default NIFTY 50, NIFTY BANK, SENSEX. */
  readonly instruments?: readonly number[] | undefined;
  /** Epoch ms the countdown counts from; default `Date.now()`. */
  readonly now?: number | undefined;
}

function timeElement(iso: string | null, format: (iso: string) => string, id = ""): string {
  const idAttribute = id === "" ? "" : ` id="${id}"`;
  if (iso === null) return `<time${idAttribute}>—</time>`;
  return `<time${idAttribute} datetime="${escapeHtml(iso)}">${escapeHtml(format(iso))}</time>`;
}

function quoteRow(token: number, quote: InstrumentQuote | undefined): string {
  const name = escapeHtml(quote?.name ?? instrumentName(token));
  if (quote === undefined) {
    return `<tr data-token="${token}"><th scope="row" class="name">${name}</th>` +
      `<td class="price num">—</td><td class="change num"></td><td class="at"><time></time></td></tr>`;
  }
  const sign = quote.change > 0 ? "up" : quote.change < 0 ? "down" : "flat";
  return `<tr data-token="${token}"><th scope="row" class="name">${name}</th>` +
    `<td class="price num">${escapeHtml(formatPrice(quote.last_price))}</td>` +
    `<td class="change num" data-sign="${sign}">` +
    `${escapeHtml(formatChange(quote.change, quote.change_percent))}</td>` +
    `<td class="at">${timeElement(quote.at, formatIstTime)}</td></tr>`;
}

/**
 * The status page at `/`: a state badge, since when and why, the token's expiry and a
 * countdown, a login button when one is needed, and the instruments' last prices. Rendered
 * complete on the server; `/assets/page.js` then follows `/stream` to keep it current.
 * Stable hooks: `#state` (also `data-state`), `#since`, `#reason`, `#expiry`, `#countdown`,
 * `#login`, `#conn`, and a row `[data-token="<token>"]` with `.price`, `.change`, `.at`.
 */
export function statusPage(status: StatusBody, options: StatusPageOptions = {}): string {
  const { instruments = DEFAULT_INSTRUMENTS, now = Date.now() } = options;
  const quotes = status.feed.instruments;
  const tokens = [...new Set([...instruments, ...Object.keys(quotes).map(Number)])];
  const rows = tokens.map((token) => quoteRow(token, quotes[token])).join("\n");
  const expiry = status.token?.expected_expiry ?? null;
  const countdown = formatExpiry({ state: status.state, expected_expiry: expiry }, now);
  const hidden = status.login_needed ? "" : " hidden";
  const state = escapeHtml(status.state);
  return layout(
    `kitekeeper: ${status.state}`,
    `<header><h1>kitekeeper</h1>
<span id="state" class="badge" data-state="${state}">${state}</span></header>
<p class="meta">since ${timeElement(status.since, formatIstDateTime, "since")}
· <span id="reason">${escapeHtml(status.reason)}</span></p>
<p class="meta">token expires ${timeElement(expiry, formatIstDateTime, "expiry")}
· <span id="countdown">${escapeHtml(countdown)}</span></p>
<p><a id="login" class="button" href="/api/auth/login"${hidden}>Log in to Kite</a></p>
<table id="quotes" data-state="${state}"><thead><tr><th>instrument</th><th class="num">last</th><th class="num">change</th>
<th>at (IST)</th></tr></thead>
<tbody id="quotes-body">
${rows}
</tbody></table>
<footer><span id="conn" data-conn="none">as of page load</span>
· <a href="/status">/status</a> · <a href="/quotes">/quotes</a></footer>`,
    { script: "/assets/page.js" },
  );
}

/** The page a refused callback shows: what was wrong, and the way back. */
export function refusalPage(message: string): string {
  return layout(
    "kitekeeper: login refused",
    `<h1>Login refused</h1><p id="error">${escapeHtml(message)}</p>
<p>.env was not changed. <a href="/api/auth/login">Log in again</a></p>`,
  );
}
