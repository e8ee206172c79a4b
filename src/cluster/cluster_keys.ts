/**
 * The Redis keys of one cluster, all under `kitekeeper:<cluster>:`: what other programs may
 * read (ticks, last, events) and what only nodes use (lease, fence, token, state).
 *
 * @module
 */
import { CLUSTER_NAME } from "../config.ts";

/** Every key and channel one cluster uses. */
export interface ClusterKeys {
  /** The lease: `{"node":…,"fence":n}` with a TTL; only its holder opens upstream. */
  readonly lease: string;
  /** The fencing counter, `INCR`ed on every acquisition. */
  readonly fence: string;
  /** The access token, sealed with AES-GCM, with a TTL to its expected expiry. */
  readonly token: string;
  /** The tick stream (`XADD … MAXLEN ~`). */
  readonly ticks: string;
  /** A hash: instrument token → the last tick's stream fields, joined by `\x1f`. */
  readonly last: string;
  /** Pub/sub channel: state changes, gaps, token and subscription notices (JSON). */
  readonly events: string;
  /** The holder's latest feed state (JSON), for standbys' `/status`. */
  readonly state: string;
  /** A hash: node → the instruments its local programs want (JSON), for the holder. */
  readonly wants: string;
  /** Prefix of the login-state nonces: issued on one node, consumable once on any. */
  readonly loginNonce: string;
}

/** Checks a cluster name (`KITEKEEPER_CLUSTER`); throws a one-line `TypeError`. */
export function checkClusterName(name: string): void {
  if (!CLUSTER_NAME.test(name)) {
    throw new TypeError(
      "Invalid KITEKEEPER_CLUSTER: use 1-64 letters, digits, '.', '_' or '-'",
    );
  }
}

/** The keys of cluster `name`, e.g. `kitekeeper:prod:ticks`. */
export function clusterKeys(name: string): ClusterKeys {
  checkClusterName(name);
  const prefix = `kitekeeper:${name}:`;
  return Object.freeze({
    lease: `${prefix}lease`,
    fence: `${prefix}fence`,
    token: `${prefix}token`,
    ticks: `${prefix}ticks`,
    last: `${prefix}last`,
    events: `${prefix}events`,
    state: `${prefix}state`,
    wants: `${prefix}wants`,
    loginNonce: `${prefix}login:`,
  });
}
