/**
 * Tells the operator to log in, over a webhook: when the lifecycle says a login is needed
 * (the actor's `notify` port: the token died, or none is usable) and when it reminds (the
 * machine's reminders before pre-open, on trading days). A warning before the token's
 * expected expiry is useless (a login then yields a session that dies at the expiry), so
 * there is none. Formats: a JSON event, ntfy, Telegram's Bot API `sendMessage`, a Slack
 * incoming webhook.
 *
 * Delivery never holds up the lifecycle: `loginNeeded()` only queues (a bounded queue, the
 * oldest message dropped when full), one worker sends, every attempt has a time limit, and
 * failures are retried with exponential backoff and full jitter. The webhook URL often holds
 * a secret (a bot token, a Slack hook path, a private ntfy topic), so logs name only its
 * origin.
 *
 * @module
 */
import { type Clock, systemClock, type TimerId } from "../clock.ts";
import type { NotifyTarget } from "../config.ts";
import type { Actor } from "../lifecycle/actor.ts";
import { backoffDelay } from "../lifecycle/backoff.ts";
import type { Snapshot, StateName } from "../lifecycle/machine.ts";
import type { Logger } from "../log.ts";

/** What happened: a login is needed now, a reminder that it still is, or `.env` is stale. */
export type NotificationEvent =
  | "login_needed"
  | "login_reminder"
  | "env_stale"
  | "journal_stopped";

/** One message to the operator. */
export interface Notification {
  readonly event: NotificationEvent;
  /** Why, in words, e.g. `token expired`. */
  readonly reason: string;
  /** Where to log in. */
  readonly loginUrl: string;
  /** The lifecycle state when it was raised. */
  readonly state: StateName;
  /** Epoch ms it was raised. */
  readonly at: number;
}

/** A ready-to-send HTTP request. */
export interface NotificationRequest {
  readonly url: string;
  readonly method: "POST";
  readonly headers: Readonly<Record<string, string>>;
  readonly body: string;
}

/** Options of {@linkcode createNotifier}. */
export interface NotifierOptions {
  /** The lifecycle: its snapshot gives each message the state it was raised in. */
  readonly lifecycle: Pick<Actor, "snapshot" | "subscribe">;
  /** Where a browser starts a login (read when a message is raised). */
  loginUrl(): string;
  /** Timers for retry delays and time limits; defaults to the system's. */
  readonly clock?: Clock;
  readonly log?: Logger;
  /** Attempts per message, the first included; default 4. */
  readonly attempts?: number;
  /** Ceiling of the first retry delay (doubling after); default 1 000 ms. */
  readonly backoffBaseMs?: number;
  /** Largest retry delay ceiling; default 30 000 ms. */
  readonly backoffCapMs?: number;
  /** Time limit of one attempt; default 10 000 ms. */
  readonly timeoutMs?: number;
  /** Messages waiting beyond the one being sent; default 16. */
  readonly queueLimit?: number;
  /** Uniform in [0, 1), for backoff jitter; default `Math.random`. */
  readonly random?: () => number;
}

/** Sends notifications in the background. */
export interface Notifier extends AsyncDisposable {
  /** Queues a `login_needed` message for `reason`; returns at once. */
  loginNeeded(reason: string): void;
  /**
   * Queues an `env_stale` message: the feed runs on a session `.env` does not hold (its write
   * failed for `reason`), so a restart would go back to the old token. Returns at once.
   */
  envStale(reason: string): void;
  /**
   * Queues a `journal_stopped` message: journaling stopped for `reason` (a write error, a full
   * disk, a foreign file) while the feed goes on. Returns at once.
   */
  journalStopped(reason: string): void;
  /** Queues a `login_reminder` message for `reason`; returns at once. */
  reminder(reason: string): void;
  /** Resolves once nothing is queued or being sent. */
  settled(): Promise<void>;
  /** Drops what is queued and aborts what is in flight. */
  close(): Promise<void>;
}

type Outcome =
  | { readonly kind: "sent" }
  | { readonly kind: "retry" | "give_up"; readonly detail: string };

const TITLES: Readonly<Record<NotificationEvent, string>> = {
  login_needed: "kitekeeper: login needed",
  login_reminder: "kitekeeper: log in before the market opens",
  env_stale: "kitekeeper: .env is stale",
  journal_stopped: "kitekeeper: journal stopped",
};

function describe(error: unknown): string {
  if (error instanceof DOMException && error.name === "AbortError") return "aborted";
  return error instanceof Error ? error.message : String(error);
}

function messageText(notification: Notification): string {
  return `${TITLES[notification.event]}: ${notification.reason}.\nLog in: ${notification.loginUrl}`;
}

/**
 * The HTTP request that delivers `notification` to `target`, in its format. Pure.
 *
 * @example
 * ```ts
 * const request = notificationRequest(notification, { format: "slack", url: hookUrl });
 * await fetch(request.url, request);
 * ```
 */
export function notificationRequest(
  notification: Notification,
  target: NotifyTarget,
): NotificationRequest {
  const json = { "Content-Type": "application/json", "User-Agent": "kitekeeper" };
  switch (target.format) {
    case "json":
      return {
        url: target.url,
        method: "POST",
        headers: json,
        body: JSON.stringify({
          event: notification.event,
          reason: notification.reason,
          login_url: notification.loginUrl,
          state: notification.state,
          at: new Date(notification.at).toISOString(),
        }),
      };
    case "ntfy":
      return {
        url: target.url,
        method: "POST",
        headers: {
          "Content-Type": "text/plain; charset=utf-8",
          "User-Agent": "kitekeeper",
          Title: TITLES[notification.event],
          Tags: notification.event === "login_reminder" ? "alarm_clock,key" : "warning,key",
          Priority: "high",
          Click: notification.loginUrl,
        },
        body: `${notification.reason}. Log in: ${notification.loginUrl}`,
      };
    case "telegram":
      return {
        url: target.url,
        method: "POST",
        headers: json,
        body: JSON.stringify({ chat_id: target.chatId, text: messageText(notification) }),
      };
    case "slack":
      return {
        url: target.url,
        method: "POST",
        headers: json,
        body: JSON.stringify({ text: messageText(notification) }),
      };
  }
}

