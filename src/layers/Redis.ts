/**
 * The Redis connection (ioredis) for cross-process messaging and shared state.
 * Owns connecting (with a start-up check), key prefixing, dedicated subscriber
 * connections and closing on shutdown. Present only when `REDIS_URL` is set.
 */
import { Context, Duration, Effect, Layer, Redacted, Schedule } from "effect"
import { Redis as IORedis } from "ioredis"
import { ServiceUnavailable } from "../schemas/Errors.ts"

/** Connection settings. */
export interface RedisOptions {
  readonly url: Redacted.Redacted<string>
  /** Prefix of every key and channel, so several deployments can share one Redis. */
  readonly keyPrefix: string
}

const unavailable = (cause: unknown) =>
  new ServiceUnavailable({ service: "redis", reason: cause instanceof Error ? cause.message : String(cause) })

/** Runs one ioredis call, mapping a rejection to `ServiceUnavailable`. */
const attempt = <A>(f: () => Promise<A>) => Effect.tryPromise({ try: f, catch: unavailable })

const connect = (url: string) =>
  Effect.acquireRelease(
    Effect.gen(function*() {
      const client = new IORedis(url, {
        lazyConnect: true,
        maxRetriesPerRequest: 2,
        enableOfflineQueue: true,
        connectTimeout: 5_000,
        // Reconnect forever with capped backoff: a Redis restart must not need a Lectern restart.
        retryStrategy: (times) => Math.min(50 * 2 ** times, 2_000)
      })
      // Without a listener ioredis reports connection errors as unhandled; they surface through calls instead.
      client.on("error", () => {})
      yield* attempt(() => client.connect()).pipe(
        Effect.retry(Schedule.exponential("200 millis").pipe(Schedule.intersect(Schedule.recurs(4)))),
        Effect.tapError(() => Effect.sync(() => client.disconnect()))
      )
      return client
    }),
    (client) =>
      attempt(() => client.quit()).pipe(
        Effect.timeout(Duration.seconds(2)),
        // A quit that fails or hangs still must not keep the socket open: force it.
        Effect.catchAll((error) =>
          Effect.zipRight(
            Effect.logDebug("redis quit failed; disconnecting", error),
            Effect.sync(() => client.disconnect())
          )
        )
      )
  )

/** A Redis client plus the ability to open dedicated connections (pub/sub needs its own). */
export class Redis extends Context.Tag("lectern/Redis")<Redis, {
  /** The shared command connection. */
  readonly client: IORedis
  readonly keyPrefix: string
  /** Opens another connection for the lifetime of the scope (subscribers cannot run commands). */
  readonly connection: Effect.Effect<IORedis, ServiceUnavailable, import("effect").Scope.Scope>
  /** Round trip to the server. */
  readonly ping: Effect.Effect<void, ServiceUnavailable>
  /** Runs a command on the shared connection, failing with `ServiceUnavailable`. */
  readonly use: <A>(f: (client: IORedis) => Promise<A>) => Effect.Effect<A, ServiceUnavailable>
}>() {
  /** Connects to `url` (retrying a few times at start), closed with the scope. */
  static readonly layer = (options: RedisOptions) =>
    Layer.scoped(
      Redis,
      Effect.gen(function*() {
        const url = Redacted.value(options.url)
        const client = yield* connect(url)
        return {
          client,
          keyPrefix: options.keyPrefix,
          connection: connect(url),
          ping: Effect.asVoid(attempt(() => client.ping())),
          use: (f) => attempt(() => f(client))
        }
      })
    )
}
