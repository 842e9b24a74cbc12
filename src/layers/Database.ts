/**
 * The SQL connection behind every service: a `PgClient` to PostgreSQL, or to an
 * embedded PGlite exposed through `pglite-socket`, so the same client and the same
 * SQL run on both. Owns connecting (with retry), and closing on shutdown; it does
 * not own the schema (see `Migrations`).
 */
import { PGlite } from "@electric-sql/pglite"
import { PGLiteSocketServer } from "@electric-sql/pglite-socket"
import * as Reactivity from "@effect/experimental/Reactivity"
import { type SqlConnection, SqlClient, Statement } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Context, Duration, Effect, Layer, Option, Queue, Redacted, Schedule, String as Str } from "effect"
import { mkdirSync } from "node:fs"
import { readFile } from "node:fs/promises"
import { join } from "node:path"
import { ServiceUnavailable } from "../schemas/Errors.ts"
import { AppConfig, type DatabaseTarget } from "./AppConfig.ts"

/** Tunables shared by both targets. */
export interface DatabaseOptions {
  readonly poolSize: number
  readonly connectTimeout: Duration.DurationInput
  /** How start-up retries an unreachable database before giving up. */
  readonly retry: Schedule.Schedule<unknown, unknown>
}

const defaults: DatabaseOptions = {
  poolSize: 10,
  connectTimeout: "5 seconds",
  retry: Schedule.exponential("250 millis", 2).pipe(
    Schedule.either(Schedule.spaced("2 seconds")),
    Schedule.intersect(Schedule.recurs(5))
  )
}

// Column names are mapped snake_case <-> camelCase, but never the keys *inside* json
// values: those are user data (board element props, flag attributes) and must round-trip.
const clientOptions = {
  applicationName: "lectern",
  transformResultNames: Str.snakeToCamel,
  transformQueryNames: Str.camelToSnake,
  transformJson: false
} as const

const unavailable = (variable: string) => (cause: unknown) =>
  new ServiceUnavailable({ service: "database", reason: `${variable}: ${describeCause(cause)}` })

const describeCause = (cause: unknown): string => {
  if (typeof cause === "object" && cause !== null) {
    const inner = "cause" in cause ? cause.cause : undefined
    if (inner instanceof Error) return inner.message
    if (cause instanceof Error) return cause.message
  }
  return String(cause)
}

