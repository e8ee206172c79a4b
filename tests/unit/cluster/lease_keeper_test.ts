import assert from "node:assert/strict";
import { systemClock } from "../../../src/clock.ts";
import { clusterKeys } from "../../../src/cluster/cluster_keys.ts";
import { leaseTiming } from "../../../src/cluster/lease.ts";
import { keepLease, type LeaseKeeper, parseHolder } from "../../../src/cluster/lease_keeper.ts";
import { connectRedis, type RedisLink } from "../../../src/cluster/redis_link.ts";
import { type LeaseNode, spawnLeaseNode } from "../../../src/testing/lease_node.ts";
import { type RedisServer, startRedisServer } from "../../../src/testing/redis_server.ts";
import { eventually, needsRedis } from "../../_support/redis_fixture.ts";
import { startTcpProxy } from "../../_support/tcp_proxy.ts";

const TTL_MS = 600;
const keys = clusterKeys("t");

/** In-process contenders that fail the test the moment two hold upstream at once. */
class Contenders implements AsyncDisposable {
  readonly open = new Set<string>();
  readonly opened: { node: string; fence: number; at: number }[] = [];
  readonly violations: string[] = [];
  readonly #links: RedisLink[] = [];
  readonly keepers = new Map<string, LeaseKeeper>();

  async add(server: RedisServer | string, node: string): Promise<LeaseKeeper> {
    const url = typeof server === "string" ? server : server.url;
    const link = await connectRedis(url, { reconnectCapMs: 100, connectTimeoutMs: 300 });
    this.#links.push(link);
    const keeper = keepLease(link, {
      keys,
      node,
      timing: leaseTiming(TTL_MS),
      clock: systemClock(),
      onChange: (change) => {
        if (change.upstream === "open") {
          if (this.open.size > 0) {
            this.violations.push(`${node} opened while ${[...this.open]} held`);
          }
          this.open.add(node);
          const fence = change.state.role === "holder" ? change.state.fence : -1;
          this.opened.push({ node, fence, at: Date.now() });
        } else {
          this.open.delete(node);
        }
      },
    });
    this.keepers.set(node, keeper);
    return keeper;
  }

  holder(): string | undefined {
    return [...this.keepers].find(([, keeper]) => keeper.state().role === "holder")?.[0];
  }

