/**
 * The shared test stacks. With no environment they run on the embedded
 * defaults (in-memory PGlite, in-memory Bus); with `DATABASE_URL` / `REDIS_URL`
 * they run on the real services, each stack in a fresh database and under a
 * unique Redis key prefix so test files can run in parallel. Either database
 * starts as a copy of the run's pre-migrated template (Templates.ts).
 */
import type {} from "./Templates.ts"
import { HttpServer } from "@effect/platform"
import { SqlClient } from "@effect/sql"
import { PgClient } from "@effect/sql-pg"
import { Context, Effect, Layer, Logger, LogLevel, Option, Redacted } from "effect"
import { randomBytes } from "node:crypto"
import { DatabaseLive, MessagingLive, ServicesLive } from "../../src/App.ts"
import { AppConfig, type AppConfigShape, type DatabaseTarget } from "../../src/layers/AppConfig.ts"
import * as Server from "../../src/http/Server.ts"

/** Real services named by the environment (tests may read it; src may not). */
export const realDatabaseUrl = Option.fromNullable(process.env.DATABASE_URL).pipe(Option.filter((u) => u !== ""))
export const realRedisUrl = Option.fromNullable(process.env.REDIS_URL).pipe(Option.filter((u) => u !== ""))

/** Which backends this run uses, for test names and the run banner. */
export const backendLabel = `${Option.isSome(realDatabaseUrl) ? "postgres" : "pglite"}+${
  Option.isSome(realRedisUrl) ? "redis" : "memory"
}`

const uniqueName = (prefix: string) => `${prefix}_${Date.now().toString(36)}_${randomBytes(4).toString("hex")}`

/**
 * The pre-migrated template globalSetup made for this run, or none outside vitest (benchmarks import these stacks
 * too; their databases are then migrated from scratch). Loaded lazily: importing vitest outside a test run throws.
 */
const template = (key: "pgliteTemplate" | "postgresTemplate"): Effect.Effect<string | undefined> =>
  process.env.VITEST === undefined
    ? Effect.succeed(undefined)
    : Effect.map(Effect.promise(() => import("vitest")), (vitest) => vitest.inject(key) || undefined)

/**
 * A throwaway database: a fresh Postgres database created (and dropped) through
 * `DATABASE_URL`, or an in-memory PGlite.
 */
export const freshDatabaseTarget: Effect.Effect<DatabaseTarget, never, import("effect").Scope.Scope> = Option.match(
  realDatabaseUrl,
  {
    onNone: () =>
      Effect.map(template("pgliteTemplate"), (dump) =>
        ({ _tag: "Embedded", dataDir: Option.none(), ...(dump === undefined ? {} : { template: dump }) }) as const),
    onSome: (adminUrl) =>
      Effect.gen(function*() {
        const name = uniqueName("lectern_t")
        const from = yield* template("postgresTemplate")
        const admin = yield* Layer.build(PgClient.layer({ url: Redacted.make(adminUrl), maxConnections: 1 }))
        const sql = Context.get(admin, SqlClient.SqlClient)
        yield* Effect.acquireRelease(
          sql.unsafe(`CREATE DATABASE ${name}${from === undefined ? "" : ` TEMPLATE ${from}`}`),
          () => Effect.orDie(sql.unsafe(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`))
        ).pipe(Effect.orDie)
        const url = new URL(adminUrl)
        url.pathname = `/${name}`
        return { _tag: "Postgres", url: Redacted.make(url.toString()) } as const
      }).pipe(Effect.orDie)
  }
)

/** The JWT secret of test stacks, so tests can mint tokens (e.g. already expired ones). */
export const testJwtSecret = "lectern-test-secret-0123456789abcdef"

/** Test configuration over a fresh database and a unique Redis prefix. */
export const testConfig = (overrides: Partial<AppConfigShape> = {}) =>
  Layer.unwrapScoped(
    Effect.map(freshDatabaseTarget, (database) =>
      AppConfig.layerTest({
        database,
        redisUrl: Option.map(realRedisUrl, Redacted.make),
        redisKeyPrefix: `${uniqueName("lectern_t")}:`,
        jwtSecret: Option.some(Redacted.make(testJwtSecret)),
        ...overrides
      }))
  )

// Stacks are `fresh` (built with their own memo map): `it.layer` shares one memo
// map per file, and the shared layer constants inside would otherwise hand a second
// stack the first one's parts. Only the outermost layer may be fresh: a fresh layer
// referenced twice in a graph (as `provideMerge` does) is built twice.
const core = (overrides: Partial<AppConfigShape>) =>
  ServicesLive.pipe(
    Layer.provideMerge(Layer.mergeAll(DatabaseLive, MessagingLive)),
    Layer.provideMerge(testConfig(overrides))
  )

// Warnings and errors only: the request log of every test would bury the failures.
const quiet = Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))

/** Database, messaging and services, without HTTP. */
export const coreStack = (overrides: Partial<AppConfigShape> = {}) => Layer.fresh(quiet(core(overrides)))

/** The whole server on a random loopback port. */
export const serverStack = (overrides: Partial<AppConfigShape> = {}) =>
  Layer.fresh(quiet(Server.layerTest.pipe(Layer.provideMerge(core(overrides)))))

/** The base URL of the server under test, e.g. `http://127.0.0.1:41234`. */
export const baseUrl = HttpServer.addressWith((address) =>
  Effect.succeed(address._tag === "TcpAddress" ? `http://127.0.0.1:${address.port}` : "http://unix")
)

/**
 * Options for `it.layer` over a running stack: the real clock (servers, timeouts
 * and token expiry must see real time) and room for PGlite start-up.
 */
export const liveStack = { timeout: 60_000, excludeTestServices: true } as const
