/**
 * `GET /metrics`: Prometheus text exposition 0.0.4.
 *
 * @module
 */
import { Hono } from "hono";
import { EXPOSITION_CONTENT_TYPE } from "../ops/metrics.ts";

/** What the metrics route needs. */
export interface MetricsRouteDeps {
  /** The exposition text as of now. */
  metrics(): string;
}

/** The scrape endpoint. */
export function metricsRoutes(deps: MetricsRouteDeps): Hono {
  const routes = new Hono();
  routes.get("/metrics", (c) => {
    c.header("Content-Type", EXPOSITION_CONTENT_TYPE);
    c.header("Cache-Control", "no-store");
    return c.body(deps.metrics());
  });
  return routes;
}
