/**
 * The realtime WebSocket endpoint at `/ws` on the HTTP server (docs/protocol.md).
 * Owns accepting sockets (a `ws` server in `noServer` mode on the node server's
 * upgrade event, so each socket's write buffer is visible for the outbound limit),
 * the fibers running connections' frames, and closing every connection with 4001 on
 * shutdown. A connection's socket side is in WsConnection.ts, its frames in WsFrames.ts.
 */
import { Clock, Context, Duration, Effect, FiberSet, Layer, Metric, Schedule } from "effect"
import type { IncomingMessage, Server } from "node:http"
import { randomBytes } from "node:crypto"
import type { Duplex } from "node:stream"
import { WebSocketServer, type WebSocket } from "ws"
import { ChannelKinds } from "../actors/ChannelKind.ts"
import { AppConfig } from "../layers/AppConfig.ts"
import { toErrorBody } from "../schemas/ErrorCode.ts"
import { Forbidden } from "../schemas/Errors.ts"
import { encodeFrame } from "../schemas/FrameCodec.ts"
import { CloseCodes } from "../schemas/Frames.ts"
import { BoardOptions } from "../services/BoardSnapshots.ts"
import { RoomLogOptions } from "../services/RoomLog.ts"
import { Tokens } from "../services/Tokens.ts"
import { drain } from "./WsFrames.ts"
import { type GatewayEnv, WsConnection } from "./WsConnection.ts"

/** The path of the WebSocket endpoint. */
export const gatewayPath = "/ws"

/** Open WebSocket connections of this process. */
export const openConnections = Metric.gauge("lectern_ws_connections", { description: "Open WebSocket connections" })

const isGatewayRequest = (request: IncomingMessage) => {
  const url = request.url ?? ""
  const path = url.indexOf("?") === -1 ? url : url.slice(0, url.indexOf("?"))
  return path === gatewayPath
}

/**
 * Whether a browser page of `origin` may open the gateway (cross-site WebSocket hijacking is a browser attack: a
 * request without Origin is not a page's). No list: any origin, as tokens travel in the first frame, not cookies.
 */
const allowsOrigin = (allowed: ReadonlyArray<string>) => (origin: string | undefined) =>
  origin === undefined || allowed.length === 0 || allowed.includes("*") || allowed.includes(origin)

/** Answers an upgrade with 403 and the unified error body instead of switching protocols. */
const refuseUpgrade = (socket: Duplex, error: Forbidden) => {
  const body = JSON.stringify({ error: toErrorBody(error) })
  socket.end(
    `HTTP/1.1 403 Forbidden\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n` +
      `Connection: close\r\n\r\n${body}`
  )
}

/**
 * Serves `/ws` on `server`. Must be built after the HTTP app is attached: the
 * platform handles every upgrade through the HttpApp, so this layer takes over
 * the `upgrade` event and hands non-gateway upgrades to the previous listeners.
 */
export const layer = (server: Server) =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const { realtime: config, corsOrigins } = yield* AppConfig
      const originAllowed = allowsOrigin(config.allowedOrigins.length > 0 ? config.allowedOrigins : corsOrigins)
      const kinds = yield* ChannelKinds
      const tokens = yield* Tokens
      const nodeId = randomBytes(6).toString("base64url")
      let counter = 0
      const sockets = new Set<WebSocket>()
      const wss = new WebSocketServer({
        noServer: true,
        maxPayload: config.maxFrameBytes,
        perMessageDeflate: false,
        clientTracking: false
      })
      // Fibers of connections with frames to handle; an idle connection has none (WsConnection.ts).
      const frames = yield* FiberSet.make<void>()
      // One timer for every connection's ping watchdog and token expiry.
      const ticks = new Set<(now: number) => void>()
      const onTick = (tick: (now: number) => void) => {
        ticks.add(tick)
        return () => void ticks.delete(tick)
      }
      yield* Clock.currentTimeMillis.pipe(
        Effect.flatMap((now) => Effect.sync(() => { for (const tick of ticks) tick(now) })),
        Effect.repeat(Schedule.spaced(Duration.millis(Math.min(1_000, Math.max(50, Duration.toMillis(config.pingTimeout) / 5))))),
        Effect.forkScoped
      )
      // Connection fibers run with a Context of the tunables alone. What they call was built with its services
      // already, and every span a command starts copies the fiber's Context: the layer's, holding every service of
      // the app, made that about 10 KB of garbage per command.
      const tunables = Context.make(RoomLogOptions, yield* RoomLogOptions).pipe(Context.add(BoardOptions, yield* BoardOptions))
      const runFork = yield* FiberSet.runtime(frames)<never>().pipe(Effect.mapInputContext((_: Context.Context<never>) => tunables))
      const env: GatewayEnv = { config, kinds, tokens, onTick, run: (effect) => void runFork(effect), drain }

      const accept = (ws: WebSocket, socket: Duplex) => {
        const connection = new WsConnection(ws, socket, `${nodeId}:${(++counter).toString(36)}`, env)
        sockets.add(ws)
        runFork(Effect.flatMap(Clock.currentTimeMillis, (now) => {
          connection.start(now)
          return Metric.increment(openConnections)
        }))
        ws.once("close", () => {
          sockets.delete(ws)
          runFork(Metric.incrementBy(openConnections, -1))
        })
      }

      const previous = server.listeners("upgrade")
      server.removeAllListeners("upgrade")
      const onUpgrade = (request: IncomingMessage, socket: Duplex, head: Buffer) => {
        if (isGatewayRequest(request)) {
          socket.on("error", () => socket.destroy())
          const origin = request.headers.origin
          if (!originAllowed(origin)) {
            runFork(Effect.logInfo("websocket from a foreign origin refused").pipe(Effect.annotateLogs({ origin })))
            return refuseUpgrade(socket, new Forbidden({ detail: `Pages from ${origin} may not open a realtime connection` }))
          }
          wss.handleUpgrade(request, socket, head, (ws) => accept(ws, socket))
          return
        }
        for (const listener of previous) listener.call(server, request, socket, head)
      }
      server.on("upgrade", onUpgrade)

      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          server.off("upgrade", onUpgrade)
          for (const listener of previous) server.on("upgrade", listener as (...args: Array<unknown>) => void)
          // Tell every client to reconnect elsewhere, then end the fibers still running frames.
          const notice = encodeFrame({ t: "disconnect", code: CloseCodes.SHUTDOWN, reason: "server shutting down", reconnect: true })
          for (const ws of sockets) {
            if (ws.readyState === ws.OPEN) {
              ws.send(notice)
              ws.close(CloseCodes.SHUTDOWN, "server shutting down")
            }
          }
          // Give close frames a moment to reach clients before the sockets are cut.
          yield* Effect.repeat(Effect.sync(() => sockets.size), {
            schedule: Schedule.spaced("20 millis"),
            until: (n) => n === 0
          }).pipe(Effect.interruptible, Effect.timeoutOption("1 second"))
          yield* FiberSet.clear(frames)
          for (const ws of sockets) ws.terminate()
          wss.close()
        })
      )
      yield* Effect.logInfo("realtime gateway listening").pipe(Effect.annotateLogs({ path: gatewayPath, node_id: nodeId }))
    })
  )
