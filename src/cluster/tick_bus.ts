/**
 * The holder's tick bus: each tick into the Redis Stream `kitekeeper:<cluster>:ticks`
 * (`XADD … MAXLEN ~`), the last tick of each instrument into the hash `…:last` (both by one
 * Lua script per batch of ticks), and state
 * changes and gaps onto the channel `…:events`. `publish` only queues: the feed never waits
 * for Redis. The queue is bounded; when Redis falls behind, the oldest queued ticks are
 * dropped and counted, and ticks Redis refuses are counted as failed.
 *
 * @module
 */
import type { Tick } from "../kite/packets.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { RedisLink } from "./redis_link.ts";
import { joinFields, tickFields } from "./tick_fields.ts";

/** A notice on the events channel (JSON), besides the token's. */
export type BusEvent =
  | {
    readonly type: "state";
    readonly node: string;
    readonly fence: number;
    /** The lifecycle state name: Disconnected, Reconnecting, Live, Expired. */
    readonly state: string;
    readonly since: number;
    readonly reason: string;
  }
  | {
    readonly type: "gap";
    readonly node: string;
    readonly fence: number;
    /** Epoch ms: when the feed stopped and when it resumed. */
    readonly from: number;
    readonly to: number;
    readonly reason: string;
  }
  /** A node's wanted instruments changed (they are in the hash `…:wants`). */
  | { readonly type: "wants"; readonly node: string };

/** The bus's counters. */
export interface TickBusStats {
  /** Ticks Redis took. */
  readonly published: number;
  /** Ticks dropped from a full queue (Redis too slow). */
  readonly dropped: number;
  /** Ticks sent that Redis did not take (unreachable, error). */
  readonly failed: number;
  /** Ticks waiting now. */
  readonly queued: number;
}

/** Options of {@linkcode openTickBus}. */
export interface TickBusOptions {
  readonly keys: ClusterKeys;
  /** The holder's fencing number now, stamped on each entry. */
  readonly fence: () => number;
  /** The stream's approximate cap; default 100 000 entries. */
  readonly maxLen?: number;
  /** Queued ticks beyond this drop the oldest; default 20 000. */
  readonly queueLimit?: number;
  /** Ticks per batch of commands; default 500. */
  readonly batchSize?: number;
  /** Batches awaiting Redis at once; default 4. */
  readonly maxInFlight?: number;
  /** How long the state key outlives its last write; default 10 s. */
  readonly stateTtlMs?: number;
}

/** The holder's side of the bus. */
export interface TickBus {
  /** Queues `ticks` received at `at` (epoch ms); never blocks, never throws. */
  publish(ticks: readonly Tick[], at: number): void;
  /** Announces a state change (also kept in the state key) or a gap. */
  announce(event: BusEvent): void;
  stats(): TickBusStats;
  /** Waits up to `graceMs` (default 500) for queued ticks to go out, then stops. */
  close(options?: { graceMs?: number }): Promise<void>;
}

// One command per batch, one argument per tick: a command, and each argument, cost the
// client far more than the bytes do (node-redis under Deno: ~0.2 ms a command), and Redis
// runs the loop in a millisecond or two.
// KEYS: stream, last-tick hash. ARGV: MAXLEN, then one tick each: `joinFields` (the unit
// separator, \x1f, joins fields and values; none holds it, none is empty). The hash keeps
// that text as it is: the cheapest for Redis, which splits it once for XADD.
const APPEND = `
for i = 2, #ARGV do
  local fields, n = {}, 0
  for part in string.gmatch(ARGV[i], "[^\\31]+") do
    n = n + 1
    fields[n] = part
  end
  redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', unpack(fields))
  redis.call('HSET', KEYS[2], fields[2], ARGV[i])
end
return #ARGV - 1
`;

const SEND_TIMEOUT_MS = 10_000;

interface Queued {
  readonly tick: Tick;
  readonly at: number;
  /** The fence when the tick arrived, not when it goes out. */
  readonly fence: number;
}

/** Opens the bus on `link`. */
export function openTickBus(link: RedisLink, options: TickBusOptions): TickBus {
  const { keys } = options;
  const maxLen = String(options.maxLen ?? 100_000);
  const queueLimit = options.queueLimit ?? 20_000;
  const batchSize = options.batchSize ?? 500;
  const maxInFlight = options.maxInFlight ?? 4;
  const stateTtl = String(options.stateTtlMs ?? 10_000);
  let queue: Queued[] = [];
  let head = 0;
  let inFlight = 0;
  let published = 0;
  let dropped = 0;
  let failed = 0;
  let closed = false;
  let scheduled = false;
  let drained = Promise.withResolvers<void>();

  function queued(): number {
    return queue.length - head;
  }

  function take(): Queued[] {
    const batch = queue.slice(head, head + batchSize);
    head += batch.length;
    // Compact now and then, so the array does not grow without end.
    if (head > 4_096 && head * 2 > queue.length) {
      queue = queue.slice(head);
      head = 0;
    }
    return batch;
  }

  async function send(batch: readonly Queued[]): Promise<void> {
    const args = ["EVAL", APPEND, "2", keys.ticks, keys.last, maxLen];
    for (const { tick, at, fence } of batch) {
      args.push(joinFields(tickFields(tick, { at, fence })));
    }
    try {
      // A slow answer is not a lost one: wait long, the queue in front stays bounded.
      await link.send(args, { timeoutMs: SEND_TIMEOUT_MS });
      published += batch.length;
    } catch {
      failed += batch.length;
    }
  }

  function pump(): void {
    scheduled = false;
    while (inFlight < maxInFlight && queued() > 0) {
      const batch = take();
      inFlight++;
      send(batch).finally(() => {
        inFlight--;
        if (queued() > 0) pump();
        else if (inFlight === 0) {
          drained.resolve();
          drained = Promise.withResolvers<void>();
        }
      });
    }
  }

  return {
    publish(ticks, at) {
      if (closed || ticks.length === 0) return;
      const fence = options.fence();
      for (const tick of ticks) queue.push({ tick, at, fence });
      const over = queued() - queueLimit;
      if (over > 0) {
        head += over; // The oldest go: readers want what is current.
        dropped += over;
      }
      if (!scheduled) {
        scheduled = true;
        queueMicrotask(pump);
      }
    },
    announce(event) {
      if (closed) return;
      const text = JSON.stringify(event);
      const sends = [link.send(["PUBLISH", keys.events, text])];
      if (event.type === "state") sends.push(link.send(["SET", keys.state, text, "PX", stateTtl]));
      Promise.all(sends).catch(() => {}); // Lost with Redis; the next change says it again.
    },
    stats: () => ({ published, dropped, failed, queued: queued() }),
    async close(closeOptions = {}) {
      if (closed) return;
      closed = true;
      if (queued() === 0 && inFlight === 0) return;
      let timer: ReturnType<typeof setTimeout> | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, closeOptions.graceMs ?? 500);
      });
      await Promise.race([drained.promise, grace]);
      clearTimeout(timer);
    },
  };
}
