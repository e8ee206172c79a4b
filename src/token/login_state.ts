/**
 * The `state` carried through Kite's login: HMAC-signed under a per-process random key,
 * single use, and short-lived, so a callback nobody started here is refused.
 *
 * Issuing stores nothing (the signature and the time in the state are the record), so a
 * flood of `GET /api/auth/login` costs no memory; only states that come back are kept, until
 * they expire, to refuse a second use: a bounded cache, pruned from its oldest end.
 *
 * @module
 */
import { Buffer } from "node:buffer";

/** Why a state was refused, or `ok`. */
export type StateCheck = "ok" | "missing" | "forged" | "expired" | "reused";

/** Issues and checks login states; one per process, the key never leaves it. */
export interface LoginStates {
  /** A fresh state: `nonce.issuedAtMs.hmac`. */
  issue(): Promise<string>;
  /** Checks and consumes `state`; a second call with the same state says `reused`. */
  consume(state: string | undefined): Promise<StateCheck>;
}

const encoder = new TextEncoder();

function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

function fromHex(text: string): Uint8Array<ArrayBuffer> | null {
  return /^(?:[0-9a-f]{2})+$/.test(text) ? new Uint8Array(Buffer.from(text, "hex")) : null;
}

/**
 * Creates the login-state issuer. `now` is injected so expiry is testable without waiting.
 *
 * @example
 * ```ts
 * const states = await createLoginStates();
 * const state = await states.issue();
 * await states.consume(state); // "ok"
 * ```
 */
export async function createLoginStates(
  options: {
    now?: () => number;
    ttlMs?: number;
    key?: CryptoKey;
    /**
     * Used states remembered at most (default 10 000); past it the oldest use is forgotten.
     * With logins rate-limited, as the daemon's route is, it is never reached.
     */
    maxUsed?: number;
  } = {},
): Promise<LoginStates> {
  const now = options.now ?? Date.now;
  const ttlMs = options.ttlMs ?? 10 * 60_000;
  // A cluster passes a key every node derives alike, so any node can check the signature.
  const key = options.key ?? await crypto.subtle.generateKey(
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign", "verify"],
  );
  const maxUsed = options.maxUsed ?? 10_000;
  // Nonces already used → their expiry (ms), oldest use first.
  const used = new Map<string, number>();

  /** Drops expired uses from the oldest end: O(1) amortized, never a walk of the whole map. */
  function prune(at: number): void {
    for (const [nonce, expiresAt] of used) {
      if (expiresAt > at && used.size < maxUsed) return;
      used.delete(nonce);
    }
  }

  return {
    async issue() {
      const at = now();
      const nonce = toHex(crypto.getRandomValues(new Uint8Array(16)));
      const payload = `${nonce}.${at}`;
      const mac = new Uint8Array(await crypto.subtle.sign("HMAC", key, encoder.encode(payload)));
      return `${payload}.${toHex(mac)}`;
    },
    async consume(state) {
      if (state === undefined || state === "") return "missing";
      const [nonce, issuedAt, macHex, extra] = state.split(".");
      const mac = fromHex(macHex ?? "");
      if (nonce === undefined || issuedAt === undefined || mac === null || extra !== undefined) {
        return "forged";
      }
      // crypto.subtle.verify compares in constant time.
      const genuine = await crypto.subtle.verify(
        "HMAC",
        key,
        mac,
        encoder.encode(`${nonce}.${issuedAt}`),
      );
      if (!genuine) return "forged";
      const at = now();
      const issued = Number(issuedAt);
      if (!(at - issued < ttlMs)) return "expired";
      if (used.has(nonce)) return "reused";
      prune(at);
      used.set(nonce, issued + ttlMs);
      return "ok";
    },
  };
}
