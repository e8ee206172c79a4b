import assert from "node:assert/strict";
import { systemClock } from "../../../src/clock.ts";
import { clusterKeys } from "../../../src/cluster/cluster_keys.ts";
import { connectRedis, type RedisLink } from "../../../src/cluster/redis_link.ts";
import { deriveClusterSecrets } from "../../../src/cluster/secret_keys.ts";
import { type SharedToken, shareToken } from "../../../src/cluster/shared_token.ts";
import { openToken, sealToken } from "../../../src/cluster/token_seal.ts";
import { type RedisServer, startRedisServer } from "../../../src/testing/redis_server.ts";
import { fingerprint } from "../../../src/token/fingerprint.ts";
import { writeToken } from "../../../src/token/env_file.ts";
import { eventually, needsRedis } from "../../_support/redis_fixture.ts";
import { withTempDir } from "../../_support/temp_dir.ts";

const keys = clusterKeys("c");
const SECRET = "kk_test_secret_0123456789";
const TOKEN_A = "a".repeat(32);
const TOKEN_B = "b".repeat(32);

/** A node: its link, its shared token, what it was handed, its log. */
interface Node {
  readonly link: RedisLink;
  readonly shared: SharedToken;
  readonly handed: string[];
  readonly lines: string[];
}

async function node(server: RedisServer, name: string, options: { secret?: string } = {}) {
  const link = await connectRedis(server.url);
  const { tokenKey } = await deriveClusterSecrets(options.secret ?? SECRET, "c");
  const handed: string[] = [];
  const lines: string[] = [];
  const shared = await shareToken(link, {
    keys,
    tokenKey,
    node: name,
    clock: systemClock(),
    log: (level, message) => lines.push(`${level} ${message}`),
    onToken: (token) => handed.push(token),
    pollMs: 200,
  });
  return { link, shared, handed, lines } satisfies Node;
}

async function closeAll(nodes: Node[]): Promise<void> {
  for (const each of nodes) {
    each.shared.stop();
    await each.link.close();
  }
}

Deno.test({
  ...needsRedis(
    "shareToken() one node publishes; the others get the token, Redis only a seal with a TTL",
  ),
  async fn() {
    await using server = await startRedisServer();
    const nodes = [await node(server, "a"), await node(server, "b"), await node(server, "c")];
    try {
      const [a, b, c] = nodes as [Node, Node, Node];
      const expiresAt = Date.now() + 60_000;
      assert.equal(await a.shared.publish(TOKEN_A, { expiresAt }), "published");
      await eventually("b and c have it", () => b.handed.length === 1 && c.handed.length === 1);
      assert.deepEqual([b.handed, c.handed], [[TOKEN_A], [TOKEN_A]]);
      assert.deepEqual(a.handed, [], "no echo to the publisher");
      // b got it from Redis: publishing it back (its .env watcher saw it) does nothing.
      assert.equal(await b.shared.publish(TOKEN_A, { expiresAt }), "unchanged");
      const stored = await a.link.send(["GET", keys.token]);
      assert.ok(typeof stored === "string" && !stored.includes(TOKEN_A));
      const ttl = Number(await a.link.send(["PTTL", keys.token]));
      assert.ok(ttl > 55_000 && ttl <= 60_000, `PTTL ${ttl}`);
      // A later node finds the token at start; logs carry fingerprints only.
      const late = await node(server, "d");
      nodes.push(late);
      assert.deepEqual(late.handed, [TOKEN_A]);
      const all = nodes.flatMap((each) => each.lines).join("\n");
      assert.ok(!all.includes(TOKEN_A));
      assert.ok(all.includes(fingerprint(TOKEN_A)));
    } finally {
      await closeAll(nodes);
    }
  },
});

Deno.test({
  ...needsRedis(
    "shareToken() a hand edit on another node replaces the token everywhere; .env follows",
  ),
  async fn() {
    await using server = await startRedisServer();
    await withTempDir("kitekeeper_shared_token_", async (dir) => {
      const nodes = [await node(server, "a"), await node(server, "b")];
      try {
        const [a, b] = nodes as [Node, Node];
        const envFile = `${dir}/.env`;
        await Deno.writeTextFile(envFile, "KITE_API_KEY=k\nKITE_ACCESS_TOKEN=\n");
        await a.shared.publish(TOKEN_A, { expiresAt: Date.now() + 60_000 });
        await b.shared.publish(TOKEN_B, { expiresAt: Date.now() + 60_000 });
        await eventually("a has B", () => a.handed.at(-1) === TOKEN_B);
        await writeToken(envFile, a.handed.at(-1)!, { key: "KITE_ACCESS_TOKEN" });
        assert.equal(
          await Deno.readTextFile(envFile),
          `KITE_API_KEY=k\nKITE_ACCESS_TOKEN=${TOKEN_B}\n`,
        );
      } finally {
        await closeAll(nodes);
      }
    });
  },
});

Deno.test({
  ...needsRedis(
    "shareToken() skips an expired token and warns once about a seal from another secret",
  ),
  async fn() {
    await using server = await startRedisServer();
    const nodes = [await node(server, "a"), await node(server, "x", { secret: "another" })];
    try {
      const [a, x] = nodes as [Node, Node];
      assert.equal(await a.shared.publish(TOKEN_A, { expiresAt: Date.now() - 1 }), "expired");
      assert.equal(await a.link.send(["EXISTS", keys.token]), 0);
      await a.shared.publish(TOKEN_A, { expiresAt: Date.now() + 60_000 });
      await eventually("x read it", () => x.lines.some((line) => line.includes("does not open")));
      await x.shared.refresh();
      assert.deepEqual(x.handed, []);
      assert.equal(x.lines.filter((line) => line.includes("does not open")).length, 1);
    } finally {
      await closeAll(nodes);
    }
  },
});

Deno.test({
  ...needsRedis("shareToken() a follower that missed the announcement catches up by polling"),
  async fn() {
    await using server = await startRedisServer();
    const nodes = [await node(server, "a")];
    try {
      const [a] = nodes as [Node];
      // Written without an announcement, as if published while a was disconnected.
      const writer = await node(server, "w");
      nodes.push(writer);
      writer.shared.stop();
      const { tokenKey } = await deriveClusterSecrets(SECRET, "c");
      const sealed = await sealToken(TOKEN_B, { key: tokenKey, keyName: keys.token });
      await writer.link.send(["SET", keys.token, sealed, "PX", "60000"]);
      await eventually("a polled it", () => a.handed.includes(TOKEN_B));
    } finally {
      await closeAll(nodes);
    }
  },
});

Deno.test({
  ...needsRedis("shareToken() puts its token back into a Redis that restarted empty"),
  async fn() {
    await using server = await startRedisServer();
    const link = await connectRedis(server.url, { reconnectCapMs: 100 });
    const { tokenKey } = await deriveClusterSecrets(SECRET, "c");
    const shared = await shareToken(link, {
      keys,
      tokenKey,
      node: "a",
      clock: systemClock(),
      log() {},
      onToken() {},
      pollMs: 100,
    });
    try {
      await shared.publish(TOKEN_A, { expiresAt: Date.now() + 60_000 });
      await server.stop();
      await server.start();
      const reader = await connectRedis(server.url);
      try {
        await eventually(
          "the token back",
          async () => (await reader.send(["EXISTS", keys.token])) === 1,
        );
        const sealed = String(await reader.send(["GET", keys.token]));
        assert.equal(await openToken(sealed, { key: tokenKey, keyName: keys.token }), TOKEN_A);
      } finally {
        await reader.close();
      }
    } finally {
      shared.stop();
      await link.close();
    }
  },
});
