/**
 * A loopback TCP proxy that can go silent: a network partition for one client, where the
 * peer neither answers nor refuses (what a dropped route looks like, unlike a stopped server).
 *
 * @module
 */

/** A running proxy. */
export interface TcpProxy extends AsyncDisposable {
  readonly port: number;
  /** From now on, forward nothing either way and leave new connections unanswered. */
  freeze(): void;
  close(): Promise<void>;
}

/** Forwards connections on a free loopback port to `127.0.0.1:targetPort`. */
export function startTcpProxy(targetPort: number): TcpProxy {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  let frozen = false;

  async function pipe(from: Deno.Conn, to: Deno.Conn): Promise<void> {
    const buffer = new Uint8Array(16 * 1024);
    for (;;) {
      const read = await from.read(buffer);
      if (read === null) break;
      if (frozen) continue; // Swallowed: the far side never hears of it.
      await to.write(buffer.subarray(0, read));
    }
  }

  const accepting = (async () => {
    for await (const client of listener) {
      conns.add(client);
      if (frozen) continue;
      const upstream = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
      conns.add(upstream);
      Promise.all([pipe(client, upstream), pipe(upstream, client)]).catch(() => {}).finally(() => {
        for (const conn of [client, upstream]) {
          try {
            conn.close();
          } catch {
            // Closed by the other direction.
          }
        }
      });
    }
  })().catch(() => {});

  async function close(): Promise<void> {
    listener.close();
    for (const conn of conns) {
      try {
        conn.close();
      } catch {
        // Already closed.
      }
    }
    await accepting;
  }

  return {
    port: (listener.addr as Deno.NetAddr).port,
    freeze() {
      frozen = true;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
