/**
 * What the nodes' local programs want upstream, as one set for the holder: each node shares
 * its wanted instruments (token → mode) in Redis; the holder subscribes the union, each
 * instrument at the highest mode any node wants. Pure.
 *
 * @module
 */
import type { Mode } from "../kite/packets.ts";
import type { ShardPlan } from "../lifecycle/machine.ts";

const RANK: Readonly<Record<Mode, number>> = { ltp: 0, quote: 1, full: 2 };

/** One node's entry in the hash `…:wants`: when it wrote it and what it wants. */
export interface NodeWants {
  /** Epoch ms; an entry not refreshed for a while belongs to a node that is gone. */
  readonly at: number;
  readonly wants: ReadonlyMap<number, Mode>;
}

/** Every instrument of `plan`'s shards, with its mode. */
export function wantedOf(plan: readonly ShardPlan[]): Map<number, Mode> {
  const wanted = new Map<number, Mode>();
  for (const shard of plan) for (const [token, mode] of shard.instruments) wanted.set(token, mode);
  return wanted;
}

/** The union of `sets`, each instrument at the highest mode any of them wants. */
export function unionWanted(sets: Iterable<ReadonlyMap<number, Mode>>): Map<number, Mode> {
  const union = new Map<number, Mode>();
  for (const set of sets) {
    for (const [token, mode] of set) {
      const had = union.get(token);
      if (had === undefined || RANK[mode] > RANK[had]) union.set(token, mode);
    }
  }
  return union;
}

/** The hash value for `wants`: `{"at":…,"wants":[[token,mode],…]}`. */
export function formatWants(wants: ReadonlyMap<number, Mode>, at: number): string {
  return JSON.stringify({ at, wants: [...wants] });
}

/** Reads a hash value back; `null` for anything malformed. */
export function parseWants(text: string): NodeWants | null {
  try {
    const value = JSON.parse(text) as { at?: unknown; wants?: unknown };
    if (typeof value.at !== "number" || !Array.isArray(value.wants)) return null;
    const wants = new Map<number, Mode>();
    for (const pair of value.wants) {
      if (!Array.isArray(pair) || !Number.isInteger(pair[0])) return null;
      if (!(pair[1] in RANK)) return null;
      wants.set(pair[0], pair[1] as Mode);
    }
    return { at: value.at, wants };
  } catch {
    return null;
  }
}
