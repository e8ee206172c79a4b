/**
 * How the page writes prices, changes, times and the expiry countdown. The server renders
 * the first values with these functions, and `page_assets.ts` ships the very same functions
 * (their source text) to the browser for the live updates, so both always agree. Each one is
 * therefore self-contained: no imports, no module-level values, and no calls but to each
 * other (all of them are shipped). Each keeps its `Intl` formatter on itself, made on first
 * use: building one per call (what `toLocaleString` with options does) cost 0.1 ms a value,
 * 1.5 s for a page of 3000 instruments, all of it blocking the event loop.
 *
 * @module
 */

/** A price with Indian digit grouping and two decimals, e.g. `1,24,012.30`. */
export function formatPrice(value: number): string {
  const self = formatPrice as { format?: Intl.NumberFormat };
  self.format ??= new Intl.NumberFormat("en-IN", {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
  });
  return self.format.format(value);
}

/** A change and its percentage, signed: `+12.30 (+0.05%)`. */
export function formatChange(change: number, percent: number): string {
  const self = formatChange as { format?: Intl.NumberFormat };
  self.format ??= new Intl.NumberFormat("en-IN", {
    minimumFractionDigits: 2,
    maximumFractionDigits: 2,
    signDisplay: "exceptZero",
  });
  return `${self.format.format(change)} (${self.format.format(percent)}%)`;
}

/** The time of day in India (IST), e.g. `09:15:02`. */
export function formatIstTime(iso: string): string {
  const self = formatIstTime as { format?: Intl.DateTimeFormat };
  // The fields toLocaleTimeString() shows by default.
  self.format ??= new Intl.DateTimeFormat("en-IN", {
    timeZone: "Asia/Kolkata",
    hourCycle: "h23",
    hour: "numeric",
    minute: "2-digit",
    second: "2-digit",
  });
  return self.format.format(new Date(iso));
}

/** A date and time in India (IST), e.g. `13 Jul, 06:00:00 IST`. */
export function formatIstDateTime(iso: string): string {
  const self = formatIstDateTime as { format?: Intl.DateTimeFormat };
  self.format ??= new Intl.DateTimeFormat("en-IN", {
    timeZone: "Asia/Kolkata",
    day: "numeric",
    month: "short",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
    hourCycle: "h23",
  });
  return `${self.format.format(new Date(iso))} IST`;
}

/** Time left until an expiry `ms` milliseconds away: `in 5 h 03 min 09 s`, or `passed`. */
export function formatCountdown(ms: number): string {
  if (!(ms > 0)) return "passed";
  const total = Math.floor(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, "0");
  if (hours > 0) return `in ${hours} h ${String(minutes).padStart(2, "0")} min ${seconds} s`;
  if (minutes > 0) return `in ${minutes} min ${seconds} s`;
  return `in ${total % 60} s`;
}

/**
 * The countdown shown for `summary` (a /stream state, or the same two fields of /status) at
 * `now`: `—` without a token, `expired` once Kite refused it, else {@linkcode formatCountdown}.
 */
export function formatExpiry(
  summary: { readonly state: string; readonly expected_expiry: string | null },
  now: number,
): string {
  if (summary.expected_expiry === null) return "—";
  if (summary.state === "Expired") return "expired";
  return formatCountdown(Date.parse(summary.expected_expiry) - now);
}
