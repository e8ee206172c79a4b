/**
 * The endpoint's Prometheus metric families, from its stats: clients, subscriptions, what
 * went out, and the clients it closed for not reading. No credential appears in any metric.
 *
 * @module
 */
import type { MetricFamily } from "../ops/metrics.ts";
import type { EndpointStats } from "./endpoint.ts";

function gauge(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: "gauge", samples: [{ value }] };
}

function counter(name: string, help: string, value: number): MetricFamily {
  return { name, help, type: "counter", samples: [{ value }] };
}

/** The `/metrics` families of the Kite-compatible endpoint. */
export function endpointFamilies(stats: EndpointStats): MetricFamily[] {
  return [
    gauge("kitekeeper_endpoint_clients", "Local clients connected to /ws now.", stats.clients),
    gauge(
      "kitekeeper_endpoint_subscriptions",
      "Instrument subscriptions held by local clients (one per client and instrument).",
      stats.subscriptions,
    ),
    gauge(
      "kitekeeper_endpoint_instruments",
      "Instruments subscribed upstream: every client's and the configured ones, once each.",
      stats.instruments,
    ),
    counter(
      "kitekeeper_endpoint_connections_total",
      "Local clients accepted on /ws.",
      stats.connections_total,
    ),
    {
      name: "kitekeeper_endpoint_refused_total",
      help: "Upgrades to /ws refused, by reason (auth: bad credentials; full: max clients).",
      type: "counter",
      samples: [
        { labels: { reason: "auth" }, value: stats.refused_total.auth },
        { labels: { reason: "full" }, value: stats.refused_total.full },
      ],
    },
    counter(
      "kitekeeper_endpoint_messages_out_total",
      "Messages sent to local clients (ticks, heartbeats, texts).",
      stats.messages_out_total,
    ),
    counter(
      "kitekeeper_endpoint_bytes_out_total",
      "Bytes sent to local clients.",
      stats.bytes_out_total,
    ),
    counter(
      "kitekeeper_endpoint_slow_drops_total",
      "Local clients closed because they stopped reading and their send queue filled.",
      stats.slow_drops_total,
    ),
    counter(
      "kitekeeper_endpoint_requests_total",
      "Requests (subscribe, unsubscribe, mode, kitekeeper) received from local clients.",
      stats.requests_total,
    ),
    counter(
      "kitekeeper_endpoint_request_errors_total",
      "Requests answered with an error text: malformed, over a limit, or over the rate.",
      stats.request_errors_total,
    ),
  ];
}
