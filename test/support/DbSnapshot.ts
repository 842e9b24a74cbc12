/**
 * "Nothing changed in the database": a snapshot of whole tables (every row as
 * JSON, sorted) to compare before and after a request that must be refused.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"

const Rows = Schema.Array(Schema.Struct({ row: Schema.String }))

/** Every row of each table, as JSON text, in a stable order. */
export const snapshot = (tables: ReadonlyArray<string>) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const result: Record<string, ReadonlyArray<string>> = {}
    for (const table of tables) {
      const rows = yield* sql`SELECT to_jsonb(t)::text AS row FROM ${sql(table)} t ORDER BY 1`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Rows))
      )
      result[table] = rows.map((r) => r.row)
    }
    return result
  }).pipe(Effect.orDie)

/** The tables of lessons and relations. */
export const lessonTables = ["lessons", "lesson_students", "tutor_students"] as const
