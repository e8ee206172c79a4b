/**
 * The lifecycle's probe port: `GET /user/profile` for a token, and whether the profile is
 * the pinned user's.
 *
 * @module
 */
import { type KiteEndpoint, probeProfile } from "../kite/session.ts";
import type { ProbeReport } from "../lifecycle/actor.ts";

/** Options of {@linkcode profileProbe}. */
export interface ProfileProbeOptions {
  /** When set, a profile of another user is `wrong_user`. */
  readonly userId?: string | undefined;
}

/** The probe for `endpoint`: what Kite says of a token, as the actor reports it. */
export function profileProbe(
  endpoint: KiteEndpoint,
  options: ProfileProbeOptions = {},
): (token: string) => Promise<ProbeReport> {
  return async function probe(token) {
    const result = await probeProfile(token, endpoint);
    if (result.kind !== "ok") return { result: result.kind, detail: result.detail };
    if (options.userId !== undefined && result.userId !== options.userId) {
      return { result: "wrong_user", userId: result.userId };
    }
    return { result: "ok", userId: result.userId };
  };
}
