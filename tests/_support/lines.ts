/**
 * Line-by-line reading of a child process's output, for tests that wait on what a process
 * prints instead of sleeping.
 *
 * @module
 */

/** Reads lines of a text stream, keeping every line seen. */
export class LineReader {
  readonly #reader: ReadableStreamDefaultReader<string>;
  #buffer = "";
  /** Every complete line read so far. */
  readonly seen: string[] = [];

  /** Wraps a byte stream such as `child.stdout`. */
  constructor(stream: ReadableStream<Uint8Array>) {
    this.#reader = stream.pipeThrough(new TextDecoderStream()).getReader();
  }

  /** Resolves with the first line from now on that matches; rejects if the stream ends first. */
  async until(pattern: RegExp): Promise<RegExpExecArray> {
    let index = this.seen.length;
    while (true) {
      for (; index < this.seen.length; index++) {
        const match = pattern.exec(this.seen[index]!);
        if (match !== null) {
          index++;
          return match;
        }
      }
      const { value, done } = await this.#reader.read();
      if (done) {
        throw new Error(`Failed to see ${pattern}: output ended after:\n${this.seen.join("\n")}`);
      }
      this.#buffer += value;
      const lines = this.#buffer.split("\n");
      this.#buffer = lines.pop() ?? "";
      this.seen.push(...lines);
    }
  }

  /** Reads to the end and returns all the text seen. */
  async rest(): Promise<string> {
    while (true) {
      const { value, done } = await this.#reader.read();
      if (done) break;
      this.#buffer += value;
    }
    if (this.#buffer !== "") this.seen.push(...this.#buffer.split("\n"));
    this.#buffer = "";
    return this.seen.join("\n");
  }
}
