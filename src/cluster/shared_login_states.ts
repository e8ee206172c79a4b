/**
 * Login states any node of the cluster accepts: signed with the key every node derives from
 * the api secret, and single use across nodes through Redis (the callback may land on either
 * node behind a proxy). Wraps a node's own {@linkcode LoginStates}, which checks signature and
 * age; Redis only says whether the nonce is still unused.
 *
 * @module
 */
import type { LoginStates } from "../token/login_state.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { RedisLink } from "./redis_link.ts";

function nonceOf(state: string): string {
  return state.split(".")[0] ?? "";
}

/**
 * Shares `local`'s states through Redis. `local` must be made with the cluster's state key
 * (`createLoginStates({ key })`) and the same `ttlMs`.
 */
export function shareLoginStates(
  local: LoginStates,
  link: RedisLink,
  options: { keys: ClusterKeys; ttlMs?: number; now?: () => number },
): LoginStates {
  const ttlMs = options.ttlMs ?? 10 * 60_000;
  const now = options.now ?? Date.now;
  // Nonces this node issued (→ expiry): their absence in Redis means another node used them.
  const registered = new Map<string, number>();

  async function takeNonce(nonce: string): Promise<number | null> {
    try {
      return Number(await link.send(["DEL", `${options.keys.loginNonce}${nonce}`]));
    } catch {
      return null; // Redis out of reach: this node's own record decides.
    }
  }

  return {
    async issue() {
      const state = await local.issue();
      const nonce = nonceOf(state);
      const at = now();
      // Insertion order is expiry order (one ttl): stop at the first live one, O(1) amortized.
      for (const [old, expiresAt] of registered) {
        if (expiresAt > at) break;
        registered.delete(old);
      }
      registered.set(nonce, at + ttlMs);
      try {
        await link.send(["SET", `${options.keys.loginNonce}${nonce}`, "1", "PX", String(ttlMs)]);
      } catch {
        // Redis out of reach: the state still works on this node.
      }
      return state;
    },
    async consume(state) {
      // The local check keeps nothing per issue: "ok" is genuine, fresh and not used here.
      const verdict = await local.consume(state);
      if (state === undefined || verdict !== "ok") return verdict;
      const nonce = nonceOf(state);
      const ours = registered.delete(nonce);
      const taken = await takeNonce(nonce);
      // Issued here: used elsewhere first if Redis no longer has it.
      if (ours) return taken === 0 ? "reused" : "ok";
      // Genuine and fresh but not issued here: another node issued it; first use takes it.
      return taken === 1 ? "ok" : "reused";
    },
  };
}
