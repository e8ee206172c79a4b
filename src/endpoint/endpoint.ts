/**
 * The Kite-compatible ticker endpoint: local programs open `…/ws?api_key=K&access_token=T`
 * with an official Kite client and get Kite's protocol, served from kitekeeper's own upstream
 * sockets, which never die on them.
 *
 * Per client, Kite's behaviour: only its instruments, each in its mode (packets cut from the
 * upstream bytes, framed again once per distinct set of instruments and modes), the last tick
 * held for each instrument right after a subscribe or mode change, a 1-byte heartbeat after
 * about a second with nothing else, `order` text messages from Kite, and Kite's
 * `{"type":"error","data":…}` text for its own mistakes, the connection kept.
 *
 * Upstream: the registry's union of every client's subscriptions (and the configured
 * instruments), spread over Kite's sockets by `planShards`; each change of plan is handed to
 * `onPlan` (the lifecycle actor) once the requests of one burst are in.
 *
 * Bounds: `maxClients` connections; a request of at most `maxRequestBytes`, at most `burst`
 * requests at once and `requestsPerSecond` after (the excess is ignored, with an error text
 * at most once a second); a client whose unsent bytes pass `maxQueuedBytes` is closed with
 * {@linkcode CLOSE_SLOW}, so it never holds anyone else up.
 *
 * Opt-in notices: after `{"a":"kitekeeper","v":["notices"]}` a client also gets
 * `{"type":"message","data":{"kitekeeper":"state",…}}` on each change of kitekeeper's state
 * and `{"type":"message","data":{"kitekeeper":"gap","from":…,"to":…,"seconds":…}}` when the
 * feed is Live again after a gap. Nothing is sent unasked.
 *
 * @module
 */
import type { Clock, TimerId } from "../clock.ts";
import type { Mode } from "../kite/packets.ts";
import type { Actor } from "../lifecycle/actor.ts";
import type { Snapshot } from "../lifecycle/machine.ts";
import type { Logger } from "../log.ts";
import { kiteErrorResponse } from "../kite/kite_error.ts";
import { type ClientRequest, parseClientRequest } from "./client_request.ts";
import type { CredentialCheck } from "./credentials.ts";
import { cutMessage, indexPackets, type LowerModes } from "./frames.ts";
import { LastPackets } from "./last_packets.ts";
import { MAX_SHARD_INSTRUMENTS, MAX_SHARDS } from "../lifecycle/machine.ts";
import { planShards, samePlans, type ShardPlan } from "./shard_plan.ts";
import { type ClientId, SubscriptionRegistry } from "./subscription_registry.ts";

/** Close code for a client whose send queue filled: it stopped reading, or reads too slowly. */
export const CLOSE_SLOW = 4008;
/** Close code when kitekeeper shuts down (WebSocket's "going away"). */
export const CLOSE_GOING_AWAY = 1001;

/** The endpoint's bounds; every one has a default. */
export interface EndpointLimits {
  /** Connections at once; default 64 (`KITEKEEPER_MAX_CLIENTS`). */
  readonly maxClients: number;
  /** Unsent bytes a client may have before it is closed; default 8 MiB. */
  readonly maxQueuedBytes: number;
  /** Largest request, in characters; default 256 KiB (9000 tokens fit). */
  readonly maxRequestBytes: number;
  /** Requests a client may send at once; default 1000. */
  readonly burst: number;
  /** Requests a second a client may send after a burst; default 100. */
  readonly requestsPerSecond: number;
  /** A heartbeat goes to a client that had nothing for this long; default 1000 ms. */
  readonly heartbeatMs: number;
  /** Requests within this long of each other make one change of plan; default 20 ms. */
  readonly planDelayMs: number;
}

/** Options of {@linkcode createEndpoint}. */
export interface EndpointOptions {
  /** Decides who may connect. */
  readonly credentials: CredentialCheck;
  /** The configured instruments (always subscribed upstream), with their mode. */
  readonly base: ReadonlyMap<number, Mode>;
  /** Receives each new plan of upstream subscriptions (not the first: `base` on shard 0). */
  onPlan(plan: readonly ShardPlan[]): void;
  /** Kitekeeper's state, for notices. */
  readonly lifecycle: Pick<Actor, "subscribe" | "snapshot">;
  readonly clock: Clock;
  readonly log: Logger;
  readonly limits?: Partial<EndpointLimits>;
  /**
   * An ltp packet for a quote or full client: `hold` it back (a live upstream: its next tick
   * comes in the raised mode) or `pass` it on (a recording; the default).
   */
  readonly lowerModes?: LowerModes;
}

