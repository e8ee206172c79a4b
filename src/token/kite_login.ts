/**
 * Both ends of Kite's login as the daemon runs them: the login URL carrying a fresh signed
 * state, and the callback, which exchanges the request_token, hands the token to the
 * lifecycle and writes it into `.env`.
 *
 * @module
 */
import type { Clock } from "../clock.ts";
import { buildLoginUrl, exchangeRequestToken, invalidateToken } from "../kite/session.ts";
import type { Event } from "../lifecycle/machine.ts";
import type { Logger } from "../log.ts";
import { writeToken } from "./env_file.ts";
import { fingerprint } from "./fingerprint.ts";
import { type CallbackOutcome, type CallbackQuery, completeLogin } from "./login_flow.ts";
import type { LoginStates } from "./login_state.ts";

/** The settings the login needs; a `Config` has them all. */
export interface KiteLoginSettings {
  /** Kite's login page. */
  readonly loginUrl: string;
  readonly apiKey: string;
  /** Secret: never log it. */
  readonly apiSecret: string;
  readonly apiRoot: string;
  /** Where the new token is written (under the key the file uses at that moment). */
  readonly envFile: string;
  /** `KITEKEEPER_ENV_MAX_BYTES`. */
  readonly envMaxBytes: number;
  /** When set, a session of another user is refused and invalidated. */
  readonly userId?: string | undefined;
  readonly tokenPattern: RegExp;
}

/** Options of {@linkcode createKiteLogin}. */
export interface KiteLoginOptions {
  readonly states: LoginStates;
  readonly clock: Clock;
  readonly log: Logger;
  /** Delivers the new token to the lifecycle (the actor's `send`). */
  send(event: Event): void;
  /** Called after the token was written, so the `.env` watcher reports the next read. */
  written(): void;
  /**
   * Called when the token could not be written (`detail` says why): the session is used all
   * the same, and the operator must hear that `.env` is stale.
   */
  writeFailed(token: string, detail: string): void;
}

/** The two login routes' handlers. */
export interface KiteLogin {
  /** Kite's login URL carrying a fresh login state. */
  loginUrl(): Promise<string>;
  /** Runs the callback; never rejects. */
  callback(query: CallbackQuery): Promise<CallbackOutcome>;
}

/** Creates the login for `settings`. */
export function createKiteLogin(settings: KiteLoginSettings, options: KiteLoginOptions): KiteLogin {
  const { states, clock, log, send } = options;
  const endpoint = { apiRoot: settings.apiRoot, apiKey: settings.apiKey };
  return {
    async loginUrl() {
      return buildLoginUrl(settings.loginUrl, settings.apiKey, {
        redirectParams: { state: await states.issue() },
      });
    },
    callback: (query) =>
      completeLogin(query, {
        consumeState: (state) => states.consume(state),
        exchange: (requestToken) =>
          exchangeRequestToken(requestToken, {
            ...endpoint,
            apiSecret: settings.apiSecret,
            now: () => clock.now(),
          }),
        invalidate: (token) => invalidateToken(token, endpoint),
        deliver(session) {
          send({
            type: "TokenLoaded",
            token: session.accessToken,
            fingerprint: fingerprint(session.accessToken),
            source: "callback",
            issuedAt: session.loginTime,
          });
        },
        async persist(session) {
          const token = session.accessToken;
          const done = `Login completed for ${session.userId}; token ${fingerprint(token)}`;
          try {
            await writeToken(settings.envFile, token, { maxBytes: settings.envMaxBytes });
          } catch (error: unknown) {
            options.writeFailed(token, error instanceof Error ? error.message : String(error));
            log("info", `${done} NOT written to .env`);
            throw error;
          }
          // A restore of the bytes the watcher last read must not go unnoticed now.
          options.written();
          log("info", `${done} written to .env`);
        },
        pinnedUserId: settings.userId,
        tokenPattern: settings.tokenPattern,
        warn: (message) => log("warn", message),
      }),
  };
}
