/**
 * What `/stream` sends as an `event: state`: the part of the `/status` body a page shows.
 *
 * @module
 */
import type { StateName, StatusBody } from "./status_body.ts";

/** The `data` of an `event: state`: the part of /status a page shows. */
export interface StateSummary {
  readonly state: StateName;
  readonly since: string;
  readonly reason: string;
  readonly login_needed: boolean;
  /** Where a login starts; `null` while Live and not past expiry. */
  readonly login_url: string | null;
  /** The current token's expected expiry, ISO 8601; `null` without a token. */
  readonly expected_expiry: string | null;
  readonly user_id: string | null;
}

/** The `/stream` summary of a /status body. */
export function stateSummary(status: StatusBody): StateSummary {
  return {
    state: status.state,
    since: status.since,
    reason: status.reason,
    login_needed: status.login_needed,
    login_url: status.login_url,
    expected_expiry: status.token?.expected_expiry ?? null,
    user_id: status.token?.user_id ?? null,
  };
}
