/**
 * Two or three `kitekeeper run` processes, one simulator, one real redis-server: one feed
 * holder at any moment, a standby that takes over after SIGKILL within the lease plus a
 * second, a login through a standby reaching every node, a Redis outage that stops no feed,
 * and one clear line for a Redis that cannot be used.
 */
import assert from "node:assert/strict";
import { type Simulator, startSimulator } from "../../src/simulator/simulator.ts";
import type { StatusBody } from "../../src/ops/status_body.ts";
import { decode } from "../../src/kite/packets.ts";
import { envText, KITE } from "../../src/testing/daemon_harness.ts";
import { freePort } from "../../src/testing/simulator_env.ts";
import { driveLogin } from "../../src/testing/login_driver.ts";
import { type RedisServer, startRedisServer } from "../../src/testing/redis_server.ts";
import { LineReader } from "../_support/lines.ts";
import { denoChildEnv, MAIN } from "../_support/run.ts";
import { eventually, needsRedis } from "../_support/redis_fixture.ts";

const FLAGS = ["--allow-net", "--allow-read", "--allow-write", "--allow-env"];
const LEASE_MS = 1_000;
const INSTRUMENTS = "256265,408065";

/** A `kitekeeper run` child. */
interface Node {
  readonly url: string;
  readonly envFile: string;
  readonly child: Deno.ChildProcess;
  readonly out: LineReader;
  status(): Promise<{ code: number; body: StatusBody }>;
  kill(): Promise<void>;
}

function clusterEnv(sim: Simulator, redis: RedisServer, token: string | null): string {
  return envText(sim.url, [
    `KITEKEEPER_REDIS_URL=${redis.url}`,
    "KITEKEEPER_CLUSTER=e2e",
    `KITEKEEPER_LEASE_MS=${LEASE_MS}`,
    `KITEKEEPER_INSTRUMENTS=${INSTRUMENTS}`,
    "KITEKEEPER_BACKOFF_BASE_MS=20",
    "KITEKEEPER_BACKOFF_CAP_MS=200",
    "KITEKEEPER_STALL_MS=1000",
    ...(token === null ? [] : [`KITE_ACCESS_TOKEN=${token}`]),
  ]);
}