  async [Symbol.asyncDispose](): Promise<void> {
    for (const keeper of this.keepers.values()) await keeper.stop();
    for (const link of this.#links) await link.close();
  }
}

Deno.test("parseHolder() reads node|fence and nothing else", () => {
  assert.deepEqual(parseHolder("host:12|42"), { node: "host:12", fence: 42 });
  assert.deepEqual(parseHolder("a|b|3"), { node: "a|b", fence: 3 });
  assert.equal(parseHolder("nofence"), null);
  assert.equal(parseHolder(null), null);
});

Deno.test({
  ...needsRedis(
    "keepLease() three contenders: one holder, two standbys that name it and its fence",
  ),
  async fn() {
    await using server = await startRedisServer();
    await using nodes = new Contenders();
    for (const name of ["a", "b", "c"]) await nodes.add(server, name);
    await eventually("a holder", () => nodes.open.size === 1);
    // Let it renew a few times: nobody else opens, the lease stays with one fence.
    const holder = nodes.holder()!;
    await eventually(
      "standbys see the holder",
      () =>
        [...nodes.keepers.values()].every((keeper) => {
          const state = keeper.state();
          return state.role === "holder" || state.holder?.node === holder;
        }),
    );
    const fence = nodes.opened[0]!.fence;
    for (const [name, keeper] of nodes.keepers) {
      const state = keeper.state();
      if (name !== holder) {
        assert.deepEqual(state.role === "standby" && state.holder, { node: holder, fence });
      }
    }
    await new Promise((resolve) => setTimeout(resolve, TTL_MS * 3));
    assert.equal(nodes.opened.length, 1, JSON.stringify(nodes.opened));
    assert.deepEqual(nodes.violations, []);
  },
});

Deno.test({
  ...needsRedis(
    "keepLease() a stopped holder releases the lease; a standby takes it under a higher fence",
  ),
  async fn() {
    await using server = await startRedisServer();
    await using nodes = new Contenders();
    await nodes.add(server, "a");
    await eventually("a holds", () => nodes.holder() === "a");
    await nodes.add(server, "b");
    await eventually("b stands by", () => nodes.keepers.get("b")!.state().role === "standby");
    const released = Date.now();
    await nodes.keepers.get("a")!.stop();
    await eventually("b holds", () => nodes.holder() === "b");
    // Released, not lapsed: b needs no more than a poll or two, not a TTL.
    assert.ok(Date.now() - released < TTL_MS, `took ${Date.now() - released} ms`);
    assert.ok(nodes.opened[1]!.fence > nodes.opened[0]!.fence);
    assert.deepEqual(nodes.violations, []);
  },
});

Deno.test({
  ...needsRedis(
    "keepLease() Redis down past the lease: the holder keeps its feed and keeps the lease after",
  ),
  async fn() {
    await using server = await startRedisServer();
    await using nodes = new Contenders();
    await nodes.add(server, "a");
    await eventually("a holds", () => nodes.holder() === "a");
    for (const name of ["b", "c"]) await nodes.add(server, name);
    await eventually("standbys", () => nodes.keepers.get("c")!.state().role === "standby");
    await server.stop();
    await new Promise((resolve) => setTimeout(resolve, TTL_MS * 3));
    assert.deepEqual([...nodes.open], ["a"], "the feed kept running through the outage");
    await server.start();
    // a takes the lease again in the restarted (empty) Redis, under a higher fence.
    await eventually("the lease in Redis", async () => {
      const link = await connectRedis(server.url);
      try {
        return parseHolder(await link.send(["GET", keys.lease]))?.node === "a";
      } finally {
        await link.close();
      }
    });
    const holder = nodes.keepers.get("a")!.state();
    assert.ok(holder.role === "holder" && holder.fence > nodes.opened[0]!.fence);
    await new Promise((resolve) => setTimeout(resolve, TTL_MS * 2));
    assert.deepEqual([...nodes.open], ["a"]);
    assert.equal(nodes.opened.length, 1, "nobody else opened");
    assert.deepEqual(nodes.violations, []);
  },
});

Deno.test({
  ...needsRedis("keepLease() a holder cut off from Redis closes upstream before a standby opens"),
  async fn() {
    await using server = await startRedisServer();
    await using proxy = startTcpProxy(server.port);
    await using nodes = new Contenders();
    await nodes.add(`redis://127.0.0.1:${proxy.port}`, "a");
    await eventually("a holds", () => nodes.holder() === "a");
    await nodes.add(server, "b");
    await eventually("b stands by", () => nodes.keepers.get("b")!.state().role === "standby");
    proxy.freeze();
    await eventually("b holds", () => nodes.keepers.get("b")!.state().role === "holder");
    const a = nodes.keepers.get("a")!.state();
    assert.equal(a.role, "standby");
    assert.ok(
      a.role === "standby" && a.problem !== null && a.problem !== "refused",
      a.problem ?? "",
    );
    assert.deepEqual(nodes.violations, []);
  },
});

async function killAndTime(nodes: LeaseNode[], holder: LeaseNode): Promise<number> {
  const marks = nodes.map((node) => node.events.length);
  const killed = Date.now();
  await holder.kill();
  const others = nodes.filter((node) => node !== holder);
  const next = await Promise.any(
    others.map((node) => node.next("open", marks[nodes.indexOf(node)])),
  );
  return next.at - killed;
}

Deno.test({
  ...needsRedis(
    "keepLease() after SIGKILL of the holder process a standby opens within lease + 1 s",
  ),
  async fn() {
    await using server = await startRedisServer();
    const nodes: LeaseNode[] = [];
    try {
      for (const name of ["p1", "p2", "p3"]) {
        nodes.push(await spawnLeaseNode(server.url, { cluster: "t", name, ttlMs: TTL_MS }));
      }
      const first = await Promise.any(nodes.map(async (node) => (await node.next("open"), node)));
      const took = await killAndTime(nodes, first);
      assert.ok(took <= TTL_MS + 1_000, `takeover took ${took} ms`);
      // Not before the killed holder's lease could lapse (its last renewal + TTL).
      assert.ok(took >= TTL_MS - leaseTiming(TTL_MS).renewMs - 20, `took only ${took} ms`);
      const opens = nodes.flatMap((node) =>
        node.events.filter((event) => event.upstream === "open")
      );
      const fences = opens.map((event) => event.fence!);
      assert.equal(new Set(fences).size, fences.length, "a new fence on every acquisition");
      assert.equal(opens.length, 2);
    } finally {
      for (const node of nodes) await node.kill();
    }
  },
});
