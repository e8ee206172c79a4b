/**
 * A fleet of feed clients in its own process, for the benchmarks: `ws` subscribes one
 * WebSocket to the (simulated) Kite ticker and decodes every message, as a direct consumer
 * would (or, with `--read header`, only counts its packets from the first two bytes: a
 * dozen such processes decoding 3000 full packets each at the same instant queue for the
 * CPU, and that queueing would be measured as latency); `sse` opens N `/stream`
 * connections to the daemon. Each records when data arrives,
 * on the epoch clock every process on the host shares, so the parent can subtract the
 * simulator's send times from it.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 scripts/_bench_client.ts ws --url WS_URL --tokens 1,2,3 \
 *   [--read decode|header]
 * deno run --allow-net=127.0.0.1 scripts/_bench_client.ts sse --url HTTP_URL/stream --clients 100
 * ```
 *
 * Protocol: prints `ready` once every connection has received a tick; a `start` line on
 * stdin starts the window (arrivals before it are dropped, CPU counts from it); the end of
 * stdin ends it: the connections close and one `{"report":…}` line ({@linkcode ClientReport})
 * is printed. The process exits by itself after `--max-ms` (default 15 minutes).
 *
 * @module
 */
import process from "node:process";
import { parseArgs } from "node:util";
import { decode } from "../src/kite/packets.ts";
import { epochMs } from "./_bench_stats.ts";

/** What the fleet measured over its window. */
export interface ClientReport {
  /** `[epoch ms, ticks]` for each read that carried ticks, every connection's, in order. */
  readonly arrivals: readonly (readonly [number, number])[];
  readonly window_ms: number;
  /** This process's CPU (user + system, every thread) over the window, % of one core. */
  readonly cpu_percent: number;
  /** Resident set size at the end of the window. */
  readonly rss_bytes: number;
  readonly connections: number;
  /** Connections the server ended before the window did. */
  readonly ended_early: number;
}

interface Fleet {
  readonly ready: Promise<void>;
  ended(): number;
  close(): Promise<void>;
}

type OnArrival = (at: number, ticks: number) => void;

/** How a `ws` client reads a message: decoded whole, or its packet count from the header. */
export type WsRead = "decode" | "header";

function wsFleet(
  url: string,
  tokens: readonly number[],
  options: { record: OnArrival; read: WsRead },
): Fleet {
  const { record } = options;
  const socket = new WebSocket(url);
  socket.binaryType = "arraybuffer";
  const ready = Promise.withResolvers<void>();
  const closed = Promise.withResolvers<void>();
  let ended = 0;
  let open = true;
  socket.onopen = () => {
    socket.send(JSON.stringify({ a: "subscribe", v: tokens }));
    socket.send(JSON.stringify({ a: "mode", v: ["full", tokens] }));
  };
  socket.onmessage = (event) => {
    const data = event.data;
    if (!(data instanceof ArrayBuffer) || data.byteLength <= 1) return; // text, or a heartbeat
    const at = epochMs();
    const ticks = options.read === "header" ? new DataView(data).getUint16(0) : (() => {
      const decoded = decode(data);
      return decoded.kind === "ticks" ? decoded.ticks.length : 0;
    })();
    if (ticks === 0) return;
    record(at, ticks);
    ready.resolve();
  };
  socket.onerror = () => ready.reject(new Error(`Failed to connect to ${new URL(url).origin}`));
  socket.onclose = () => {
    if (open) ended++;
    closed.resolve();
  };
  return {
    ready: ready.promise,
    ended: () => ended,
    async close() {
      open = false;
      if (socket.readyState === WebSocket.OPEN) socket.close(1000);
      await closed.promise;
    },
  };
}

const TICK_HEADER = "event: tick\n";

/** Counts tick events in a stream's text as it comes, a header split across reads included. */
export function tickCounter(): (text: string) => number {
  let carry = "";
  return function count(text: string): number {
    // `carry` is shorter than the header, so every match found here ends in the new text.
    const joined = carry + text;
    let found = 0;
    for (
      let at = joined.indexOf(TICK_HEADER);
      at !== -1;
      at = joined.indexOf(TICK_HEADER, at + 1)
    ) {
      found++;
    }
    carry = joined.slice(-(TICK_HEADER.length - 1));
    return found;
  };
}

/**
 * Reads are only stamped and kept as they come; they are counted later, once the burst is
 * in. Counting 100 clients' bytes as they arrive would hold back the reads behind them, and
 * charge this process's work to the daemon's latency.
 */
const COUNT_AFTER_MS = 400;