async function startNode(
  dir: string,
  text: string,
  options: { port?: number } = {},
): Promise<Node> {
  const port = options.port ?? freePort();
  const nodeDir = await Deno.makeTempDir({ dir, prefix: "node_" });
  const envFile = `${nodeDir}/.env`;
  await Deno.writeTextFile(envFile, text, { mode: 0o600 });
  const child = new Deno.Command(Deno.execPath(), {
    args: ["run", ...FLAGS, MAIN, "run", "--env-file", envFile, "--listen", `127.0.0.1:${port}`],
    env: denoChildEnv(),
    clearEnv: true,
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const out = new LineReader(child.stdout);
  const [, url] = await out.until(/^kitekeeper listening on (http:\/\/\S+)$/);
  // Keep reading, so a full pipe never stalls the child.
  out.rest().catch(() => {});
  let killed = false;
  return {
    url: url!,
    envFile,
    child,
    out,
    async status() {
      const response = await fetch(`${url}/status`);
      return { code: response.status, body: await response.json() as StatusBody };
    },
    async kill() {
      if (killed) return;
      killed = true;
      try {
        child.kill("SIGKILL");
      } catch {
        // Gone already.
      }
      await child.status;
    },
  };
}

/** A simulator whose login callback goes nowhere (these tests bring their own tokens). */
function clusterSimulator(): Promise<Simulator> {
  return startSimulator({
    ...KITE,
    redirectUrl: "http://127.0.0.1:9/cb",
    heartbeatMs: 100,
    tickMs: 40,
  });
}

/** Samples the simulator's open sockets until stopped; fails on more than `max`. */
function watchSockets(sim: Simulator, max: number): { stop(): number[] } {
  const over: number[] = [];
  const timer = setInterval(() => {
    const open = sim.stats().sockets_open;
    if (open > max) over.push(open);
  }, 10);
  return {
    stop() {
      clearInterval(timer);
      return over;
    },
  };
}

async function role(node: Node): Promise<string | undefined> {
  try {
    return (await node.status()).body.role;
  } catch {
    return undefined;
  }
}

Deno.test({
  ...needsRedis(
    "cluster: one holder, a standby that is 200 and names it; SIGKILL → the standby is Live within lease + 1 s",
  ),
  async fn() {
    await using redis = await startRedisServer();
    await using sim = await clusterSimulator();
    const dir = await Deno.makeTempDir({ prefix: "kitekeeper_cluster_" });
    const nodes: Node[] = [];
    const sockets = watchSockets(sim, 1);
    try {
      const text = clusterEnv(sim, redis, sim.issueAccessToken());
      const a = await startNode(dir, text);
      nodes.push(a);
      await eventually("a holds and is Live", async () => {
        const { code, body } = await a.status();
        return code === 200 && body.role === "holder";
      });
      const b = await startNode(dir, text);
      const c = await startNode(dir, text);
      nodes.push(b, c);
      for (const standby of [b, c]) {
        await eventually(
          "a standby that is 200",
          async () => (await standby.status()).code === 200,
        );
        const { body } = await standby.status();
        assert.equal(body.role, "standby");
        assert.equal(body.state, "Live");
        const holder = (await a.status()).body.cluster!.holder!;
        assert.deepEqual(body.cluster!.holder, holder);
        assert.ok(holder.fence >= 1);
      }
      // The standbys serve /quotes from the bus.
      await eventually("b has quotes", async () => {
        const quotes = await (await fetch(`${b.url}/quotes`)).json() as Record<string, unknown>;
        return JSON.stringify(quotes).includes("408065");
      });
      assert.equal(sim.stats().sockets_open, 1);

      const killed = performance.now();
      await a.kill();
      let took = 0;
      await eventually("a new holder, Live", async () => {
        for (const node of [b, c]) {
          const { code, body } = await node.status();
          if (code === 200 && body.role === "holder" && body.state === "Live") {
            took = performance.now() - killed;
            return true;
          }
        }
        return false;
      }, { timeoutMs: 10_000 });
      console.log(`cluster takeover after SIGKILL: ${took.toFixed(0)} ms (lease ${LEASE_MS} ms)`);
      assert.ok(took <= LEASE_MS + 1_000, `takeover took ${took.toFixed(0)} ms`);
      await eventually("one socket again", () => sim.stats().sockets_open === 1);
      assert.deepEqual(sockets.stop(), [], "never more than one upstream socket");
    } finally {
      sockets.stop();
      for (const node of nodes) await node.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  ...needsRedis("cluster: a login through a standby reaches the holder and every node's .env"),
  async fn() {
    await using redis = await startRedisServer();
    const standbyPort = freePort();
    await using sim = await startSimulator({
      ...KITE,
      redirectUrl: `http://127.0.0.1:${standbyPort}/api/auth/callback`,
      heartbeatMs: 100,
    });
    const dir = await Deno.makeTempDir({ prefix: "kitekeeper_cluster_" });
    const nodes: Node[] = [];
    try {
      const first = sim.issueAccessToken();
      const a = await startNode(dir, clusterEnv(sim, redis, first));
      nodes.push(a);
      await eventually("a holds", async () => (await role(a)) === "holder");
      const b = await startNode(dir, clusterEnv(sim, redis, first), { port: standbyPort });
      nodes.push(b);
      await eventually("b stands by", async () => (await role(b)) === "standby");

      const login = await driveLogin(b.url, { userId: KITE.userId, password: KITE.password });
      assert.ok(login.status < 400, `callback answered ${login.status}: ${login.body}`);
      const fresh = /^KITE_ACCESS_TOKEN=(\S+)\r?$/m.exec(await Deno.readTextFile(b.envFile))?.[1];
      assert.ok(fresh !== undefined && fresh !== first);
      await eventually(
        "a's .env holds it",
        async () => (await Deno.readTextFile(a.envFile)).includes(fresh),
      );
      await eventually("a reconnected on it", async () => {
        const { code, body } = await a.status();
        return code === 200 &&
          body.token?.fingerprint === (await b.status()).body.token?.fingerprint;
      });
      assert.equal((await a.status()).body.role, "holder");
      assert.equal(sim.stats().sockets_open, 1);
    } finally {
      for (const node of nodes) await node.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  ...needsRedis(
    "cluster: Redis down past the lease and back: the feed keeps running, one holder after",
  ),
  async fn() {
    await using redis = await startRedisServer();
    await using sim = await clusterSimulator();
    const dir = await Deno.makeTempDir({ prefix: "kitekeeper_cluster_" });
    const nodes: Node[] = [];
    const sockets = watchSockets(sim, 1);
    try {
      const text = clusterEnv(sim, redis, sim.issueAccessToken());
      const a = await startNode(dir, text);
      nodes.push(a);
      await eventually("a holds", async () => (await role(a)) === "holder");
      const b = await startNode(dir, text);
      nodes.push(b);
      await eventually("b stands by", async () => (await role(b)) === "standby");
      const before = sim.stats().ticks_sent;
      await redis.stop();
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 3));
      const { code, body } = await a.status();
      assert.equal(code, 200, "the holder's feed kept running");
      assert.equal(body.role, "holder");
      assert.ok(body.cluster!.redis.problem !== null, "and says Redis is out of reach");
      assert.ok(sim.stats().ticks_sent > before);
      await redis.start();
      await eventually("b sees a holder again", async () => (await b.status()).code === 200);
      assert.equal(await role(a), "holder");
      assert.equal(await role(b), "standby");
      assert.deepEqual(sockets.stop(), [], "never more than one upstream socket");
    } finally {
      sockets.stop();
      for (const node of nodes) await node.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test({
  ...needsRedis("cluster: a program on a standby's /ws gets an instrument only it asked for"),
  async fn() {
    await using redis = await startRedisServer();
    await using sim = await clusterSimulator();
    const dir = await Deno.makeTempDir({ prefix: "kitekeeper_cluster_" });
    const nodes: Node[] = [];
    let socket: WebSocket | undefined;
    try {
      const token = sim.issueAccessToken();
      const a = await startNode(dir, clusterEnv(sim, redis, token));
      nodes.push(a);
      await eventually("a holds", async () => (await role(a)) === "holder");
      const b = await startNode(dir, clusterEnv(sim, redis, token));
      nodes.push(b);
      await eventually("b is a standby at 200", async () => (await b.status()).code === 200);
      const RELIANCE = 738561; // Not in KITEKEEPER_INSTRUMENTS.
      const got = Promise.withResolvers<void>();
      socket = new WebSocket(
        `${b.url.replace("http", "ws")}/ws?api_key=${KITE.apiKey}&access_token=${token}`,
      );
      socket.binaryType = "arraybuffer";
      socket.onopen = () => socket!.send(JSON.stringify({ a: "subscribe", v: [RELIANCE] }));
      socket.onmessage = (event) => {
        if (typeof event.data === "string") return;
        const decoded = decode(new Uint8Array(event.data));
        if (
          decoded.kind === "ticks" &&
          decoded.ticks.some((tick) => tick.instrument_token === RELIANCE)
        ) {
          got.resolve();
        }
      };
      const guard = setTimeout(() => got.reject(new Error("No RELIANCE tick within 10 s")), 10_000);
      await got.promise.finally(() => clearTimeout(guard));
      assert.ok(String(RELIANCE) in sim.stats().subscriptions, "the holder subscribed it upstream");
      assert.equal(sim.stats().sockets_open, 1);
    } finally {
      socket?.close();
      for (const node of nodes) await node.kill();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

async function startFails(envText: string): Promise<{ code: number; stderr: string }> {
  const dir = await Deno.makeTempDir({ prefix: "kitekeeper_cluster_" });
  try {
    await Deno.writeTextFile(`${dir}/.env`, envText, { mode: 0o600 });
    const output = await new Deno.Command(Deno.execPath(), {
      // --quiet: Deno's own diagnostics (a "Download …" line on a cold cache) are not ours.
      args: [
        "run",
        "--quiet",
        ...FLAGS,
        MAIN,
        "run",
        "--env-file",
        `${dir}/.env`,
        "--listen",
        "127.0.0.1:0",
      ],
      env: denoChildEnv(),
      clearEnv: true,
    }).output();
    return { code: output.code, stderr: new TextDecoder().decode(output.stderr).trim() };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test({
  ...needsRedis(
    "cluster: a wrong password, a server that is not Redis, a bad URL: one line, exit 2",
  ),
  async fn() {
    await using redis = await startRedisServer({ password: "right" });
    const base = envText("http://127.0.0.1:9");
    const wrong = await startFails(
      `${base}KITEKEEPER_REDIS_URL=redis://:wrong@127.0.0.1:${redis.port}\n`,
    );
    assert.equal(wrong.code, 2);
    assert.equal(wrong.stderr.split("\n").length, 1, wrong.stderr);
    assert.match(wrong.stderr, /WRONGPASS/);
    assert.ok(!wrong.stderr.includes(":wrong@"));
    const http = Deno.serve(
      { hostname: "127.0.0.1", port: 0, onListen() {} },
      () => new Response("hi"),
    );
    try {
      const notRedis = await startFails(
        `${base}KITEKEEPER_REDIS_URL=redis://127.0.0.1:${http.addr.port}\n`,
      );
      assert.equal(notRedis.code, 2);
      assert.match(notRedis.stderr, /does not speak the Redis protocol/);
    } finally {
      await http.shutdown();
    }
    const badUrl = await startFails(`${base}KITEKEEPER_REDIS_URL=http://127.0.0.1:6379\n`);
    assert.equal(badUrl.code, 2);
    assert.match(badUrl.stderr, /KITEKEEPER_REDIS_URL/);
  },
});
