/**
 * The HTML pages: the status page at `/` and the page a refused login shows. Neither has
 * inline script or style (they load `/assets/page.js` and `/assets/page.css`), so a strict
 * CSP (`script-src 'self'; style-src 'self'`) holds. Written with Hono's `html` template,
 * which escapes every interpolated string.
 *
 * @module
 */
import { html } from "hono/html";
import type { HtmlEscapedString } from "hono/utils/html";
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

type Html = HtmlEscapedString;

/** Hono's `html`, whose answer is a string at once here: nothing interpolated is a promise. */
function h(strings: TemplateStringsArray, ...values: unknown[]): Html {
  return html(strings, ...values) as Html;
}

function layout(title: string, body: Html, options: { script?: string } = {}): string {
  const script = options.script === undefined
    ? ""
    : h`\n<script src="${options.script}" defer></script>`;
  return String(h`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${title}</title>
<link rel="stylesheet" href="/assets/page.css">${script}
</head><body>${body}</body></html>`);
}

/** Options of {@linkcode statusPage}. */
export interface StatusPageOptions {
  /** The instruments to list first, in order; default NIFTY 50, NIFTY BANK, SENSEX. */
  readonly instruments?: readonly number[] | undefined;
  /** Epoch ms the countdown counts from; default `Date.now()`. */
  readonly now?: number | undefined;
  /** Which page of the instrument table, from 1; default 1 (past the last: the last). */
  readonly page?: number | undefined;
  /** Rows a page; default {@linkcode PAGE_ROWS}. */
  readonly pageRows?: number | undefined;
}

/**
 * Rows of the instrument table a page shows. A row costs about 15 µs to render, all of it
 * blocking the event loop: 3000 on one page took 40–270 ms a request (with the loop's other
 * work), enough for parallel page loads to starve the feed. 200 keeps a render to a few ms.
 */
export const PAGE_ROWS = 200;

function pageLinks(page: number, pages: number): Html {
  if (pages <= 1) return h``;
  const links = Array.from({ length: pages }, (_, index) => {
    const n = index + 1;
    return n === page
      ? h` <strong aria-current="page">${n}</strong>`
      : h` <a href="/?page=${n}">${n}</a>`;
  });
  return h`\n<nav id="pages">page ${page} of ${pages}:${links}</nav>`;
}

function timeElement(iso: string | null, format: (iso: string) => string, id = ""): Html {
  const idAttribute = id === "" ? "" : h` id="${id}"`;
  if (iso === null) return h`<time${idAttribute}>—</time>`;
  return h`<time${idAttribute} datetime="${iso}">${format(iso)}</time>`;
}

function quoteRow(token: number, quote: InstrumentQuote | undefined): Html {
  const name = h`<th scope="row" class="name">${quote?.name ?? instrumentName(token)}</th>`;
  if (quote === undefined) {
    const empty = h`<td class="price num">—</td><td class="change num"></td>`;
    return h`<tr data-token="${token}">${name}${empty}<td class="at"><time></time></td></tr>`;
  }
  const sign = quote.change > 0 ? "up" : quote.change < 0 ? "down" : "flat";
  const price = h`<td class="price num">${formatPrice(quote.last_price)}</td>`;
  const change = h`<td class="change num" data-sign="${sign}">${
    formatChange(quote.change, quote.change_percent)
  }</td>`;
  const at = h`<td class="at">${timeElement(quote.at, formatIstTime)}</td>`;
  return h`<tr data-token="${token}">${name}${price}${change}${at}</tr>`;
}

/**
 * The status page at `/`: a state badge, since when and why, the token's expiry and a
 * countdown, a login button when one is needed, and the instruments' last prices. Rendered
 * complete on the server; `/assets/page.js` then follows `/stream` to keep it current.
 * Stable hooks: `#state` (also `data-state`), `#since`, `#reason`, `#expiry`, `#countdown`,
 * `#login`, `#conn`, and a row `[data-token="<token>"]` with `.price`, `.change`, `.at`.
 * The table is paged ({@linkcode PAGE_ROWS} rows, `#pages` links to `/?page=N`) so that a
 * request costs a few milliseconds of event loop however many instruments there are.
 */
export function statusPage(status: StatusBody, options: StatusPageOptions = {}): string {
  const { instruments = DEFAULT_INSTRUMENTS, now = Date.now(), pageRows = PAGE_ROWS } = options;
  const quotes = status.feed.instruments;
  const tokens = [...new Set([...instruments, ...Object.keys(quotes).map(Number)])];
  const pages = Math.max(1, Math.ceil(tokens.length / pageRows));
  const page = Math.min(Math.max(1, Math.trunc(options.page ?? 1)), pages);
  const shown = tokens.slice((page - 1) * pageRows, page * pageRows);
  // A paged table takes live prices for its own rows only; one page shows every instrument.
  const paged = pages > 1 ? h` data-paged=""` : "";
  const rows = shown.map((token, index) =>
    h`${index === 0 ? "" : "\n"}${quoteRow(token, quotes[token])}`
  );
  const expiry = status.token?.expected_expiry ?? null;
  const countdown = formatExpiry({ state: status.state, expected_expiry: expiry }, now);
  const hidden = status.login_needed ? "" : " hidden";
  const state = status.state;
  return layout(
    `kitekeeper: ${status.state}`,
    h`<header><h1>kitekeeper</h1>
<span id="state" class="badge" data-state="${state}">${state}</span></header>
<p class="meta">since ${timeElement(status.since, formatIstDateTime, "since")}
· <span id="reason">${status.reason}</span></p>
<p class="meta">token expires ${timeElement(expiry, formatIstDateTime, "expiry")}
· <span id="countdown">${countdown}</span></p>
<p><a id="login" class="button" href="/api/auth/login"${hidden}>Log in to Kite</a></p>
<table id="quotes" data-state="${state}"${paged}><thead><tr><th>instrument</th><th class="num">last</th><th class="num">change</th>
<th>at (IST)</th></tr></thead>
<tbody id="quotes-body">
${rows}
</tbody></table>${pageLinks(page, pages)}
<footer><span id="conn" data-conn="none">as of page load</span>
· <a href="/status">/status</a> · <a href="/quotes">/quotes</a></footer>`,
    { script: "/assets/page.js" },
  );
}

/** The page a refused callback shows: what was wrong, and the way back. */
export function refusalPage(message: string): string {
  return layout(
    "kitekeeper: login refused",
    h`<h1>Login refused</h1><p id="error">${message}</p>
<p>.env was not changed. <a href="/api/auth/login">Log in again</a></p>`,
  );
}
