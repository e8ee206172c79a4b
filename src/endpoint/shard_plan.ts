/**
 * Spreads the instruments kitekeeper wants over Kite's upstream sockets: at most
 * {@linkcode MAX_SHARDS} sockets of at most {@linkcode MAX_SHARD_INSTRUMENTS} instruments each (Kite's
 * limits for one api_key). Pure.
 *
 * The plan is stable, so a change of subscriptions moves nothing that is already streaming:
 * an instrument stays on the shard it is on for as long as it is wanted; a new one goes to the
 * least-loaded shard that has room, and a new shard opens only when every open one is full.
 * A shard whose last instrument left stays in the plan (empty) while a later one is in use,
 * so shard indices never shift; trailing empty shards are dropped, but shard 0 always stays
 * (its socket carries Kite's order updates even with nothing subscribed).
 *
 * @module
 */
import type { Mode } from "../kite/packets.ts";
import { MAX_SHARD_INSTRUMENTS, MAX_SHARDS, type ShardPlan } from "../lifecycle/machine.ts";

export type { ShardPlan };

/** Options of {@linkcode planShards}; the defaults are Kite's limits. */
export interface PlanOptions {
  readonly maxShards?: number;
  readonly perShard?: number;
}

/**
 * The plan for `wanted` (token → mode), keeping every instrument of `previous` that is still
 * wanted on its shard, in the mode wanted now.
 *
 * @throws {RangeError} when `wanted` holds more instruments than the shards can.
 */
export function planShards(
  previous: readonly ShardPlan[],
  wanted: ReadonlyMap<number, Mode>,
  options: PlanOptions = {},
): ShardPlan[] {
  const maxShards = options.maxShards ?? MAX_SHARDS;
  const perShard = options.perShard ?? MAX_SHARD_INSTRUMENTS;
  if (wanted.size > maxShards * perShard) {
    throw new RangeError(
      `Failed to plan shards: ${wanted.size} instruments exceed ${maxShards} × ${perShard}`,
    );
  }
  const shards: Map<number, Mode>[] = previous.slice(0, maxShards).map((shard) => {
    const kept = new Map<number, Mode>();
    for (const token of shard.instruments.keys()) {
      const mode = wanted.get(token);
      if (mode !== undefined) kept.set(token, mode);
    }
    return kept;
  });
  const placed = new Set<number>();
  for (const shard of shards) for (const token of shard.keys()) placed.add(token);
  for (const [token, mode] of wanted) {
    if (placed.has(token)) continue;
    let target: Map<number, Mode> | undefined;
    for (const shard of shards) {
      if (shard.size < perShard && (target === undefined || shard.size < target.size)) {
        target = shard;
      }
    }
    if (target === undefined) {
      target = new Map();
      shards.push(target);
    }
    target.set(token, mode);
    placed.add(token);
  }
  while (shards.length > 1 && shards.at(-1)?.size === 0) shards.pop();
  if (shards.length === 0) shards.push(new Map());
  return shards.map((instruments) => ({ instruments }));
}

/** Whether two plans ask the same of every shard (same instruments, same modes). */
export function samePlans(a: readonly ShardPlan[], b: readonly ShardPlan[]): boolean {
  if (a.length !== b.length) return false;
  return a.every((shard, i) => {
    const other = b[i]?.instruments;
    if (other === undefined || other.size !== shard.instruments.size) return false;
    for (const [token, mode] of shard.instruments) if (other.get(token) !== mode) return false;
    return true;
  });
}