/** What `/status` and `/metrics` show of the endpoint. */
export interface EndpointStats {
  readonly clients: number;
  readonly max_clients: number;
  /** Instruments subscribed upstream (the union). */
  readonly instruments: number;
  /** Client–instrument pairs (one instrument held by two clients counts twice). */
  readonly subscriptions: number;
  /** Instruments planned on each upstream socket. */
  readonly shards: readonly number[];
  readonly connections_total: number;
  /** Upgrades refused: bad credentials, or `max_clients` reached. */
  readonly refused_total: { readonly auth: number; readonly full: number };
  readonly messages_out_total: number;
  readonly bytes_out_total: number;
  /** Clients closed because their send queue filled. */
  readonly slow_drops_total: number;
  readonly requests_total: number;
  /** Requests answered with an error text (bad, over a limit, or over the rate). */
  readonly request_errors_total: number;
}

/** The endpoint: the `/ws` upgrade, and what the upstream feeds it. */
export interface Endpoint extends AsyncDisposable {
  /** Answers a `/ws` request: an upgrade, or Kite's refusal (400, 403, 429, 503). */
  upgrade(request: Request): Promise<Response>;
  /** A binary message from Kite, as received: its ticks go to the clients holding them. */
  publish(message: Uint8Array): void;
  /** A text message from Kite to pass on to every client (an `order` update), verbatim. */
  forward(text: string): void;
  /**
   * The most bytes any client has not been sent yet: a source that can go faster than the
   * clients read (a journal replay at full speed) waits while this is high.
   */
  backlog(): number;
  /** The current plan of upstream subscriptions. */
  plan(): readonly ShardPlan[];
  stats(): EndpointStats;
  /** Closes every client with {@linkcode CLOSE_GOING_AWAY}; later upgrades get 503. */
  close(): Promise<void>;
}

interface Client {
  readonly id: ClientId;
  readonly socket: WebSocket;
  readonly closed: Promise<void>;
  lastSentAt: number;
  /** The client's instruments and modes as one key; `null` after a change, until needed. */
  view: string | null;
  notices: boolean;
  allowance: number;
  allowanceAt: number;
  limitedAt: number;
}

const DEFAULT_LIMITS: EndpointLimits = {
  maxClients: 64,
  maxQueuedBytes: 8 * 1024 * 1024,
  maxRequestBytes: 256 * 1024,
  burst: 1000,
  requestsPerSecond: 100,
  heartbeatMs: 1000,
  planDelayMs: 20,
};
const HEARTBEAT = new Uint8Array(1);
const CLOSE_GRACE_MS = 1000;
/** Order updates seen lately: several upstream sockets may each carry the same one. */
const RECENT_TEXTS = 32;
const REFUSED_SHOWN = 10;

function viewKey(modes: ReadonlyMap<number, Mode>): string {
  return [...modes].sort((a, b) => a[0] - b[0]).map(([token, mode]) => `${token}${mode[0]}`)
    .join(",");
}

function shuttingDown(): Response {
  return kiteErrorResponse(503, "NetworkException", { message: "kitekeeper is shutting down." });
}

function errorText(message: string): string {
  return JSON.stringify({ type: "error", data: message });
}

function overLimit(refused: readonly number[], limit: number): string {
  const shown = refused.slice(0, REFUSED_SHOWN).join(", ");
  const more = refused.length > REFUSED_SHOWN ? ` and ${refused.length - REFUSED_SHOWN} more` : "";
  return `Subscription limit exceeded: kitekeeper streams at most ${limit} instruments ` +
    `(Kite's 3 connections × 3000); not subscribed: ${shown}${more}`;
}

