/**
 * A raw WebSocket test client for the gateway: sends frames (or arbitrary bytes),
 * collects decoded server frames in arrival order, and exposes the close code.
 * Tests stay in Effect; the socket is closed with the test's scope.
 */
import { Deferred, Duration, Effect, Either, type Scope } from "effect"
import type { ClientRequestArgs } from "node:http"
import { type Socket, connect as netConnect } from "node:net"
import WebSocket from "ws"
import { encodeFrame, unpack } from "../../src/schemas/FrameCodec.ts"
import type { ClientFrame } from "../../src/schemas/Frames.ts"
import { baseUrl } from "./TestStack.ts"

/** A decoded server frame, loosely typed for assertions. */
export type Frame = { readonly t: string; readonly [key: string]: unknown }

/** A test socket. */
export interface TestSocket {
  readonly ws: WebSocket
  /** The raw TCP socket under the WebSocket (pause it to stop reading). */
  readonly tcp: Socket
  /** Every frame received so far. */
  readonly frames: Array<Frame>
  readonly send: (frame: ClientFrame | Record<string, unknown>) => Effect.Effect<void>
  readonly sendRaw: (bytes: Uint8Array | string) => Effect.Effect<void>
  /** Waits for the first frame (from `from` on) matching `predicate`; returns it. */
  readonly waitFor: (predicate: (frame: Frame) => boolean, timeout?: Duration.DurationInput) => Effect.Effect<Frame>
  /** The close code, once the socket closed. */
  readonly closed: Effect.Effect<{ readonly code: number; readonly reason: string }>
  readonly isOpen: () => boolean
}

/** Opens a socket to `/ws` of the server under test (or `url`). */
export const openSocket = (url?: string): Effect.Effect<TestSocket, never, Scope.Scope | import("@effect/platform").HttpServer.HttpServer> =>
  Effect.gen(function*() {
    const target = url ?? `${(yield* baseUrl).replace("http", "ws")}/ws`
    const closed = yield* Deferred.make<{ code: number; reason: string }>()
    const frames: Array<Frame> = []
    const waiters = new Set<() => void>()
    let tcp: Socket | undefined
    const ws = yield* Effect.acquireRelease(
      Effect.async<WebSocket>((resume) => {
        const socket = new WebSocket(target, {
          createConnection: (options: ClientRequestArgs) => {
            tcp = netConnect({ host: options.host ?? "127.0.0.1", port: Number(options.port) })
            return tcp
          }
        })
        socket.binaryType = "nodebuffer"
        socket.on("message", (data: Buffer) => {
          const decoded = unpack(new Uint8Array(data))
          frames.push(Either.isRight(decoded) ? decoded.right as Frame : { t: "<undecodable>" })
          for (const wake of waiters) wake()
        })
        socket.on("close", (code, reason) => {
          Deferred.unsafeDone(closed, Effect.succeed({ code, reason: reason.toString("utf8") }))
          for (const wake of waiters) wake()
        })
        socket.on("error", () => {})
        socket.once("open", () => resume(Effect.succeed(socket)))
      }),
      (socket) => Effect.sync(() => socket.terminate())
    )
    const waitFor = (predicate: (frame: Frame) => boolean, timeout: Duration.DurationInput = "5 seconds") =>
      Effect.async<Frame>((resume) => {
        const check = () => {
          const found = frames.find(predicate)
          if (found !== undefined) {
            waiters.delete(check)
            resume(Effect.succeed(found))
          }
        }
        waiters.add(check)
        check()
        return Effect.sync(() => waiters.delete(check))
      }).pipe(
        Effect.timeoutFail({ duration: timeout, onTimeout: () => new Error(`no matching frame; got ${JSON.stringify(frames.slice(-5))}`) }),
        Effect.orDie
      )
    const sendRaw = (bytes: Uint8Array | string) =>
      Effect.async<void>((resume) => {
        if (ws.readyState !== ws.OPEN) return resume(Effect.void)
        ws.send(bytes, () => resume(Effect.void))
      })
    if (tcp === undefined) return yield* Effect.dieMessage("no TCP socket")
    return {
      ws,
      tcp,
      frames,
      send: (frame) => sendRaw(encodeFrame(frame as ClientFrame)),
      sendRaw,
      waitFor,
      closed: Deferred.await(closed),
      isOpen: () => ws.readyState === ws.OPEN
    } satisfies TestSocket
  })

/** Opens a socket and authenticates with `token`; returns it with the `connected` frame. */
export const connected = (token: string, url?: string) =>
  Effect.gen(function*() {
    const socket = yield* openSocket(url)
    yield* socket.send({ t: "connect", v: 1, token })
    const hello = yield* socket.waitFor((f) => f.t === "connected" || f.t === "error")
    if (hello.t !== "connected") return yield* Effect.dieMessage(`connect refused: ${JSON.stringify(hello)}`)
    return socket
  })

let nextId = 1
/** Sends a frame with a fresh id and waits for its ack or error. */
export const request = (socket: TestSocket, frame: Record<string, unknown>, timeout?: Duration.DurationInput) =>
  Effect.gen(function*() {
    const id = nextId++
    yield* socket.send({ ...frame, id })
    return yield* socket.waitFor((f) => (f.t === "ack" || f.t === "error") && f.id === id, timeout)
  })
