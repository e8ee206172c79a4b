/**
 * One access token for the cluster: a node that gets a new token (a login, a hand edit of its
 * `.env`) publishes it sealed into Redis with a TTL to its expected expiry and announces its
 * fingerprint on the events channel; every node fetches, opens and hands it on (the caller
 * writes its own `.env` and tells its lifecycle). Followers also re-read the key now and then,
 * so an announcement missed while disconnected is caught up. Neither the channel nor a log
 * line ever carries the token: fingerprints only.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { Logger } from "../log.ts";
import { fingerprint } from "../token/fingerprint.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { RedisLink } from "./redis_link.ts";
import { openToken, sealToken } from "./token_seal.ts";

/** Options of {@linkcode shareToken}. */
export interface SharedTokenOptions {
  readonly keys: ClusterKeys;
  /** The AES-GCM key every node derives from the api secret. */
  readonly tokenKey: CryptoKey;
  /** This node's name, for the announcement. */
  readonly node: string;
  readonly clock: Clock;
  readonly log: Logger;
  /** A token another node published (or one already in Redis at start); must not throw. */
  readonly onToken: (token: string, fingerprint: string) => void;
  /** How often followers re-read the key; default 5 s. */
  readonly pollMs?: number;
}

/** What {@linkcode SharedToken.publish} did. */
export type PublishResult = "published" | "unchanged" | "expired";

/** A node's part in the shared token. */
export interface SharedToken {
  /**
   * Publishes `token` until `expiresAt` (ms since the epoch). Skips the token this node last
   * saw in Redis (its own echo, or one it was handed) and one already expired. Rejects when
   * Redis does not take it.
   */
  publish(token: string, options: { expiresAt: number }): Promise<PublishResult>;
  /** Reads the key now and hands on a token not seen yet. */
  refresh(): Promise<void>;
  /** Stops following. */
  stop(): void;
}

/** An announcement on the events channel. */
interface TokenNotice {
  readonly type: "token";
  readonly node: string;
  readonly fingerprint: string;
}

function parseNotice(message: string): TokenNotice | null {
  try {
    const value = JSON.parse(message) as Partial<TokenNotice>;
    return value.type === "token" && typeof value.fingerprint === "string"
      ? value as TokenNotice
      : null;
  } catch {
    return null;
  }
}

/** Starts following the cluster's token; resolves after the first read of the key. */
export async function shareToken(
  link: RedisLink,
  options: SharedTokenOptions,
): Promise<SharedToken> {
  const { keys, clock, log } = options;
  const seal = { key: options.tokenKey, keyName: keys.token };
  const pollMs = options.pollMs ?? 5_000;
  // The fingerprint of the token this node last saw in Redis or published.
  let known: string | null = null;
  let stopped = false;
  let timer: TimerId | undefined;
  let unreadableLogged = false;
  // What this node published last: put back if Redis comes back without it (a restart).
  let mine: { token: string; expiresAt: number; print: string } | null = null;

  async function refresh(): Promise<void> {
    const sealed = await link.send(["GET", keys.token]);
    if (sealed === null && mine !== null && mine.expiresAt > clock.now()) {
      await put(mine.token, { expiresAt: mine.expiresAt, print: mine.print });
      return;
    }
    if (typeof sealed !== "string") return;
    const token = await openToken(sealed, seal);
    if (token === null) {
      if (!unreadableLogged) {
        log("warn", `The cluster token in ${keys.token} does not open with our KITE_API_SECRET`);
      }
      unreadableLogged = true;
      return;
    }
    unreadableLogged = false;
    const print = fingerprint(token);
    if (print === known || stopped) return;
    known = print;
    mine = null; // Another node's is newer than ours.
    log("info", `Cluster token ${print} taken from Redis`);
    options.onToken(token, print);
  }

  /** Seals `token` into Redis until `expiresAt` and announces its fingerprint. */
  async function put(
    token: string,
    put: { expiresAt: number; print: string },
  ): Promise<void> {
    const ttlMs = Math.ceil(put.expiresAt - clock.now());
    if (ttlMs <= 0) return;
    const sealed = await sealToken(token, seal);
    await link.send(["SET", keys.token, sealed, "PX", String(ttlMs)]);
    known = put.print;
    mine = { token, expiresAt: put.expiresAt, print: put.print };
    const notice: TokenNotice = { type: "token", node: options.node, fingerprint: put.print };
    await link.send(["PUBLISH", keys.events, JSON.stringify(notice)]);
  }

  function poll(): void {
    timer = clock.setTimeout(() => {
      refresh().catch(() => {}).finally(() => {
        if (!stopped) poll();
      });
    }, pollMs);
  }

  await link.subscribe(keys.events, (message) => {
    const notice = parseNotice(message);
    if (notice === null || notice.fingerprint === known) return;
    refresh().catch((error: unknown) => {
      log(
        "warn",
        `Failed to read the cluster token: ${error instanceof Error ? error.message : error}`,
      );
    });
  });
  await refresh();
  poll();

  return {
    async publish(token, publishOptions) {
      const print = fingerprint(token);
      if (print === known) return "unchanged";
      if (publishOptions.expiresAt <= clock.now()) return "expired";
      await put(token, { expiresAt: publishOptions.expiresAt, print });
      log("info", `Cluster token ${print} published to Redis`);
      return "published";
    },
    refresh,
    stop() {
      stopped = true;
      if (timer !== undefined) clock.clearTimeout(timer);
    },
  };
}