interface SseReader {
  readonly first: PromiseWithResolvers<void>;
  readonly decoder: TextDecoder;
  readonly count: (text: string) => number;
  readonly reads: { readonly at: number; readonly bytes: Uint8Array }[];
}

function sseFleet(url: string, clients: number, record: OnArrival): Fleet {
  let ended = 0;
  let open = true;
  let countTimer: ReturnType<typeof setTimeout> | undefined;
  const readers: ReadableStreamDefaultReader<Uint8Array>[] = [];
  const states: SseReader[] = [];
  const loops: Promise<void>[] = [];

  function countReads(): void {
    countTimer = undefined;
    for (const state of states) {
      for (const { at, bytes } of state.reads) {
        const ticks = state.count(state.decoder.decode(bytes, { stream: true }));
        if (ticks === 0) continue;
        record(at, ticks);
        state.first.resolve();
      }
      state.reads.length = 0;
    }
  }

  for (let i = 0; i < clients; i++) {
    const state: SseReader = {
      first: Promise.withResolvers<void>(),
      decoder: new TextDecoder(),
      count: tickCounter(),
      reads: [],
    };
    states.push(state);
    loops.push(
      (async () => {
        const response = await fetch(url);
        if (!response.ok || response.body === null) {
          await response.body?.cancel();
          throw new Error(`Failed to open ${url}: ${response.status}`);
        }
        // Cancelling the reader ends a read that waits; an abort signal may not.
        const reader = response.body.getReader();
        readers.push(reader);
        if (!open) await reader.cancel();
        for (let read = await reader.read(); !read.done; read = await reader.read()) {
          state.reads.push({ at: epochMs(), bytes: read.value });
          countTimer ??= setTimeout(countReads, COUNT_AFTER_MS);
        }
        if (open) ended++;
      })().catch((error: unknown) => {
        state.first.reject(error);
        if (open) ended++;
      }),
    );
  }
  return {
    ready: Promise.all(states.map((state) => state.first.promise)).then(() => {}),
    ended: () => ended,
    async close() {
      open = false;
      await Promise.all(readers.map((reader) => reader.cancel().catch(() => {})));
      await Promise.all(loops);
      clearTimeout(countTimer);
      countReads();
    },
  };
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    args: Deno.args,
    allowPositionals: true,
    options: {
      url: { type: "string" },
      tokens: { type: "string", default: "" },
      clients: { type: "string", default: "1" },
      read: { type: "string", default: "decode" },
      "max-ms": { type: "string", default: String(15 * 60_000) },
    },
  });
  const kind = positionals[0];
  const read = values.read;
  if (
    (kind !== "ws" && kind !== "sse") || values.url === undefined ||
    (read !== "decode" && read !== "header")
  ) {
    throw new TypeError(
      "Failed to start: usage: _bench_client.ts ws|sse --url URL [--read decode|header] …",
    );
  }
  const safety = setTimeout(() => Deno.exit(3), Number(values["max-ms"]));

  let arrivals: [number, number][] = [];
  const record: OnArrival = (at, ticks) => {
    arrivals.push([at, ticks]);
  };
  const tokens = values.tokens.split(",").filter((t) => t !== "").map(Number);
  const clients = Number(values.clients);
  const fleet = kind === "ws"
    ? wsFleet(values.url, tokens, { record, read })
    : sseFleet(values.url, clients, record);
  await fleet.ready;
  console.log("ready");

  let startedAt = epochMs();
  let cpuAtStart = process.cpuUsage();
  const lines = Deno.stdin.readable.pipeThrough(new TextDecoderStream());
  let buffered = "";
  let started = false;
  for await (const text of lines) {
    buffered += text;
    if (buffered.includes("start\n") && !started) {
      arrivals = [];
      startedAt = epochMs();
      cpuAtStart = process.cpuUsage();
      started = true;
    }
  }
  const endedAt = epochMs();
  const windowMs = endedAt - startedAt;
  const cpu = process.cpuUsage(cpuAtStart);
  const rss = Deno.memoryUsage().rss;
  const endedEarly = fleet.ended();
  await fleet.close(); // counts what is still waiting to be counted
  clearTimeout(safety);
  const report: ClientReport = {
    // Reads are counted late: keep those that arrived within the window.
    arrivals: arrivals.filter(([at]) => at >= startedAt && at <= endedAt),
    window_ms: windowMs,
    cpu_percent: (cpu.user + cpu.system) / 1000 / windowMs * 100,
    rss_bytes: rss,
    connections: kind === "ws" ? 1 : clients,
    ended_early: endedEarly,
  };
  console.log(JSON.stringify({ report }));
}

if (import.meta.main) await main();
