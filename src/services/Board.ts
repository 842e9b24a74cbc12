/**
 * The lesson whiteboard: element-level last-writer-wins ops (each numbered with
 * the room seq in its own transaction, idempotent per author and client op id),
 * deltas ("ops since version"), the timeline, imports (replace or merge), and
 * access to snapshots (kept by `BoardSnapshots`). Inputs are already decoded
 * with the schemas in `schemas/Board.ts`.
 */
import { SqlClient } from "@effect/sql"
import { Data, Effect, Schema } from "effect"
import { storeCall } from "../layers/SqlErrors.ts"
import {
  type ApplyResult,
  BoardElement,
  BoardFull,
  type BoardOp,
  BoardOpRecord,
  type BoardOps,
  BoardSnapshotInvalid,
  type BoardTimelineParams,
  type ImportResult,
  type ImportSnapshotRequest,
  maxPropsBytes
} from "../schemas/Board.ts"
import { ValidationError } from "../schemas/Errors.ts"
import { type LessonId, UserId } from "../schemas/Ids.ts"
import type { Actor } from "./Chat.ts"
import { decodeCursor, encodeCursor } from "./Cursor.ts"
import { LessonAccess } from "./LessonAccess.ts"
import { BoardOptions, BoardSnapshots } from "./BoardSnapshots.ts"
import { DbInt, RoomLog } from "./RoomLog.ts"

const PropsJson = Schema.parseJson(Schema.Record({ key: Schema.String, value: Schema.Unknown }))
const ElementRow = Schema.Struct({
  elementId: Schema.String,
  props: PropsJson,
  version: DbInt,
  updatedBy: UserId,
  deleted: Schema.Boolean,
  updatedAt: Schema.DateTimeUtcFromDate
})
type ElementRow = typeof ElementRow.Type
const decodeElements = Schema.decodeUnknown(Schema.Array(ElementRow))
const toElement = (row: ElementRow) =>
  BoardElement.make({ id: row.elementId, props: row.props, version: row.version, updatedBy: row.updatedBy, updatedAt: row.updatedAt })
const live = (row: ElementRow | undefined) => (row === undefined || row.deleted ? null : toElement(row))

const OpRow = Schema.Struct({ ...BoardOpRecord.fields, version: DbInt, props: Schema.NullOr(PropsJson), at: Schema.DateTimeUtcFromDate })
const decodeOps = Schema.decodeUnknown(Schema.Array(OpRow))
const encodeElement = Schema.encode(BoardElement)
const decodeCount = Schema.decodeUnknown(Schema.Array(Schema.Struct({ count: Schema.Int })))
const decodeEarlier = Schema.decodeUnknown(Schema.Array(Schema.Struct({ version: DbInt, elementId: Schema.String })))
const TimelineCursor = Schema.Struct({ seq: Schema.Int })

/** An op that must not write: roll back the reserved seq and answer with `result`. */
class Settled extends Data.TaggedError("Settled")<{ readonly result: ApplyResult }> {}

/** Removes the keys set to null: how an update deletes a prop. */
const merge = (base: Readonly<Record<string, unknown>>, patch: Readonly<Record<string, unknown>>) => {
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key]
    else out[key] = value
  }
  return out
}

