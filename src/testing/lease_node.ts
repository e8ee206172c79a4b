/**
 * A lease contender in its own process, for tests and the takeover benchmark: a node that can
 * be SIGKILLed. `deno run --allow-net lease_node.ts REDIS_URL CLUSTER NODE TTL_MS` prints
 * `ready`, then `open FENCE` or `close` (with the time in ms since the epoch) as its upstream
 * would change; stdin closing stops it (releasing the lease).
 *
 * @module
 */
import { systemClock } from "../clock.ts";
import { clusterKeys } from "../cluster/cluster_keys.ts";
import { leaseTiming } from "../cluster/lease.ts";
import { keepLease } from "../cluster/lease_keeper.ts";
import { connectRedis } from "../cluster/redis_link.ts";

/** What a lease node printed: its upstream opened (with the fence) or closed, and when. */
export interface LeaseEvent {
  readonly upstream: "open" | "close";
  readonly fence: number | null;
  /** Milliseconds since the epoch, on the node's clock (this machine's). */
  readonly at: number;
}

/** A lease node running as a child process. */
export interface LeaseNode extends AsyncDisposable {
  readonly name: string;
  /** Every change seen so far. */
  readonly events: readonly LeaseEvent[];
  /** Resolves with the first change from event index `from` on that is `upstream`. */
  next(upstream: "open" | "close", from?: number): Promise<LeaseEvent>;
  /** SIGKILL: no release, no last renewal. */
  kill(): Promise<void>;
  /** Closes its stdin: it releases the lease and exits. */
  stop(): Promise<void>;
}

/** Starts a lease node; resolves once it is connected and competing. */
export async function spawnLeaseNode(
  url: string,
  options: { cluster: string; name: string; ttlMs: number },
): Promise<LeaseNode> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net=127.0.0.1",
      "--allow-env",
      "--allow-read",
      "--allow-sys",
      new URL(import.meta.url).pathname,
      url,
      options.cluster,
      options.name,
      String(options.ttlMs),
    ],
    stdin: "piped",
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const events: LeaseEvent[] = [];
  let changed = Promise.withResolvers<void>();
  const ready = Promise.withResolvers<void>();
  let exited = false;
  const reading = (async () => {
    let buffer = "";
    for await (const text of child.stdout.pipeThrough(new TextDecoderStream())) {
      buffer += text;
      const lines = buffer.split("\n");
      buffer = lines.pop() ?? "";
      for (const line of lines) {
        if (line === "ready") ready.resolve();
        const open = /^open (\d+) (\d+)$/.exec(line);
        const close = /^close (\d+)$/.exec(line);
        if (open !== null) {
          events.push({ upstream: "open", fence: Number(open[1]), at: Number(open[2]) });
        }
        if (close !== null) events.push({ upstream: "close", fence: null, at: Number(close[1]) });
      }
      changed.resolve();
      changed = Promise.withResolvers<void>();
    }
    exited = true;
    ready.reject(new Error(`Lease node ${options.name} exited before it was ready`));
    changed.resolve();
  })();
  await ready.promise;
  let ended = false;
  async function end(): Promise<void> {
    if (ended) return;
    ended = true;
    await child.status;
    await reading;
  }
  async function kill(): Promise<void> {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
    await child.stdin.close().catch(() => {});
    await end();
  }
  return {
    name: options.name,
    events,
    async next(upstream, from = 0) {
      for (;;) {
        const found = events.slice(from).find((event) => event.upstream === upstream);
        if (found !== undefined) return found;
        if (exited) throw new Error(`Lease node ${options.name} ended without ${upstream}`);
        const wait = changed.promise;
        await wait;
      }
    },
    kill,
    async stop() {
      await child.stdin.close().catch(() => {});
      await end();
    },
    [Symbol.asyncDispose]: kill,
  };
}

if (import.meta.main) {
  const [url = "", cluster = "", node = "", ttl = ""] = Deno.args;
  const link = await connectRedis(url, { reconnectCapMs: 100 });
  const keeper = keepLease(link, {
    keys: clusterKeys(cluster),
    node,
    timing: leaseTiming(Number(ttl)),
    clock: systemClock(),
    onChange(change) {
      const fence = change.state.role === "holder" ? ` ${change.state.fence}` : "";
      console.log(`${change.upstream}${fence} ${Date.now()}`);
    },
  });
  console.log("ready");
  for await (const _ of Deno.stdin.readable) { /* until stdin closes */ }
  await keeper.stop();
  await link.close();
}
