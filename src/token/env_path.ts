/**
 * What the `.env` path is, and reading it safely whatever it has become: every symlink on the
 * way (a deploy's `current -> releases/rN` as well as a link on the file itself), what kind
 * of file it ends at, and a read that never blocks (a named pipe, a terminal) and never
 * takes more than a size limit (`/dev/zero`, a runaway log).
 *
 * @module
 */
import { open } from "node:fs/promises";
import { constants } from "node:fs";
import { type PathLinks, symlinkChain } from "./symlink_chain.ts";

/** What {@linkcode readRegularFile} found. */
export type RegularRead =
  | { readonly kind: "ok"; readonly bytes: Uint8Array; readonly links: number }
  | { readonly kind: "missing" }
  | { readonly kind: "refused"; readonly detail: string };

/** The default of `KITEKEEPER_ENV_MAX_BYTES`: a `.env` is a few hundred bytes. */
export const DEFAULT_ENV_MAX_BYTES = 1024 * 1024;

const READ_CHUNK = 64 * 1024;
// Opening a FIFO for reading waits for a writer and a terminal can become ours: neither may.
const OPEN_FLAGS = constants.O_RDONLY | constants.O_NONBLOCK | constants.O_NOCTTY;

// Linux errno values Deno reports only as "(os error N)", without a code.
const ERRNO_NAMES: Readonly<Record<string, string>> = {
  1: "EPERM",
  2: "ENOENT",
  5: "EIO",
  13: "EACCES",
  20: "ENOTDIR",
  21: "EISDIR",
  27: "EFBIG",
  28: "ENOSPC",
  30: "EROFS",
  36: "ENAMETOOLONG",
  40: "ELOOP",
  122: "EDQUOT",
};

/** A short name for an I/O error (`EACCES`), which never carries file content. */
export function errorCode(error: unknown): string {
  if (!(error instanceof Error)) return "unknown error";
  const code = (error as { code?: unknown }).code;
  if (typeof code === "string" && code !== "") return code;
  const errno = /\(os error (\d+)\)/.exec(error.message)?.[1];
  if (errno !== undefined) return ERRNO_NAMES[errno] ?? `os error ${errno}`;
  return error.name;
}

/**
 * What kind of file `info` describes when it is not a regular file, in words for an
 * operator (`a named pipe (FIFO)`); null for a regular file.
 */
export function nonRegularKind(
  info:
    & { isFile: boolean; isDirectory: boolean; isSymlink: boolean }
    & Partial<
      Pick<Deno.FileInfo, "isFifo" | "isCharDevice" | "isBlockDevice" | "isSocket">
    >,
): string | null {
  if (info.isFile) return null;
  if (info.isDirectory) return "a directory";
  if (info.isFifo) return "a named pipe (FIFO)";
  if (info.isCharDevice) return "a character device";
  if (info.isBlockDevice) return "a block device";
  if (info.isSocket) return "a socket";
  if (info.isSymlink) return "a symlink";
  return "not a regular file";
}

/**
 * Reads `path` if it is a regular file of at most `maxBytes`, without ever blocking: it is
 * opened non-blocking and checked on the open handle (so a swap between a check and the open
 * cannot slip a pipe in). `missing` for no file or a dangling link; `refused` names what the
 * path is (`EISDIR: a directory, not a regular file`) or the I/O error code; never throws.
 * `links` is the file's hard-link count.
 */
export async function readRegularFile(
  path: string,
  options: { maxBytes: number },
): Promise<RegularRead> {
  let handle;
  try {
    handle = await open(path, OPEN_FLAGS);
  } catch (error: unknown) {
    const code = errorCode(error);
    return code === "ENOENT" ? { kind: "missing" } : { kind: "refused", detail: code };
  }
  try {
    const info = await handle.stat();
    const kind = nonRegularKind({
      isFile: info.isFile(),
      isDirectory: info.isDirectory(),
      isSymlink: false,
      isFifo: info.isFIFO(),
      isCharDevice: info.isCharacterDevice(),
      isBlockDevice: info.isBlockDevice(),
      isSocket: info.isSocket(),
    });
    if (kind !== null) {
      const code = info.isDirectory() ? "EISDIR: " : "";
      return { kind: "refused", detail: `${code}${kind}, not a regular file` };
    }
    const tooBig = (size: number) => ({
      kind: "refused" as const,
      detail: `EFBIG: ${size} bytes or more, over the limit of ${options.maxBytes} ` +
        "(KITEKEEPER_ENV_MAX_BYTES)",
    });
    if (info.size > options.maxBytes) return tooBig(info.size);
    // Read to the end, not to the stat's size: the file may have grown since, up to the limit.
    const chunks: Uint8Array[] = [];
    let total = 0;
    while (total <= options.maxBytes) {
      const chunk = new Uint8Array(Math.min(READ_CHUNK, options.maxBytes + 1 - total));
      const { bytesRead } = await handle.read(chunk, 0, chunk.length, null);
      if (bytesRead === 0) break;
      chunks.push(chunk.subarray(0, bytesRead));
      total += bytesRead;
    }
    if (total > options.maxBytes) return tooBig(total);
    const bytes = new Uint8Array(total);
    let offset = 0;
    for (const chunk of chunks) {
      bytes.set(chunk, offset);
      offset += chunk.length;
    }
    return { kind: "ok", bytes, links: Number(info.nlink) };
  } catch (error: unknown) {
    return { kind: "refused", detail: errorCode(error) };
  } finally {
    await handle.close().catch(() => {});
  }
}

/**
 * Why `path` cannot serve as the daemon's `.env`, or null when it can: it must be (or be
 * about to be) a regular file that a write can replace atomically by renaming a temp file
 * over it. A named pipe, a device, a directory, and a file descriptor path (`/dev/fd/N`, a
 * shell's `<(…)`) cannot. A missing file can: the first login creates it.
 */
export async function envPathProblem(path: string): Promise<string | null> {
  let resolved: PathLinks;
  try {
    resolved = await symlinkChain(path);
  } catch (error: unknown) {
    return `it cannot be resolved (${errorCode(error)})`;
  }
  const special = [...resolved.links, resolved.target].find((part) =>
    /^\/(?:proc|dev)\//.test(part)
  );
  if (special !== undefined) {
    return `it leads through ${special}, a file descriptor or device path, not a file that can be replaced atomically`;
  }
  let info: Deno.FileInfo;
  try {
    info = await Deno.stat(path);
  } catch (error: unknown) {
    if (error instanceof Deno.errors.NotFound) return null;
    return `it cannot be examined (${errorCode(error)})`;
  }
  const kind = nonRegularKind(info);
  return kind === null ? null : `it is ${kind}, not a regular file that can be replaced atomically`;
}
