/**
 * Two complete server stacks (services with their own caches, HTTP servers on
 * their own ports) standing in for two processes of one deployment. With real
 * services each builds its own Postgres pool and Redis connections over the same
 * database and key prefix; on the embedded defaults they share the one PGlite
 * and the one in-memory Bus, which is all two processes could share there.
 */
import type { HttpServer } from "@effect/platform"
import type { SqlClient } from "@effect/sql"
import { Context, Effect, Layer, Logger, LogLevel, Option, type Scope } from "effect"
import { DatabaseLive, MessagingLive, ServicesLive } from "../../src/App.ts"
import { AppConfig, type AppConfigShape } from "../../src/layers/AppConfig.ts"
import type { Bus } from "../../src/layers/Bus.ts"
import * as Server from "../../src/http/Server.ts"
import { realDatabaseUrl, realRedisUrl, testConfig } from "./TestStack.ts"

/** What a peer provides: its HTTP server, its services, its database client and bus. */
export type PeerServices =
  | HttpServer.HttpServer
  | Layer.Layer.Success<typeof ServicesLive>
  | SqlClient.SqlClient
  | Bus
  | AppConfig

/** What one peer offers a test: run an effect against it (its server, its services). */
export interface Peer {
  /** The configuration both peers share (database target, Redis prefix, JWT secret). */
  readonly config: AppConfigShape
  readonly context: Context.Context<PeerServices>
  readonly run: <A, E>(effect: Effect.Effect<A, E, PeerServices>) => Effect.Effect<A, E>
}

const quiet = Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))

/** Builds a shared-or-own layer: shared ones are built once, here, and handed to both peers. */
const sharedOrOwn = <Out, E>(shared: boolean, layer: Layer.Layer<Out, E, AppConfig>, config: Context.Context<AppConfig>) =>
  shared
    ? Effect.map(Layer.build(quiet(Layer.provide(layer, Layer.succeedContext(config)))), (ctx) => Layer.succeedContext(ctx))
    : Effect.succeed(Layer.provide(layer, Layer.succeedContext(config)))

/**
 * Two peers over one (fresh) database and one Redis prefix, for the lifetime of
 * the scope. The first peer migrates before the second starts.
 */
export const peerServers = (
  overrides: Partial<AppConfigShape> = {}
): Effect.Effect<readonly [Peer, Peer], unknown, Scope.Scope> =>
  Effect.gen(function*() {
    const config = yield* Layer.build(testConfig(overrides))
    const database = yield* sharedOrOwn(Option.isNone(realDatabaseUrl), DatabaseLive, config)
    const messaging = yield* sharedOrOwn(Option.isNone(realRedisUrl), MessagingLive, config)
    const peer = Effect.gen(function*() {
      const context = yield* Layer.build(quiet(
        Server.layerTest.pipe(
          Layer.provideMerge(ServicesLive),
          Layer.provideMerge(Layer.mergeAll(database, messaging, Layer.succeedContext(config)))
        )
      ))
      return {
        config: Context.get(config, AppConfig),
        context,
        run: (effect) => Effect.provide(effect, context)
      } satisfies Peer
    })
    const first = yield* peer
    const second = yield* peer
    return [first, second] as const
  })
