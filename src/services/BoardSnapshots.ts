/**
 * The whiteboard's snapshots: the consistent read of the live board (elements and
 * the room seq in one statement), and the materialized snapshot in
 * `board_snapshots` — refreshed every `snapshotEvery` board changes, after
 * imports, and when stale on export — from which the gzip export is served.
 * No authorization here: `Board` checks access before calling.
 */
import { SqlClient } from "@effect/sql"
import { Context, Effect, Schema } from "effect"
import { promisify } from "node:util"
import { gzip } from "node:zlib"
import { BoardElement, BoardSnapshot } from "../schemas/Board.ts"
import type { LessonId } from "../schemas/Ids.ts"
import { exactTimestamp } from "./Cursor.ts"
import { DbInt } from "./RoomLog.ts"

/** Tunables of the board (a `Context.Reference`: override per layer in tests). */
export class BoardOptions extends Context.Reference<BoardOptions>()("lectern/BoardOptions", {
  defaultValue: () => ({
    /** Refresh the materialized snapshot once the board has changed this many room seqs past it. */
    snapshotEvery: 100,
    /** The most live elements one board may hold (bounds snapshots, exports and a misbehaving client). */
    maxElements: 10_000
  })
}) {}

const SnapshotRow = Schema.Struct({ version: DbInt, elements: Schema.parseJson(Schema.Array(BoardElement)) })
const decodeSnapshot = Schema.decodeUnknown(Schema.Array(SnapshotRow))
const encodeSnapshot = Schema.encode(BoardSnapshot)
const decodeVersions = Schema.decodeUnknown(Schema.Array(Schema.Struct({ version: DbInt })))
const gzipAsync = promisify(gzip)

/** Board snapshots. */
export class BoardSnapshots extends Effect.Service<BoardSnapshots>()("lectern/BoardSnapshots", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient

    /** The live board and the room seq it is consistent with, in one statement (one database snapshot). */
    const read = (lessonId: LessonId) =>
      sql`
        SELECT coalesce((SELECT seq FROM room_heads WHERE lesson_id = ${lessonId}), 0) AS version,
               coalesce((SELECT jsonb_agg(jsonb_build_object(
                          'id', element_id, 'props', props, 'version', version, 'updatedBy', updated_by,
                          'updatedAt', ${exactTimestamp(sql, "updated_at")}) ORDER BY version, element_id)
                        FROM board_elements WHERE lesson_id = ${lessonId} AND NOT deleted), '[]'::jsonb)::text AS elements`
        .pipe(
          Effect.flatMap(decodeSnapshot),
          Effect.flatMap((rows) => rows[0] === undefined ? Effect.dieMessage("snapshot query returned no row") : Effect.succeed(rows[0])),
          Effect.map((row): BoardSnapshot => ({ lessonId, version: row.version, elements: row.elements }))
        )

    /** Stores the current board as the materialized snapshot (never replacing a newer one) and returns it. */
    const refresh = (lessonId: LessonId) =>
      Effect.gen(function*() {
        const current = yield* read(lessonId)
        const json = JSON.stringify((yield* encodeSnapshot(current)).elements)
        yield* sql`
          INSERT INTO board_snapshots (lesson_id, version, elements) VALUES (${lessonId}, ${current.version}, ${json}::jsonb)
          ON CONFLICT (lesson_id) DO UPDATE SET version = EXCLUDED.version, elements = EXCLUDED.elements, created_at = now()
          WHERE board_snapshots.version < EXCLUDED.version`
        return current
      })

    /**
     * After a board change at `version`: refreshes the materialized snapshot when it
     * is `snapshotEvery` or more behind. It is a cache, so failures are logged.
     */
    const afterChange = (lessonId: LessonId, version: number) =>
      Effect.gen(function*() {
        const { snapshotEvery } = yield* BoardOptions
        const rows = yield* sql`SELECT version FROM board_snapshots WHERE lesson_id = ${lessonId}`.pipe(
          Effect.flatMap(decodeVersions)
        )
        if (version - (rows[0]?.version ?? 0) >= snapshotEvery) yield* refresh(lessonId)
      }).pipe(Effect.catchAllCause((cause) => Effect.logWarning("board snapshot refresh failed", cause)))

    /**
     * The board as gzip-compressed JSON (a `BoardSnapshot`), from the materialized
     * snapshot — refreshed first when a board change is newer than it.
     */
    const exportCompressed = (lessonId: LessonId) =>
      Effect.gen(function*() {
        const cached = yield* sql`
          SELECT s.version, s.elements::text AS elements FROM board_snapshots s
          WHERE s.lesson_id = ${lessonId} AND s.version >= coalesce(
            (SELECT max(version) FROM board_elements WHERE lesson_id = ${lessonId}), 0)`.pipe(Effect.flatMap(decodeSnapshot))
        const board: BoardSnapshot = cached[0] === undefined
          ? yield* refresh(lessonId)
          : { lessonId, version: cached[0].version, elements: cached[0].elements }
        const json = JSON.stringify(yield* encodeSnapshot(board))
        const bytes = yield* Effect.promise(() => gzipAsync(Buffer.from(json, "utf8")))
        return { version: board.version, gzip: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) }
      })

    return { read, refresh, afterChange, exportCompressed } as const
  })
}) {}
