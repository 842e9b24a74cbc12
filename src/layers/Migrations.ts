/**
 * Brings the schema up to date with the `@effect/sql` Migrator (two processes
 * starting together migrate once). Also answers
 * "is the schema current?" for readiness.
 */
import { Migrator } from "@effect/sql"
import { SqlClient } from "@effect/sql"
import { Context, Effect, Layer } from "effect"
import { migrations } from "../migrations/index.ts"
import { ServiceUnavailable } from "../schemas/Errors.ts"

const table = "lectern_migrations"

const runMigrator = Migrator.make({})({ loader: Migrator.fromRecord(migrations), table })

/** The highest migration id this build knows. */
export const latestKnownId = Math.max(...Object.keys(migrations).map((name) => Number(name.split("_")[0])))

/**
 * Runs pending migrations; returns the ones applied by this call. The Migrator
 * takes `LOCK TABLE` on its table inside its own transaction, so processes starting
 * together migrate once; creating that table up front (idempotently) keeps its
 * existence probe from racing.
 */
export const run = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  yield* sql`CREATE TABLE IF NOT EXISTS ${sql(table)} (
    migration_id integer PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now(),
    name text NOT NULL
  )`.pipe(Effect.retry({ times: 2 }))
  const applied = yield* runMigrator
  if (applied.length > 0) {
    yield* Effect.logInfo("migrations applied").pipe(
      Effect.annotateLogs({ migrations: applied.map(([id, name]) => `${id}_${name}`).join(",") })
    )
  }
  return applied
}).pipe(
  Effect.tapError((cause) => Effect.logError("migration failed", cause)),
  Effect.mapError((cause) => new ServiceUnavailable({ service: "database", reason: `migrations: ${cause.message}` })),
  Effect.withSpan("Migrations.run")
)

/** Schema state, for readiness. */
export class Migrations extends Context.Tag("lectern/Migrations")<Migrations, {
  /** The latest applied migration id, and the one this build expects. */
  readonly status: Effect.Effect<{ readonly applied: number; readonly expected: number }, ServiceUnavailable>
}>() {
  /** Migrates at start-up, then reports status. */
  static readonly layer = Layer.effect(
    Migrations,
    Effect.gen(function*() {
      yield* run
      const sql = yield* SqlClient.SqlClient
      const status = sql<{ readonly latest: number | null }>`SELECT max(migration_id) AS latest FROM ${sql(table)}`
        .pipe(
          Effect.map((rows) => ({ applied: Number(rows[0]?.latest ?? 0), expected: latestKnownId })),
          Effect.mapError((e) => new ServiceUnavailable({ service: "database", reason: e.message }))
        )
      return { status }
    })
  )
}
