/**
 * Opaque pagination cursors: base64url JSON of the last row's sort key, decoded
 * with the list's own schema so a forged or foreign cursor is an `InvalidCursor`.
 */
import type { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { InvalidCursor } from "../schemas/Errors.ts"

/** Encodes a sort key as an opaque cursor. */
export const encodeCursor = <A, I>(schema: Schema.Schema<A, I>, value: A): string =>
  Buffer.from(JSON.stringify(Schema.encodeSync(schema)(value)), "utf8").toString("base64url")

/** Decodes a cursor produced by {@link encodeCursor} with the same schema. */
export const decodeCursor = <A, I>(schema: Schema.Schema<A, I>, cursor: string): Effect.Effect<A, InvalidCursor> =>
  Effect.try({
    try: () => JSON.parse(Buffer.from(cursor, "base64url").toString("utf8")) as unknown,
    catch: () => new InvalidCursor({})
  }).pipe(Effect.flatMap((json) => Schema.decodeUnknown(schema)(json).pipe(Effect.mapError(() => new InvalidCursor({})))))

/**
 * A timestamp column rendered with its full microsecond precision (ISO 8601, UTC),
 * for cursors: a millisecond value would sort before the row it came from and
 * page that row again.
 */
export const exactTimestamp = (sql: SqlClient.SqlClient, column: string) =>
  sql.literal(`to_char(${column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`)