/** The lesson whiteboard. */
export class Board extends Effect.Service<Board>()("lectern/Board", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const access = yield* LessonAccess
    const log = yield* RoomLog
    const snapshots = yield* BoardSnapshots

    const elementCols = sql.literal("element_id, props::text AS props, version, updated_by, deleted, updated_at")
    const opSelect = sql.literal(`
      SELECT o.seq AS version, o.kind, o.element_id, o.props::text AS props, o.author_id,
             u.display_name AS author_name, o.client_op_id, o.created_at AS at
      FROM board_ops o JOIN users u ON u.id = o.author_id`)

    const findElement = (lessonId: LessonId, elementId: string) =>
      sql`SELECT ${elementCols} FROM board_elements WHERE lesson_id = ${lessonId} AND element_id = ${elementId}`.pipe(
        Effect.flatMap(decodeElements),
        Effect.map((rows) => rows[0])
      )

    /** Fails with `BoardFull` unless `more` live elements still fit (under the room lock, so the count holds). */
    const ensureRoom = (lessonId: LessonId, more: number) =>
      Effect.gen(function*() {
        const { maxElements } = yield* BoardOptions
        const rows = yield* sql`
          SELECT count(*)::int AS count FROM board_elements WHERE lesson_id = ${lessonId} AND NOT deleted`.pipe(
          Effect.flatMap(decodeCount)
        )
        if ((rows[0]?.count ?? 0) + more > maxElements) return yield* new BoardFull({ limit: maxElements })
      })

    /**
     * Applies one op as `actor`. `conflict` (an add of an existing id, an update or
     * delete of a missing or deleted element, or a `baseVersion` older than a change
     * by someone else) and `duplicate` (a repeated `clientOpId`) write nothing.
     */
    const apply = (actor: Actor, lessonId: LessonId, op: BoardOp) =>
      Effect.gen(function*() {
        yield* access.authorize(actor, lessonId, "read")
        const written = yield* sql.withTransaction(Effect.gen(function*() {
          // First: the head lock serializes every check below with concurrent writers of this room.
          const position = yield* log.reserve(lessonId)
          if (op.clientOpId !== undefined) {
            const earlier = yield* sql`
              SELECT seq AS version, element_id FROM board_ops
              WHERE lesson_id = ${lessonId} AND author_id = ${actor.id} AND client_op_id = ${op.clientOpId}`.pipe(
              Effect.flatMap(decodeEarlier)
            )
            if (earlier[0] !== undefined) {
              const element = live(yield* findElement(lessonId, earlier[0].elementId))
              return yield* new Settled({ result: { outcome: "duplicate", version: earlier[0].version, element } })
            }
          }
          const current = yield* findElement(lessonId, op.elementId)
          const staleBase = current !== undefined && op.baseVersion !== undefined &&
            current.version > op.baseVersion && current.updatedBy !== actor.id
          const conflict = op.kind === "add"
            ? current !== undefined
            : current === undefined || current.deleted || staleBase
          if (conflict) {
            return yield* new Settled({ result: { outcome: "conflict", version: current?.version ?? 0, element: live(current) } })
          }
          if (op.kind === "add") yield* ensureRoom(lessonId, 1)
          const props = op.kind === "add"
            ? op.props ?? {}
            : op.kind === "update"
            ? merge(current?.props ?? {}, op.props ?? {})
            : current?.props ?? {}
          if (Buffer.byteLength(JSON.stringify(props), "utf8") > maxPropsBytes) {
            return yield* ValidationError.field("props", `the updated element would exceed ${maxPropsBytes} bytes of JSON`)
          }
          const rows = yield* sql`
            INSERT INTO board_elements (lesson_id, element_id, props, version, updated_by, deleted)
            VALUES (${lessonId}, ${op.elementId}, ${JSON.stringify(props)}::jsonb, ${position.seq}, ${actor.id},
                    ${op.kind === "delete"})
            ON CONFLICT (lesson_id, element_id) DO UPDATE SET
              props = EXCLUDED.props, version = EXCLUDED.version, updated_by = EXCLUDED.updated_by,
              deleted = EXCLUDED.deleted, updated_at = now()
            RETURNING ${elementCols}`.pipe(Effect.flatMap(decodeElements))
          yield* sql`
            INSERT INTO board_ops (lesson_id, seq, author_id, kind, element_id, props, client_op_id)
            VALUES (${lessonId}, ${position.seq}, ${actor.id}, ${op.kind}, ${op.elementId},
                    ${op.props === undefined ? null : JSON.stringify(op.props)}::jsonb, ${op.clientOpId ?? null})`
          const element = live(rows[0])
          const data = {
            op,
            element: element === null ? null : yield* encodeElement(element),
            version: position.seq,
            authorId: actor.id
          }
          const event = yield* log.record(lessonId, position, "board.op", data)
          return { result: { outcome: "applied", version: position.seq, element } satisfies ApplyResult, event }
        }))
        yield* log.publish(written.event)
        yield* snapshots.afterChange(lessonId, written.result.version)
        return written.result
      }).pipe(
        Effect.catchTag("Settled", ({ result }) => Effect.succeed(result)),
        storeCall,
        Effect.withSpan("Board.apply", { attributes: { lessonId, "op.kind": op.kind, "user.id": actor.id } })
      )

    /** The live board at the current room seq. */
    const snapshot = (actor: Actor, lessonId: LessonId) =>
      Effect.zipRight(access.authorize(actor, lessonId, "read"), snapshots.read(lessonId)).pipe(
        storeCall,
        Effect.withSpan("Board.snapshot", { attributes: { lessonId } })
      )

    /**
     * The board as gzip-compressed JSON (a `BoardSnapshot`), from the materialized
     * snapshot — refreshed first when a board change is newer than it.
     */
    const exportCompressed = (actor: Actor, lessonId: LessonId) =>
      Effect.gen(function*() {
        yield* access.authorize(actor, lessonId, "read")
        return yield* snapshots.exportCompressed(lessonId)
      }).pipe(storeCall, Effect.withSpan("Board.exportCompressed", { attributes: { lessonId } }))

    /**
     * Ops after `sinceVersion`, oldest first, at most `limit`. When a snapshot
     * import lies in that range the client must reload the snapshot instead.
     */
    const opsSince = (actor: Actor, lessonId: LessonId, sinceVersion: number, limit = 50) =>
      Effect.gen(function*() {
        yield* access.authorize(actor, lessonId, "read")
        // Read the head first: every seq up to it is committed, so the client may skip to it when no ops remain.
        const head = yield* log.head(lessonId)
        const imported = yield* sql`
          SELECT 1 FROM board_ops WHERE lesson_id = ${lessonId} AND seq > ${sinceVersion} AND kind = 'import' LIMIT 1`
        if (imported.length > 0 || sinceVersion > head.seq) {
          return { ops: [], nextSinceVersion: head.seq, hasMore: false, snapshotRequired: true } satisfies BoardOps
        }
        const rows = yield* sql`${opSelect}
          WHERE o.lesson_id = ${lessonId} AND o.seq > ${sinceVersion} ORDER BY o.seq LIMIT ${limit + 1}`.pipe(
          Effect.flatMap(decodeOps)
        )
        const ops = rows.slice(0, limit)
        const hasMore = rows.length > limit
        const last = ops.at(-1)?.version ?? sinceVersion
        return {
          ops,
          nextSinceVersion: hasMore ? last : Math.max(last, head.seq),
          hasMore,
          snapshotRequired: false
        } satisfies BoardOps
      }).pipe(storeCall, Effect.withSpan("Board.opsSince", { attributes: { lessonId, sinceVersion } }))

    /** Every stored op (imports included), newest first, with its author's name. */
    const timeline = (actor: Actor, lessonId: LessonId, params: BoardTimelineParams) =>
      Effect.gen(function*() {
        yield* access.authorize(actor, lessonId, "read")
        const limit = params.limit ?? 50
        const before = params.cursor === undefined
          ? Number.MAX_SAFE_INTEGER
          : (yield* decodeCursor(TimelineCursor, params.cursor)).seq
        const rows = yield* sql`${opSelect}
          WHERE o.lesson_id = ${lessonId} AND o.seq < ${before} ORDER BY o.seq DESC LIMIT ${limit + 1}`.pipe(
          Effect.flatMap(decodeOps)
        )
        const items = rows.slice(0, limit)
        const last = items.at(-1)
        return {
          items,
          nextCursor: rows.length > limit && last !== undefined ? encodeCursor(TimelineCursor, { seq: last.version }) : null
        }
      }).pipe(storeCall, Effect.withSpan("Board.timeline", { attributes: { lessonId } }))

    /**
     * Imports a snapshot (the lesson's tutor or an admin) as one room event
     * `board.imported`: `replace` makes the board exactly the import; `merge`
     * writes each imported element unless the server's changed after the
     * imported `version`. Every element written gets the import's seq.
     */
    const importSnapshot = (actor: Actor, lessonId: LessonId, request: ImportSnapshotRequest) =>
      Effect.gen(function*() {
        yield* access.authorize(actor, lessonId, "manage")
        const seen = new Map<string, number>()
        const duplicates: Record<string, string> = {}
        request.elements.forEach((element, index) => {
          const first = seen.get(element.id)
          if (first !== undefined) duplicates[`elements.${index}.id`] = `duplicate of elements.${first}.id`
          else seen.set(element.id, index)
        })
        if (Object.keys(duplicates).length > 0) return yield* new BoardSnapshotInvalid({ fields: duplicates })

        const written = yield* sql.withTransaction(Effect.gen(function*() {
          const position = yield* log.reserve(lessonId)
          const current = new Map(
            (yield* sql`SELECT ${elementCols} FROM board_elements WHERE lesson_id = ${lessonId}`.pipe(
              Effect.flatMap(decodeElements)
            )).map((row) => [row.elementId, row])
          )
          const writes: Array<{ readonly id: string; readonly props: unknown; readonly deleted: boolean }> = []
          let kept = 0
          for (const element of request.elements) {
            const server = current.get(element.id)
            const serverNewer = request.strategy === "merge" && server !== undefined && element.version !== undefined &&
              server.version > element.version
            const same = server !== undefined && !server.deleted &&
              JSON.stringify(server.props) === JSON.stringify(element.props)
            if (serverNewer) kept++
            else if (!same) writes.push({ id: element.id, props: element.props, deleted: false })
          }
          let removed = 0
          if (request.strategy === "replace") {
            for (const row of current.values()) {
              if (!row.deleted && !seen.has(row.elementId)) {
                writes.push({ id: row.elementId, props: {}, deleted: true })
                removed++
              }
            }
          }
          const added = writes.filter((w) => !w.deleted && current.get(w.id)?.deleted !== false).length
          if (added > removed) yield* ensureRoom(lessonId, added - removed)
          if (writes.length > 0) {
            yield* sql`
              INSERT INTO board_elements (lesson_id, element_id, props, version, updated_by, deleted)
              SELECT ${lessonId}, r.id, r.props, ${position.seq}, ${actor.id}, r.deleted
              FROM jsonb_to_recordset(${JSON.stringify(writes)}::jsonb) AS r(id text, props jsonb, deleted boolean)
              ON CONFLICT (lesson_id, element_id) DO UPDATE SET
                props = CASE WHEN EXCLUDED.deleted THEN board_elements.props ELSE EXCLUDED.props END,
                version = EXCLUDED.version, updated_by = EXCLUDED.updated_by, deleted = EXCLUDED.deleted,
                updated_at = now()`
          }
          const result: ImportResult = { version: position.seq, written: writes.length - removed, removed, kept }
          const summary = { strategy: request.strategy, written: result.written, removed, kept }
          yield* sql`
            INSERT INTO board_ops (lesson_id, seq, author_id, kind, element_id, props)
            VALUES (${lessonId}, ${position.seq}, ${actor.id}, 'import', '*', ${JSON.stringify(summary)}::jsonb)`
          const event = yield* log.record(lessonId, position, "board.imported", {
            ...summary,
            version: position.seq,
            authorId: actor.id
          })
          return { result, event }
        }))
        yield* log.publish(written.event)
        yield* snapshots.refresh(lessonId).pipe(
          Effect.catchAllCause((cause) => Effect.logWarning("board snapshot refresh failed", cause))
        )
        return written.result
      }).pipe(storeCall, Effect.withSpan("Board.importSnapshot", { attributes: { lessonId, strategy: request.strategy } }))

    return { apply, snapshot, exportCompressed, opsSince, timeline, importSnapshot } as const
  })
}) {}
