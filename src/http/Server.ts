/**
 * The HTTP server: the HttpApi with its handlers, `/openapi.json`, Swagger UI at
 * `/docs`, the outer middleware, and the graceful shutdown sequence (stop
 * accepting, drain in-flight requests up to a deadline, then close).
 */
import { HttpApiBuilder, HttpApiSwagger, HttpServer } from "@effect/platform"
import { NodeHttpServer } from "@effect/platform-node"
import { Duration, Effect, Layer, Schedule } from "effect"
import { createServer, type Server } from "node:http"
import { Server as NetServer, type Socket } from "node:net"
import { AppConfig } from "../layers/AppConfig.ts"
import { Api } from "./Api.ts"
import { AuthenticationLive } from "./Authentication.ts"
import { AuthHttpLive, MeHttpLive } from "./AuthHttp.ts"
import { CallsHttpLive } from "./CallsHttp.ts"
import { Drain } from "./Drain.ts"
import { ErrorEdgeLive } from "./ErrorEdge.ts"
import { FeatureFlagsHttpLive } from "./FeatureFlagsHttp.ts"
import * as Gateway from "./Gateway.ts"
import { HealthHttpLive } from "./HealthHttp.ts"
import { LessonsHttpLive } from "./LessonsHttp.ts"
import { JobsHttpLive } from "./JobsHttp.ts"
import { NotificationsHttpLive } from "./NotificationsHttp.ts"
import { PushHttpLive } from "./PushHttp.ts"
import { appMiddleware } from "./Middleware.ts"
import { RelationsHttpLive } from "./RelationsHttp.ts"
import { RouteNoteLive } from "./RequestContext.ts"
import { RoomHttpLive } from "./RoomHttp.ts"
import { SyncHttpLive } from "./SyncHttp.ts"
import { UsersHttpLive } from "./UsersHttp.ts"

/** The API with every group's handlers (needs the services they use). */
export const ApiLive = HttpApiBuilder.api(Api).pipe(
  Layer.provide([
    HealthHttpLive,
    AuthHttpLive,
    MeHttpLive,
    UsersHttpLive,
    RelationsHttpLive,
    LessonsHttpLive,
    FeatureFlagsHttpLive,
    JobsHttpLive,
    NotificationsHttpLive,
    PushHttpLive,
    RoomHttpLive,
    SyncHttpLive,
    CallsHttpLive
  ]),
  Layer.provide([AuthenticationLive, RouteNoteLive])
)

/** Serves the API on `server`, with docs, the error edge and the outer middleware. */
const serve = Layer.unwrapEffect(
  Effect.gen(function*() {
    const config = yield* AppConfig
    const drain = yield* Drain
    return HttpApiBuilder.serve(appMiddleware(config, drain)).pipe(
      Layer.provide(HttpApiSwagger.layer({ path: "/docs" })),
      Layer.provide(HttpApiBuilder.middlewareOpenApi({ path: "/openapi.json" })),
      Layer.provide(ErrorEdgeLive),
      Layer.provide(ApiLive)
    )
  })
)

/** Sockets of the server, so shutdown can tell when clients have gone. */
const trackConnections = (server: Server) => {
  const open = new Set<Socket>()
  server.on("connection", (socket: Socket) => {
    open.add(socket)
    socket.once("close", () => open.delete(socket))
  })
  return open
}

/**
 * Runs before the server's own finalizer. Stops accepting connections but keeps
 * the open keep-alive ones: Node's `http.Server.close` would drop idle ones at
 * once, cutting requests a client is sending on them at that moment. Instead every
 * response while draining says `Connection: close`, in-flight requests finish (up
 * to the deadline), clients get a moment to leave on their own, and only then are
 * the remaining (idle) connections closed.
 */
const shutdownSequence = (server: Server) =>
  Layer.scopedDiscard(
    Effect.gen(function*() {
      const config = yield* AppConfig
      const drain = yield* Drain
      const open = trackConnections(server)
      yield* Effect.addFinalizer(() =>
        Effect.gen(function*() {
          NetServer.prototype.close.call(server)
          const { abandoned } = yield* drain.drain(config.shutdownTimeout)
          if (abandoned > 0) {
            yield* Effect.logWarning("shutdown deadline reached with requests in flight").pipe(
              Effect.annotateLogs({ abandoned })
            )
          }
          yield* Effect.repeat(Effect.sync(() => open.size), {
            schedule: Schedule.spaced("20 millis"),
            until: (n) => n === 0
          }).pipe(Effect.interruptible, Effect.timeoutOption(idleGrace))
          server.closeAllConnections()
          yield* Effect.logInfo("HTTP server drained").pipe(
            Effect.annotateLogs({ shutdown_deadline_ms: Duration.toMillis(config.shutdownTimeout) })
          )
        })
      )
    })
  )

// How long idle keep-alive clients get to close their connections after the last response.
const idleGrace = Duration.millis(500)

const listenOn = (listen: { readonly port: number; readonly host: string }) => {
  const server = createServer()
  // The gateway is built last so it is finalized first: sockets get their 4001 before HTTP drains.
  return Gateway.layer(server).pipe(
    Layer.provideMerge(shutdownSequence(server)),
    Layer.provideMerge(serve),
    HttpServer.withLogAddress,
    Layer.provideMerge(NodeHttpServer.layer(() => server, listen)),
    Layer.provideMerge(Drain.layer)
  )
}

/** The HTTP server on `HOST:PORT` from `AppConfig`. */
export const layer = Layer.unwrapEffect(Effect.map(AppConfig, (config) => listenOn(config)))

/** The same server on a random loopback port, for tests (`HttpServer` tells the address). */
export const layerTest = Layer.suspend(() => listenOn({ port: 0, host: "127.0.0.1" }))
