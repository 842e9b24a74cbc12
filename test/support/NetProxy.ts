/**
 * A TCP proxy in front of a server whose connections a test can cut, and whose
 * new connections it can refuse for a while: a client's network dropping and
 * staying down, so events published meanwhile can only arrive by recovery.
 */
import { Effect } from "effect"
import { connect, createServer, type Socket } from "node:net"

/** A running proxy on 127.0.0.1. */
export interface NetProxy {
  readonly port: number
  /** Drops every open connection (both sides see the TCP connection end). */
  readonly cut: () => void
  /** While down, new connections are dropped as soon as they are accepted. */
  readonly setDown: (down: boolean) => void
}

/** A proxy to `127.0.0.1:target` for the lifetime of the scope. */
export const netProxy = (target: number) =>
  Effect.acquireRelease(
    Effect.async<NetProxy & { readonly close: () => void }>((resume) => {
      const open = new Set<Socket>()
      let down = false
      const cut = () => {
        for (const socket of open) socket.destroy()
        open.clear()
      }
      const server = createServer((inbound) => {
        if (down) return void inbound.destroy()
        const outbound = connect(target, "127.0.0.1")
        open.add(inbound).add(outbound)
        inbound.pipe(outbound).pipe(inbound)
        const drop = () => {
          inbound.destroy()
          outbound.destroy()
        }
        inbound.on("error", drop).on("close", drop)
        outbound.on("error", drop).on("close", drop)
      })
      server.listen(0, "127.0.0.1", () => {
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        resume(Effect.succeed({
          port,
          cut,
          setDown: (value: boolean) => void (down = value),
          close: () => {
            cut()
            server.close()
          }
        }))
      })
    }),
    (proxy) => Effect.sync(proxy.close)
  )