/** PostgreSQL at `url`, retried with backoff at start, closed on shutdown. */
export const layerPostgres = (
  url: Redacted.Redacted<string>,
  options: Partial<DatabaseOptions> = {}
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, ServiceUnavailable> => {
  const opts = { ...defaults, ...options }
  return PgClient.layer({
    ...clientOptions,
    url,
    maxConnections: opts.poolSize,
    connectTimeout: opts.connectTimeout
  }).pipe(
    Layer.tapErrorCause((cause) => Effect.logWarning("database not reachable yet; retrying", cause)),
    Layer.retry(opts.retry),
    Layer.mapError(unavailable("DATABASE_URL"))
  )
}

/**
 * Embedded PGlite (on disk under `dataDir/pglite`, or in memory), served on a
 * loopback socket so `PgClient` talks the wire protocol to it. PGlite runs one
 * query at a time; pglite-socket pins a transaction to its connection, and needs
 * one spare connection beyond the pool.
 *
 * PGlite is a single session: pglite-socket interleaves the protocol messages of
 * concurrent connections, so a statement sent while another connection is inside
 * an extended-query exchange or a transaction can run inside it, or fail with
 * `portal "" cannot be run`. The `SqlClient` given out here therefore passes
 * every statement, and every transaction as a whole, through one gate. The pool
 * keeps spare connections for the driver's query cancellation on interruption.
 */
export const layerEmbedded = (
  dataDir: Option.Option<string>,
  options: Partial<DatabaseOptions> = {},
  template?: string
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, ServiceUnavailable> =>
  Layer.unwrapScoped(
    Effect.gen(function*() {
      const path = Option.map(dataDir, (dir) => join(dir, "pglite"))
      const db = yield* Effect.acquireRelease(
        Effect.tryPromise({
          try: async () => {
            Option.map(path, (p) => mkdirSync(p, { recursive: true }))
            // A fresh PGlite runs initdb (seconds); a template's dump starts in a fraction of that.
            const loadDataDir = Option.isNone(path) && template !== undefined
              ? new Blob([await readFile(template)])
              : undefined
            return PGlite.create(Option.getOrUndefined(path), loadDataDir === undefined ? {} : { loadDataDir })
          },
          catch: unavailable("LECTERN_DATA_DIR")
        }),
        (db) => Effect.promise(() => db.close())
      )
      return layerPGlite(db, options, Option.getOrElse(path, () => "memory"))
    })
  )

/**
 * A running PGlite served on a loopback socket, behind the gated `PgClient` (see
 * `layerEmbedded`); the caller owns `db` and closes it after this layer's scope.
 */
export const layerPGlite = (
  db: PGlite,
  options: Partial<DatabaseOptions> = {},
  label = "memory"
): Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, ServiceUnavailable> => {
  const opts = { ...defaults, poolSize: 4, ...options }
  return Layer.unwrapScoped(
    Effect.gen(function*() {
      const server = new PGLiteSocketServer({ db, host: "127.0.0.1", port: 0, maxConnections: opts.poolSize + 1 })
      yield* Effect.acquireRelease(
        Effect.tryPromise({ try: () => server.start(), catch: unavailable("LECTERN_DATA_DIR") }),
        () => Effect.promise(() => server.stop())
      )
      const port = Number(server.getServerConn().split(":").at(-1))
      yield* Effect.logDebug("embedded PGlite listening").pipe(
        Effect.annotateLogs({ port, dataDir: label })
      )
      return Layer.scopedContext(gated).pipe(
        Layer.provide(
          PgClient.layer({
            ...clientOptions,
            host: "127.0.0.1",
            port,
            username: "postgres",
            database: "postgres",
            maxConnections: Math.max(2, opts.poolSize),
            connectTimeout: opts.connectTimeout
          }).pipe(Layer.mapError(unavailable("LECTERN_DATA_DIR")))
        ),
        Layer.provide(Reactivity.layer)
      )
    })
  )
}

/** A `SqlClient` over `PgClient` that runs one statement or transaction at a time (see `layerEmbedded`). */
const gated = Effect.gen(function*() {
  const pg = yield* PgClient.PgClient
  // A one-token queue rather than a semaphore: a returned token goes straight to the longest waiter, so a
  // fiber issuing statements back to back cannot starve the others (a semaphore lets the releaser re-take
  // its permit before the woken waiter runs).
  const gate = yield* Queue.bounded<true>(1)
  yield* Queue.offer(gate, true)
  // The token is held as long as the connection is: one statement, or a whole transaction. Acquiring is
  // uninterruptible and gives the token back when no connection comes:
  // - `pg.reserve` gets its client from the pool in a later tick and has no interruption handler: a fiber
  //   interrupted in between never releases that client, and after `poolSize` of them the pool is exhausted.
  // - `withTransaction` closes the acquirer's scope only once a connection is acquired: after a failed
  //   reserve (pool connect timeout) the token would stay taken, and every later statement wait forever.
  const acquirer = Effect.uninterruptible(Effect.gen(function*() {
    yield* Queue.take(gate)
    let held = true
    const giveBack = Effect.suspend(() => {
      if (!held) return Effect.void
      held = false
      return Queue.offer(gate, true)
    })
    yield* Effect.addFinalizer(() => giveBack)
    return yield* pg.reserve.pipe(Effect.map(runToCompletion), Effect.onError(() => giveBack))
  }))
  const client = yield* SqlClient.make({
    acquirer,
    transactionAcquirer: acquirer,
    compiler: PgClient.makeCompiler(clientOptions.transformQueryNames),
    spanAttributes: [["db.system.name", "postgresql"], ["db.namespace", "pglite"]],
    transformRows: Statement.defaultTransforms(clientOptions.transformResultNames, clientOptions.transformJson).array
  })
  return Context.make(SqlClient.SqlClient, client).pipe(Context.add(PgClient.PgClient, pg))
})

/**
 * A connection whose statements, once sent, run to completion even if the caller
 * is interrupted. Interrupting a statement makes the driver send a cancel request
 * on a new connection; PGlite cannot cancel, and the interrupted client then never
 * returns to the pool, until the pool is exhausted. PGlite statements are short,
 * so waiting for the one in flight is cheap.
 */
const runToCompletion = (connection: SqlConnection.Connection): SqlConnection.Connection => ({
  executeStream: (sql, params, transformRows) => connection.executeStream(sql, params, transformRows),
  execute: (sql, params, transformRows) => Effect.uninterruptible(connection.execute(sql, params, transformRows)),
  executeRaw: (sql, params) => Effect.uninterruptible(connection.executeRaw(sql, params)),
  executeValues: (sql, params) => Effect.uninterruptible(connection.executeValues(sql, params)),
  executeUnprepared: (sql, params, transformRows) =>
    Effect.uninterruptible(connection.executeUnprepared(sql, params, transformRows))
})

/** The database chosen by configuration: Postgres when `DATABASE_URL` is set, else embedded PGlite. */
export const layerFor = (target: DatabaseTarget, options: Partial<DatabaseOptions> = {}) =>
  target._tag === "Postgres" ? layerPostgres(target.url, options) : layerEmbedded(target.dataDir, options, target.template)

/** The database chosen by `AppConfig`. */
export const layer: Layer.Layer<PgClient.PgClient | SqlClient.SqlClient, ServiceUnavailable, AppConfig> = Layer
  .unwrapEffect(Effect.map(AppConfig, (config) => layerFor(config.database)))

/** Round-trip latency of a trivial query, bounded by `timeout`. */
export const ping = (timeout: Duration.DurationInput = "2 seconds") =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    yield* sql`SELECT 1`.pipe(
      Effect.timeoutFail({ duration: timeout, onTimeout: () => "timed out" }),
      Effect.mapError(unavailable("database"))
    )
  })
