/**
 * The error a subcommand throws for words it cannot take; `main.ts` turns it into exit
 * code 2 and the usage line.
 *
 * @module
 */

/** Bad command-line input: an unknown flag, a missing value, a malformed address. */
export class UsageError extends Error {
  /** Builds the error; `message` names what was wrong. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}