/** The origin of a webhook URL: all the logs may say of it. */
export function webhookOrigin(url: string): string {
  try {
    return new URL(url).origin;
  } catch {
    return "(an invalid URL)";
  }
}

function pathOf(url: string): string {
  try {
    return new URL(url).pathname;
  } catch {
    return "";
  }
}

/**
 * Starts a notifier for `target`: sends what `loginNeeded()` and `reminder()` queue. Wire
 * them to the actor's `notify` port.
 */
export function createNotifier(target: NotifyTarget, options: NotifierOptions): Notifier {
  const { lifecycle } = options;
  const clock = options.clock ?? systemClock();
  const log: Logger = options.log ?? (() => {});
  const attempts = Math.max(1, options.attempts ?? 4);
  const timeoutMs = options.timeoutMs ?? 10_000;
  const queueLimit = Math.max(1, options.queueLimit ?? 16);
  const random = options.random ?? Math.random;
  const origin = webhookOrigin(target.url);
  const secretParts = [target.url, pathOf(target.url)].filter((part) => part.length > 1);

  const queue: Notification[] = [];
  let worker: Promise<void> | null = null;
  let inFlight: AbortController | null = null;
  let pause: { id: TimerId; resume: () => void } | null = null;
  let closed = false;

  /** Error text from fetch can quote the URL; keep only the origin. */
  function scrub(text: string): string {
    return secretParts.reduce((safe, part) => safe.replaceAll(part, origin), text);
  }

  function raise(event: NotificationEvent, reason: string, snapshot: Snapshot): void {
    if (closed) return;
    if (queue.length >= queueLimit) {
      const dropped = queue.shift();
      log("warn", `Dropped a ${dropped?.event} notification to ${origin}: the queue is full`);
    }
    queue.push({
      event,
      reason,
      loginUrl: options.loginUrl(),
      state: snapshot.state.name,
      at: clock.now(),
    });
    startWorker();
  }

  function startWorker(): void {
    if (worker !== null || closed || queue.length === 0) return;
    worker = drain().finally(() => {
      worker = null;
      startWorker(); // A message queued while the last one finished.
    });
  }

  async function drain(): Promise<void> {
    for (let next = queue.shift(); next && !closed; next = queue.shift()) await deliver(next);
  }

  async function deliver(notification: Notification): Promise<void> {
    const request = notificationRequest(notification, target);
    for (let attempt = 1; !closed; attempt++) {
      const outcome = await send(request);
      if (closed) return;
      if (outcome.kind === "sent") {
        log("info", `Sent the ${notification.event} notification to ${origin}`);
        return;
      }
      if (outcome.kind === "give_up" || attempt >= attempts) {
        log(
          "warn",
          `Failed to send the ${notification.event} notification to ${origin} ` +
            `(attempt ${attempt} of ${attempts}): ${outcome.detail}`,
        );
        return;
      }
      const ms = backoffDelay(attempt, {
        random: random(),
        baseMs: options.backoffBaseMs ?? 1_000,
        capMs: options.backoffCapMs ?? 30_000,
      });
      log(
        "debug",
        `Notification to ${origin} failed (${outcome.detail}); retrying in ${ms} ms`,
      );
      await wait(ms);
    }
  }

  async function send(request: NotificationRequest): Promise<Outcome> {
    const controller = new AbortController();
    inFlight = controller;
    const timer = clock.setTimeout(() => controller.abort(), timeoutMs);
    try {
      const response = await fetch(request.url, {
        method: request.method,
        headers: request.headers,
        body: request.body,
        signal: controller.signal,
        redirect: "error",
      });
      // Read it all within the time limit; nothing in it is needed, and it frees the connection.
      await response.arrayBuffer();
      if (response.ok) return { kind: "sent" };
      const detail = `HTTP ${response.status}`;
      const transient = response.status >= 500 || response.status === 408 ||
        response.status === 429;
      return { kind: transient ? "retry" : "give_up", detail };
    } catch (error: unknown) {
      const detail = controller.signal.aborted && !closed
        ? `no answer within ${timeoutMs} ms`
        : scrub(describe(error));
      return { kind: "retry", detail };
    } finally {
      clock.clearTimeout(timer);
      inFlight = null;
    }
  }

  function wait(ms: number): Promise<void> {
    const { promise, resolve } = Promise.withResolvers<void>();
    const id = clock.setTimeout(() => {
      pause = null;
      resolve();
    }, ms);
    pause = { id, resume: resolve };
    return promise;
  }

  async function close(): Promise<void> {
    closed = true;
    queue.length = 0;
    inFlight?.abort();
    if (pause !== null) {
      clock.clearTimeout(pause.id);
      pause.resume();
      pause = null;
    }
    await worker;
  }

  return {
    loginNeeded(reason) {
      raise("login_needed", reason, lifecycle.snapshot());
    },
    envStale(reason) {
      raise("env_stale", reason, lifecycle.snapshot());
    },
    journalStopped(reason) {
      raise("journal_stopped", reason, lifecycle.snapshot());
    },
    reminder(reason) {
      raise("login_reminder", reason, lifecycle.snapshot());
    },
    async settled() {
      while (worker !== null) await worker;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
