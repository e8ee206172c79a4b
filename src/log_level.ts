/**
 * How much a log line matters. Its own leaf so the pure lifecycle machine and the logger can
 * share it without either importing the other.
 *
 * @module
 */

/** A log line's level; `debug` is quiet by default. */
export type LogLevel = "debug" | "info" | "warn" | "error";
