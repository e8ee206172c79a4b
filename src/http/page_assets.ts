/**
 * The page's script and style, served as their own files (`/assets/page.js`,
 * `/assets/page.css`) so the page runs under a CSP with no inline script or style. They are
 * strings in a module rather than files on disk, so a compiled binary carries them and needs
 * no read permission beyond `.env`.
 *
 * @module
 */
import {
  formatChange,
  formatCountdown,
  formatExpiry,
  formatIstDateTime,
  formatIstTime,
  formatPrice,
} from "./page_format.ts";

// Follows /stream and keeps the server-rendered values current. Plain JS for the browser:
// the formatting functions above are prepended by their source, so page and server agree.
const FOLLOW_STREAM = `
(function followStream() {
  const $ = (id) => document.getElementById(id);
  const badge = $("state");
  const since = $("since");
  const reason = $("reason");
  const expiry = $("expiry");
  const countdown = $("countdown");
  const login = $("login");
  const conn = $("conn");
  const quotes = $("quotes");
  const rows = $("quotes-body");
  let shown = {
    state: badge.dataset.state,
    expected_expiry: expiry.getAttribute("datetime"),
  };

  function showCountdown() {
    countdown.textContent = formatExpiry(shown, Date.now());
  }

  function setTime(element, iso, format) {
    element.setAttribute("datetime", iso);
    element.textContent = format(iso);
  }

  function applyState(summary) {
    badge.textContent = summary.state;
    badge.dataset.state = summary.state;
    quotes.dataset.state = summary.state;
    document.title = "kitekeeper: " + summary.state;
    setTime(since, summary.since, formatIstDateTime);
    reason.textContent = summary.reason;
    login.hidden = !summary.login_needed;
    if (summary.expected_expiry === null) {
      expiry.removeAttribute("datetime");
      expiry.textContent = "—";
    } else {
      setTime(expiry, summary.expected_expiry, formatIstDateTime);
    }
    shown = summary;
    showCountdown();
  }

  function cell(tag, className) {
    const element = document.createElement(tag);
    element.className = className;
    return element;
  }

  function rowOf(tick) {
    const found = rows.querySelector('tr[data-token="' + tick.token + '"]');
    if (found) return found;
    // The other pages hold the instruments this one lacks.
    if (quotes.dataset.paged !== undefined) return null;
    const row = document.createElement("tr");
    row.dataset.token = String(tick.token);
    const name = cell("th", "name");
    name.scope = "row";
    name.textContent = tick.name;
    const at = cell("td", "at");
    at.append(document.createElement("time"));
    row.append(name, cell("td", "price num"), cell("td", "change num"), at);
    rows.append(row);
    return row;
  }

  function applyTick(tick) {
    const row = rowOf(tick);
    if (row === null) return;
    row.querySelector(".price").textContent = formatPrice(tick.last_price);
    const change = row.querySelector(".change");
    change.textContent = formatChange(tick.change, tick.change_percent);
    change.dataset.sign = tick.change > 0 ? "up" : tick.change < 0 ? "down" : "flat";
    setTime(row.querySelector(".at time"), tick.at, formatIstTime);
  }

  const source = new EventSource("/stream");
  source.addEventListener("state", (event) => applyState(JSON.parse(event.data)));
  source.addEventListener("tick", (event) => applyTick(JSON.parse(event.data)));
  source.addEventListener("open", () => {
    conn.dataset.conn = "open";
    conn.textContent = "updating live";
  });
  source.addEventListener("error", () => {
    conn.dataset.conn = "lost";
    conn.textContent = "lost contact with kitekeeper; retrying";
  });
  setInterval(showCountdown, 1000);
})();
`;

/** `/assets/page.js`: the formatting functions, then the code that follows `/stream`. */
export const PAGE_SCRIPT: string = [
  '"use strict";',
  ...[formatPrice, formatChange, formatIstTime, formatIstDateTime, formatCountdown, formatExpiry]
    .map(String),
  FOLLOW_STREAM.trimStart(),
].join("\n");

/** `/assets/page.css`: the style of the status page and the refusal page. */
export const PAGE_STYLE: string = `
:root{color-scheme:light dark;--fg:#1f2328;--muted:#59636e;--line:#d1d9e0;--bg:#fff;
--live:#1a7f37;--expired:#cf222e;--reconnecting:#9a6700;--disconnected:#59636e}
@media (prefers-color-scheme:dark){:root{--fg:#e6edf3;--muted:#9198a1;--line:#3d444d;
--bg:#0d1117}}
[hidden]{display:none!important}
body{font:16px/1.5 system-ui,sans-serif;color:var(--fg);background:var(--bg);max-width:44rem;
margin:2rem auto;padding:0 1rem}
header{display:flex;align-items:center;gap:.8rem}
h1{font-size:1.6rem;margin:0}
.badge{display:inline-block;padding:.1rem .7rem;border-radius:1rem;color:#fff;font-weight:600;
background:var(--disconnected)}
.badge[data-state=Live]{background:var(--live)}
.badge[data-state=Expired]{background:var(--expired)}
.badge[data-state=Reconnecting]{background:var(--reconnecting)}
.meta{color:var(--muted);margin:.3rem 0}
.meta time,.meta span{color:var(--fg)}
.button{display:inline-block;margin:.6rem 0;padding:.5rem 1.2rem;border-radius:.4rem;
background:#0969da;color:#fff;font-weight:600;text-decoration:none}
.button:hover,.button:focus{background:#0550ae}
table{border-collapse:collapse;width:100%;margin-top:1rem}
th,td{padding:.35rem .6rem;text-align:left;border-bottom:1px solid var(--line)}
thead th{color:var(--muted);font-weight:500}
.num{text-align:right;font-variant-numeric:tabular-nums}
.price{font-weight:600}
#quotes:not([data-state=Live]) .price{color:var(--muted);font-weight:400}
.change[data-sign=up]{color:var(--live)}
.change[data-sign=down]{color:var(--expired)}
.at{color:var(--muted);font-variant-numeric:tabular-nums}
footer{margin-top:1.5rem;color:var(--muted);font-size:.9rem}
#conn[data-conn=lost]{color:var(--expired)}
`.trimStart();
