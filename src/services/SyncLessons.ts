/**
 * The lesson side of sync: the chat and board mutation handlers, and the lesson
 * part of a pull — for every lesson the user takes part in, the room events after
 * the checkpoint's position, or (new to the device, or a gap the log cannot
 * replay) a reset with the board snapshot and the newest chat messages.
 */
import { SqlClient } from "@effect/sql"
import { DateTime, Effect, Option, Schema } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import { LessonId } from "../schemas/Ids.ts"
import type { RoomEvent } from "../schemas/Room.ts"
import type { LessonChanges } from "../schemas/Sync.ts"
import { Board } from "./Board.ts"
import { Chat } from "./Chat.ts"
import { LessonAccess } from "./LessonAccess.ts"
import { RoomLog } from "./RoomLog.ts"
import { SyncChatNotices } from "./SyncChatNotices.ts"
import type { LogPosition } from "./SyncCheckpoints.ts"
import type { SyncActor } from "./SyncMutation.ts"
import { roomHandlers } from "./SyncRoomHandlers.ts"

/** The lesson part of a pull. */
export interface LessonPart {
  readonly lessons: ReadonlyArray<typeof LessonChanges.Type>
  readonly removed: ReadonlyArray<LessonId>
  /** The positions to store in the new checkpoint. */
  readonly positions: Readonly<Record<string, LogPosition>>
  readonly more: boolean
}

/** Lessons reset (snapshot loaded) per pull; the rest follow with the next pull (`hasMore`). */
const resetsPerPull = 20
/** Chat messages in a lesson reset (older ones: the chat history route). */
const resetChatMessages = 50

const HeadRow = Schema.Struct({ lessonId: LessonId, epoch: Schema.String, seq: Schema.Union(Schema.Number, Schema.NumberFromString) })

const toWire = (event: RoomEvent) => ({ seq: event.seq, type: event.type, data: event.data, at: DateTime.unsafeFromDate(event.at) })

/**
 * Lesson chat and board for sync. Its `Chat` and `Board` must be built over
 * `SyncRoomLog.layerHolding` (see `App.SyncLive`); its `RoomLog` is the real one.
 */
export class SyncLessons extends Effect.Service<SyncLessons>()("lectern/SyncLessons", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const config = yield* AppConfig
    const access = yield* LessonAccess
    const log = yield* RoomLog
    const chat = yield* Chat
    const board = yield* Board
    const notices = yield* SyncChatNotices
    const handlers = roomHandlers({ chat, board, log, sql, notices })

    // One read for every lesson's head (RoomLog.head reads one lesson at a time), so unchanged lessons cost nothing.
    const heads = (lessonIds: ReadonlyArray<LessonId>) =>
      lessonIds.length === 0
        ? Effect.succeed(new Map<string, LogPosition>())
        : sql`SELECT lesson_id, epoch, seq FROM room_heads WHERE lesson_id IN ${sql.in(lessonIds)}`.pipe(
          Effect.flatMap(Schema.decodeUnknown(Schema.Array(HeadRow))),
          Effect.map((rows) => new Map(rows.map((r) => [r.lessonId, { epoch: r.epoch, seq: r.seq }]))),
          storeCall
        )

    /** The lesson as a whole: its board snapshot and newest messages, and the position they are current to. */
    const reset = (actor: SyncActor, lessonId: LessonId) =>
      Effect.gen(function*() {
        const head = yield* log.head(lessonId)
        const snapshot = yield* board.snapshot(actor, lessonId)
        // No cursor is passed, so an invalid cursor cannot happen.
        const messages = yield* chat.history(actor, lessonId, { limit: resetChatMessages }).pipe(
          Effect.catchTag("InvalidCursor", (e) => Effect.die(e))
        )
        // The snapshot is consistent with room seq `version`; later events (chat ones included) follow.
        const position = { epoch: head.epoch, seq: snapshot.version }
        return {
          position,
          changes: { lessonId, ...position, reset: true, events: [], board: snapshot, chat: messages.items }
        }
      })

    /** What changed in the user's lessons since `since` (everything when absent). */
    const changes = (actor: SyncActor, since: Readonly<Record<string, LogPosition>> | undefined) =>
      Effect.gen(function*() {
        const lessonIds = yield* access.lessonsOf(actor.id)
        const current = yield* heads(lessonIds)
        const positions: Record<string, LogPosition> = {}
        const lessons: Array<typeof LessonChanges.Type> = []
        const mine = new Set<string>(lessonIds)
        const removed: Array<LessonId> = Object.keys(since ?? {}).flatMap((id) =>
          mine.has(id) ? [] : Option.toArray(Schema.decodeUnknownOption(LessonId)(id))
        )
        let resets = 0
        let more = false
        for (const lessonId of lessonIds) {
          const known = since?.[lessonId]
          const head = current.get(lessonId)
          if (known !== undefined) {
            if (head !== undefined && head.epoch === known.epoch && head.seq === known.seq) {
              positions[lessonId] = known
              continue
            }
            const recovery = yield* log.since(lessonId, known, config.sync.pullEventsLimit)
            if (recovery._tag === "Events") {
              const last = recovery.events.at(-1)
              const position = last === undefined ? known : { epoch: last.epoch, seq: last.seq }
              positions[lessonId] = position
              if (recovery.events.length > 0) {
                lessons.push({ lessonId, ...position, reset: false, events: recovery.events.map(toWire) })
              }
              continue
            }
          }
          if (resets === resetsPerPull) {
            // Left out of the checkpoint: the next pull resets it.
            more = true
            continue
          }
          resets++
          const loaded = yield* reset(actor, lessonId).pipe(
            // Removed from the lesson since the list was read: it is no longer theirs.
            Effect.catchTags({ LessonNotFound: () => Effect.succeed(null), Forbidden: () => Effect.succeed(null) })
          )
          if (loaded === null) {
            if (known !== undefined) removed.push(lessonId)
            continue
          }
          positions[lessonId] = loaded.position
          lessons.push(loaded.changes)
        }
        return { lessons, removed, positions, more } satisfies LessonPart
      }).pipe(Effect.withSpan("SyncLessons.changes"))

    return { handlers, changes } as const
  })
}) {}
