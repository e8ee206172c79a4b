/**
 * Kite's error bodies, `{"status":"error","message":…,"data":null,"error_type":…}`, as Hono
 * `HTTPException`s so one `onError` renders them all.
 *
 * The types and the status each usually comes with, from Kite's docs ("Exceptions and
 * errors") and the official clients' exception classes (pykiteconnect `exceptions.py`:
 * TokenException 403, PermissionException 403, InputException 400, NetworkException 503,
 * DataException 502, GeneralException 500, OrderException 500). A 429 (rate limit) comes
 * with NetworkException, as users report it ("Too many requests").
 *
 * @module
 */
import { HTTPException } from "hono/http-exception";
import type { ContentfulStatusCode } from "hono/utils/http-status";

/** Kite's error types. */
export type KiteErrorType =
  | "TokenException"
  | "PermissionException"
  | "InputException"
  | "NetworkException"
  | "DataException"
  | "GeneralException"
  | "OrderException"
  | "UserException";

/** Each error type with its usual status and a message like Kite's. */
export const KITE_ERROR_TYPES: Readonly<
  Record<KiteErrorType, { readonly status: ContentfulStatusCode; readonly message: string }>
> = Object.freeze({
  TokenException: { status: 403, message: "Incorrect `api_key` or `access_token`." },
  PermissionException: { status: 403, message: "Insufficient permission for that call." },
  InputException: { status: 400, message: "Invalid input." },
  NetworkException: { status: 503, message: "Service unavailable." },
  DataException: { status: 502, message: "Unknown response from the OMS." },
  GeneralException: { status: 500, message: "Something went wrong." },
  OrderException: { status: 500, message: "Order could not be placed." },
  UserException: { status: 403, message: "Account is blocked." },
});

/** Whether `text` names one of {@linkcode KITE_ERROR_TYPES}. */
export function isKiteErrorType(text: string): text is KiteErrorType {
  return Object.hasOwn(KITE_ERROR_TYPES, text);
}

/** The JSON response Kite sends for an error. */
export function kiteErrorResponse(
  status: ContentfulStatusCode,
  errorType: KiteErrorType,
  options: { message: string; headers?: HeadersInit },
): Response {
  return Response.json(
    { status: "error", message: options.message, data: null, error_type: errorType },
    { status, ...(options.headers === undefined ? {} : { headers: options.headers }) },
  );
}

/** An exception the app's `onError` turns into Kite's error body. */
export function kiteError(
  status: ContentfulStatusCode,
  errorType: KiteErrorType,
  options: { message: string; headers?: HeadersInit },
): HTTPException {
  return new HTTPException(status, {
    message: options.message,
    res: kiteErrorResponse(status, errorType, options),
  });
}
