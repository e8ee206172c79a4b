/**
 * An endpoint served on a loopback port, over a real lifecycle actor whose upstream socket is
 * driven by the test (`live()`, `drop()`), on a fake clock. Ticks are published as the
 * upstream would hand them over.
 *
 * @module
 */
import { FakeClock } from "../../src/testing/fake_clock.ts";
import { createEndpoint, type Endpoint, type EndpointLimits } from "../../src/endpoint/endpoint.ts";
import { credentialCheck } from "../../src/endpoint/credentials.ts";
import type { ShardPlan } from "../../src/endpoint/shard_plan.ts";
import type { Mode } from "../../src/kite/packets.ts";
import { type Actor, createActor } from "../../src/lifecycle/actor.ts";

export const API_KEY = "kk_test_key";
export const CLIENT_TOKEN = "client-credential-0123456789abcdef";
export const KITE_TOKEN = "a".repeat(32);

/** A running endpoint and what it told the upstream. */
export interface EndpointFixture extends AsyncDisposable {
  readonly endpoint: Endpoint;
  readonly actor: Actor;
  readonly clock: FakeClock;
  /** Every plan handed to the upstream, in order. */
  readonly plans: (readonly ShardPlan[])[];
  readonly lines: string[];
  /** `ws://127.0.0.1:PORT/ws?api_key=…&access_token=…` with the client credential. */
  url(options?: { apiKey?: string; token?: string }): string;
  /** Makes the upstream Live (a token, an open socket, data). */
  live(): void;
  /** Fails the upstream socket (a network drop): Reconnecting. */
  drop(): void;
}

/** Starts an endpoint over the configured instruments `base`. */
export function startEndpoint(
  options: { base?: ReadonlyMap<number, Mode>; limits?: Partial<EndpointLimits> } = {},
): EndpointFixture {
  const clock = new FakeClock(1_780_000_000_000);
  const lines: string[] = [];
  const log = (level: string, message: string) => lines.push(`${level} ${message}`);
  const actor = createActor({
    ports: {
      socket: { open() {}, close() {}, subscribe() {}, unsubscribe() {} },
      probe: () => Promise.resolve({ result: "ok" }),
      clock,
      log,
      notify() {},
    },
  });
  const plans: (readonly ShardPlan[])[] = [];
  const endpoint = createEndpoint({
    credentials: credentialCheck({
      apiKey: API_KEY,
      clientTokens: [CLIENT_TOKEN],
      currentToken: () => actor.snapshot().token?.token ?? null,
    }),
    base: options.base ?? new Map(),
    onPlan: (plan) => plans.push(plan),
    lifecycle: actor,
    clock,
    log,
    ...(options.limits === undefined ? {} : { limits: options.limits }),
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen() {} },
    (request) => endpoint.upgrade(request),
  );
  const { port } = server.addr;
  function url(given: { apiKey?: string; token?: string } = {}): string {
    const query = new URLSearchParams({
      api_key: given.apiKey ?? API_KEY,
      access_token: given.token ?? CLIENT_TOKEN,
    });
    return `ws://127.0.0.1:${port}/ws?${query}`;
  }
  function live(): void {
    const snapshot = actor.snapshot();
    if (snapshot.token === null) {
      actor.send({ type: "TokenLoaded", token: KITE_TOKEN, fingerprint: "f1", source: "file" });
    } else {
      clock.tick(1000); // the retry
    }
    const gen = actor.snapshot().gen;
    actor.send({ type: "SocketOpened", gen });
    actor.send({ type: "DataReceived", gen });
  }
  function drop(): void {
    actor.send({
      type: "SocketFailed",
      gen: actor.snapshot().gen,
      kind: "network",
      detail: "reset",
    });
  }
  async function close(): Promise<void> {
    await endpoint.close();
    await actor.stop();
    await server.shutdown();
  }
  return {
    endpoint,
    actor,
    clock,
    plans,
    lines,
    url,
    live,
    drop,
    [Symbol.asyncDispose]: close,
  };
}
