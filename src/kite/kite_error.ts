/**
 * Kite's error bodies, `{"status":"error","message":…,"error_type":…}`, as Hono
 * `HTTPException`s so one `onError` renders them all.
 *
 * @module
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Kite's error types, as the simulator and the local endpoint send them. */
export type KiteErrorType =
  | "TokenException"
  | "InputException"
  | "NetworkException"
  | "GeneralException";

/** The JSON response Kite sends for an error. */
export function kiteErrorResponse(
  status: ContentfulStatusCode,
  errorType: KiteErrorType,
  options: { message: string },
): Response {
  return Response.json(
    { status: "error", message: options.message, data: null, error_type: errorType },
    { status },
  );
}

/** An exception the app's `onError` turns into Kite's error body. */
export function kiteError(
  status: ContentfulStatusCode,
  errorType: KiteErrorType,
  options: { message: string },
): HTTPException {
  return new HTTPException(status, {
    message: options.message,
    res: kiteErrorResponse(status, errorType, options),
  });
}
