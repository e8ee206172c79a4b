/**
 * The plain HTML pages: the status page at `/` and the page a refused login shows.
 *
 * @module
 */
import type { StatusBody } from "../status_body.ts";

/** Escapes text for HTML element content and attribute values. */
export function escapeHtml(text: string): string {
  return text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

function layout(title: string, body: string): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem}
.badge{display:inline-block;padding:.1rem .6rem;border-radius:.4rem;color:#fff;background:#888}
.Live{background:#1a7f37}.Expired{background:#cf222e}.Reconnecting{background:#bf8700}
table{border-collapse:collapse}td,th{padding:.2rem .8rem;text-align:left}</style>
</head><body>${body}</body></html>`;
}

/** The status page: state, since, reason, the feed, and a login link when not Live. */
export function statusPage(status: StatusBody): string {
  const rows = Object.entries(status.feed.instruments).map(([token, quote]) =>
    `<tr><td>${escapeHtml(quote.name)}</td><td>${escapeHtml(token)}</td>` +
    `<td>${quote.last_price.toFixed(2)}</td><td>${quote.change.toFixed(2)}</td>` +
    `<td>${escapeHtml(quote.at)}</td></tr>`
  ).join("");
  const login = status.state === "Live" && !status.login_needed
    ? ""
    : `<p><a id="login" href="/api/auth/login">Log in to Kite</a></p>`;
  return layout(
    `kitekeeper: ${status.state}`,
    `<h1>kitekeeper <span class="badge ${status.state}" id="state">${status.state}</span></h1>
<p>since <time id="since">${escapeHtml(status.since)}</time>: ${escapeHtml(status.reason)}</p>
${login}
<table><thead><tr><th>instrument</th><th>token</th><th>last</th><th>change</th><th>at</th></tr>
</thead><tbody>${rows}</tbody></table>`,
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