/** Creates the endpoint; it listens to `lifecycle` until closed. */
export function createEndpoint(options: EndpointOptions): Endpoint {
  const { clock, log } = options;
  const limits: EndpointLimits = { ...DEFAULT_LIMITS, ...options.limits };
  const lowerModes = { lowerModes: options.lowerModes ?? "pass" } as const;
  const registry = new SubscriptionRegistry({ base: options.base });
  const last = new LastPackets();
  const clients = new Map<ClientId, Client>();
  const recentTexts: string[] = [];
  let plan: readonly ShardPlan[] = planShards([], registry.wanted());
  let planTimer: TimerId | undefined;
  let beatTimer: TimerId | undefined;
  let nextId = 1;
  let liveLostAt: number | null = null;
  let closed = false;
  const counts = {
    connections: 0,
    refusedAuth: 0,
    refusedFull: 0,
    messages: 0,
    bytes: 0,
    slowDrops: 0,
    requests: 0,
    requestErrors: 0,
  };

  function flushPlan(): void {
    planTimer = undefined;
    const wanted = registry.wanted();
    last.retain(wanted);
    const next = planShards(plan, wanted);
    if (samePlans(plan, next)) return;
    plan = next;
    options.onPlan(next);
  }

  function schedulePlan(): void {
    if (closed) return;
    planTimer ??= clock.setTimeout(flushPlan, limits.planDelayMs);
  }

  function forget(client: Client): void {
    if (clients.get(client.id) !== client) return;
    clients.delete(client.id);
    if (registry.modesOf(client.id).size > 0) schedulePlan();
    registry.remove(client.id);
  }

  function send(client: Client, data: string | Uint8Array): void {
    const socket = client.socket;
    if (socket.readyState !== WebSocket.OPEN) return;
    const size = typeof data === "string" ? data.length : data.byteLength;
    const queued = socket.bufferedAmount;
    // A client with nothing queued takes any one message, however large.
    if (queued > 0 && queued + size > limits.maxQueuedBytes) {
      counts.slowDrops++;
      log(
        "warn",
        `Endpoint client ${client.id} closed: ${queued} bytes unsent (it stopped reading)`,
      );
      forget(client);
      socket.close(CLOSE_SLOW, "Send queue full: the client is not reading");
      return;
    }
    try {
      socket.send(data);
    } catch {
      return; // It went away between the check and the send; its close event cleans up.
    }
    client.lastSentAt = clock.now();
    counts.messages++;
    counts.bytes += size;
  }

  function sendError(client: Client, message: string): void {
    counts.requestErrors++;
    send(client, errorText(message));
  }

  function replay(client: Client, tokens: readonly number[]): void {
    if (tokens.length === 0) return;
    const message = last.message(tokens, registry.modesOf(client.id), lowerModes);
    if (message !== null) send(client, message);
  }

  function notice(data: Record<string, unknown>): string {
    return JSON.stringify({ type: "message", data });
  }

  function stateNotice(snapshot: Snapshot): string {
    const { state } = snapshot;
    return notice({
      kitekeeper: "state",
      state: state.name,
      since: new Date(state.since).toISOString(),
      reason: "reason" in state ? state.reason : "",
    });
  }

  function allowed(client: Client): boolean {
    const now = clock.now();
    const refill = (now - client.allowanceAt) * limits.requestsPerSecond / 1000;
    client.allowance = Math.min(limits.burst, client.allowance + refill);
    client.allowanceAt = now;
    if (client.allowance >= 1) {
      client.allowance -= 1;
      return true;
    }
    if (now - client.limitedAt >= 1000) {
      client.limitedAt = now;
      sendError(
        client,
        `Too many requests: at most ${limits.requestsPerSecond} a second; ignored until then`,
      );
    } else {
      counts.requestErrors++;
    }
    return false;
  }

  function handle(client: Client, request: ClientRequest): void {
    switch (request.kind) {
      case "invalid":
        return sendError(client, request.error);
      case "subscribe": {
        const { accepted, refused } = registry.subscribe(client.id, request.tokens);
        if (refused.length > 0) {
          sendError(client, overLimit(refused, MAX_SHARDS * MAX_SHARD_INSTRUMENTS));
        }
        client.view = null;
        replay(client, accepted);
        break;
      }
      case "unsubscribe":
        registry.unsubscribe(client.id, request.tokens);
        client.view = null;
        break;
      case "mode": {
        const changed = registry.setMode(client.id, request.mode, request.tokens);
        client.view = null;
        replay(client, changed);
        break;
      }
      case "kitekeeper":
        client.notices = request.options.has("notices");
        if (client.notices) send(client, stateNotice(options.lifecycle.snapshot()));
        return;
    }
    if (request.skipped > 0) {
      sendError(client, `Ignored ${request.skipped} entries that are not instrument tokens`);
    }
    schedulePlan();
  }

  function onMessage(client: Client, data: unknown): void {
    if (!clients.has(client.id)) return;
    counts.requests++;
    if (!allowed(client)) return;
    if (typeof data !== "string") {
      return sendError(client, "Invalid message: requests are JSON text, not binary");
    }
    if (data.length > limits.maxRequestBytes) {
      return sendError(
        client,
        `Invalid message: ${data.length} characters; the limit is ${limits.maxRequestBytes}`,
      );
    }
    handle(client, parseClientRequest(data));
  }

  function beat(): void {
    beatTimer = undefined;
    const now = clock.now();
    for (const client of clients.values()) {
      if (now - client.lastSentAt >= limits.heartbeatMs) send(client, HEARTBEAT);
    }
    if (clients.size > 0 && !closed) beatTimer = clock.setTimeout(beat, limits.heartbeatMs / 2);
  }

  const unsubscribe = options.lifecycle.subscribe(function stateChanged(snapshot, previous) {
    const before = previous.state;
    const now = snapshot.state;
    if (before.name === now.name) return;
    if (before.name === "Live") liveLostAt = now.since;
    const texts = [stateNotice(snapshot)];
    if (now.name === "Live" && liveLostAt !== null) {
      texts.push(notice({
        kitekeeper: "gap",
        from: new Date(liveLostAt).toISOString(),
        to: new Date(now.since).toISOString(),
        seconds: (now.since - liveLostAt) / 1000,
      }));
      liveLostAt = null;
    }
    for (const client of clients.values()) {
      if (client.notices) { for (const text of texts) send(client, text); }
    }
  });

  async function upgrade(request: Request): Promise<Response> {
    if (closed) return shuttingDown();
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return kiteErrorResponse(400, "InputException", { message: "Expected a WebSocket upgrade." });
    }
    const query = new URL(request.url).searchParams;
    const ok = await options.credentials(
      query.get("api_key") ?? "",
      query.get("access_token") ?? "",
    );
    if (!ok) {
      counts.refusedAuth++;
      return kiteErrorResponse(403, "TokenException", {
        message: "Incorrect `api_key` or `access_token`.",
      });
    }
    if (closed) return shuttingDown(); // Again: it may have closed during the check.
    if (clients.size >= limits.maxClients) {
      counts.refusedFull++;
      return kiteErrorResponse(429, "NetworkException", {
        message: `Too many connections: kitekeeper serves at most ${limits.maxClients} clients.`,
      });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    socket.binaryType = "arraybuffer";
    const now = clock.now();
    const client: Client = {
      id: nextId++,
      socket,
      closed: new Promise((resolve) => socket.addEventListener("close", () => resolve())),
      lastSentAt: now,
      view: null,
      notices: false,
      allowance: limits.burst,
      allowanceAt: now,
      limitedAt: Number.NEGATIVE_INFINITY,
    };
    clients.set(client.id, client);
    counts.connections++;
    socket.addEventListener("message", (event) => onMessage(client, event.data));
    socket.addEventListener("close", () => {
      forget(client);
      log("debug", `Endpoint client ${client.id} left (${clients.size} connected)`);
    });
    beatTimer ??= clock.setTimeout(beat, limits.heartbeatMs / 2);
    log("debug", `Endpoint client ${client.id} connected (${clients.size} connected)`);
    return response;
  }

  function publish(message: Uint8Array): void {
    const index = indexPackets(message);
    if (index.count === 0) return;
    // One cut per distinct set of instruments and modes, shared by the clients holding it.
    const cuts = new Map<string, Uint8Array | null>();
    for (const client of clients.values()) {
      const modes = registry.modesOf(client.id);
      if (modes.size === 0) continue;
      client.view ??= viewKey(modes);
      let cut = cuts.get(client.view);
      if (cut === undefined) {
        cut = cutMessage(message, index, modes, lowerModes);
        cuts.set(client.view, cut);
      }
      if (cut !== null) send(client, cut);
    }
    last.record(message, index); // After the sends: only later subscribers need it.
  }

  function forward(text: string): void {
    if (recentTexts.includes(text)) return;
    recentTexts.push(text);
    if (recentTexts.length > RECENT_TEXTS) recentTexts.shift();
    for (const client of clients.values()) send(client, text);
  }

  async function close(): Promise<void> {
    if (closed) return;
    closed = true;
    unsubscribe();
    if (planTimer !== undefined) clock.clearTimeout(planTimer);
    if (beatTimer !== undefined) clock.clearTimeout(beatTimer);
    const closing = [...clients.values()].map((client) => {
      if (client.socket.readyState === WebSocket.OPEN) {
        client.socket.close(CLOSE_GOING_AWAY, "kitekeeper is shutting down");
      }
      return client.closed;
    });
    // A real timer: the grace is for real sockets, whatever clock the endpoint runs on.
    let timer: ReturnType<typeof setTimeout> | undefined;
    const grace = new Promise<void>((resolve) => {
      timer = setTimeout(resolve, CLOSE_GRACE_MS);
    });
    await Promise.race([Promise.all(closing), grace]);
    clearTimeout(timer);
    clients.clear();
  }

  return {
    upgrade,
    publish,
    forward,
    backlog() {
      let most = 0;
      for (const client of clients.values()) most = Math.max(most, client.socket.bufferedAmount);
      return most;
    },
    plan: () => plan,
    stats: () => ({
      clients: clients.size,
      max_clients: limits.maxClients,
      instruments: registry.size,
      subscriptions: registry.subscriptions,
      shards: plan.map((shard) => shard.instruments.size),
      connections_total: counts.connections,
      refused_total: { auth: counts.refusedAuth, full: counts.refusedFull },
      messages_out_total: counts.messages,
      bytes_out_total: counts.bytes,
      slow_drops_total: counts.slowDrops,
      requests_total: counts.requests,
      request_errors_total: counts.requestErrors,
    }),
    close,
    [Symbol.asyncDispose]: close,
  };
}
