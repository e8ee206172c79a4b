/**
 * A standby's side of the tick bus: the last tick of each instrument at start (`HGETALL`),
 * then every new entry of the stream (`XREAD BLOCK` on a connection of its own), and the
 * events channel. Survives Redis restarts: a failed read is retried with capped backoff.
 *
 * @module
 */
import type { Tick } from "../kite/packets.ts";
import type { ClusterKeys } from "./cluster_keys.ts";
import type { RedisLink, RedisReply } from "./redis_link.ts";
import type { BusEvent } from "./tick_bus.ts";
import { fieldRecord, splitFields, tickFromFields, type TickOrigin } from "./tick_fields.ts";

/** A tick read from the bus, with its origin. */
export interface BusTick {
  readonly tick: Tick;
  readonly origin: TickOrigin;
}

/** Options of {@linkcode followTickBus}. */
export interface TickBusReaderOptions {
  readonly keys: ClusterKeys;
  /** New ticks, in stream order; must not throw. */
  readonly onTicks: (ticks: readonly BusTick[]) => void;
  /** State changes and gaps the holder announced; must not throw. */
  readonly onEvent?: (event: BusEvent) => void;
  /** How long one `XREAD` blocks; default 1 s. */
  readonly blockMs?: number;
}

/** A running reader. */
export interface TickBusReader {
  /** Entries read that were not ticks of this version (skipped). */
  skipped(): number;
  stop(): Promise<void>;
}

function entriesOf(reply: RedisReply): { id: string; fields: string[] }[] {
  if (!Array.isArray(reply)) return [];
  const entries: { id: string; fields: string[] }[] = [];
  for (const stream of reply) {
    if (!Array.isArray(stream) || !Array.isArray(stream[1])) continue;
    for (const entry of stream[1]) {
      if (!Array.isArray(entry) || typeof entry[0] !== "string" || !Array.isArray(entry[1])) {
        continue;
      }
      entries.push({ id: entry[0], fields: entry[1].map(String) });
    }
  }
  return entries;
}

function parseEvent(message: string): BusEvent | null {
  try {
    const value = JSON.parse(message) as { type?: unknown };
    const known = value.type === "state" || value.type === "gap" || value.type === "wants";
    return known ? value as BusEvent : null;
  } catch {
    return null;
  }
}

/** Starts reading the bus of `options.keys`; resolves once the last ticks are handed on. */
export async function followTickBus(
  link: RedisLink,
  options: TickBusReaderOptions,
): Promise<TickBusReader> {
  const { keys } = options;
  const blockMs = options.blockMs ?? 1_000;
  const reader = await link.fork();
  let stopped = false;
  let skipped = 0;
  // "$": only entries added from now on; the hash below gives the state before.
  let lastId = "$";

  function handOn(records: readonly Record<string, string>[]): void {
    const ticks: BusTick[] = [];
    for (const record of records) {
      const read = tickFromFields(record);
      if (read === null) skipped++;
      else ticks.push(read);
    }
    if (ticks.length > 0) options.onTicks(ticks);
  }

  if (options.onEvent !== undefined) {
    const onEvent = options.onEvent;
    await link.subscribe(keys.events, (message) => {
      const event = parseEvent(message);
      if (event !== null) onEvent(event);
    });
  }
  try {
    const last = await link.send(["HGETALL", keys.last]);
    if (Array.isArray(last)) {
      const records: Record<string, string>[] = [];
      for (let i = 1; i < last.length; i += 2) records.push(splitFields(String(last[i])));
      handOn(records);
    }
  } catch {
    // Redis out of reach now: the loop below catches up once it answers.
  }

  const loop = (async () => {
    let failures = 0;
    while (!stopped) {
      try {
        const reply = await reader.send(
          ["XREAD", "COUNT", "2000", "BLOCK", String(blockMs), "STREAMS", keys.ticks, lastId],
          { timeoutMs: blockMs + 1_000 },
        );
        failures = 0;
        const entries = entriesOf(reply);
        if (entries.length === 0) continue;
        lastId = entries[entries.length - 1]!.id;
        handOn(entries.map((entry) => fieldRecord(entry.fields)));
      } catch {
        if (stopped) break;
        failures++;
        // A real wait: the reader has its own connection and no clock to share.
        await new Promise((resolve) => setTimeout(resolve, Math.min(1_000, 100 * failures)));
      }
    }
  })();

  return {
    skipped: () => skipped,
    async stop() {
      stopped = true;
      await reader.close();
      await loop;
    },
  };
}
