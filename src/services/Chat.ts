/**
 * Lesson chat: send (idempotent per author and client message id), edit and
 * delete (the author, or the lesson's tutor or an admin), and history (newest
 * first, by creation seq). Each write checks access, then in one transaction takes
 * the room seq, writes the row and the room event; the event is published after
 * commit. Inputs are already decoded with the schemas in `schemas/Chat.ts`.
 */
import { SqlClient } from "@effect/sql"
import { Data, Effect, Schema } from "effect"
import { storeCall } from "../layers/SqlErrors.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import {
  ChatMessage,
  type EditMessageRequest,
  MessageDeleted,
  MessageId,
  type MessageListParams,
  MessageNotFound,
  type SendMessageRequest
} from "../schemas/Chat.ts"
import { Forbidden } from "../schemas/Errors.ts"
import { LessonId, UserId } from "../schemas/Ids.ts"
import { decodeCursor, encodeCursor } from "./Cursor.ts"
import { LessonAccess } from "./LessonAccess.ts"
import { DbInt, RoomLog } from "./RoomLog.ts"

/** Who is acting. */
export type Actor = Pick<CurrentUserInfo, "id" | "role">

const Row = Schema.Struct({
  id: MessageId,
  lessonId: LessonId,
  authorId: UserId,
  authorName: Schema.String,
  body: Schema.NullOr(Schema.String),
  clientMessageId: Schema.NullOr(Schema.String),
  createdAt: Schema.DateTimeUtcFromDate,
  editedAt: Schema.NullOr(Schema.DateTimeUtcFromDate),
  deletedAt: Schema.NullOr(Schema.DateTimeUtcFromDate),
  seq: DbInt
})
const decodeRows = Schema.decodeUnknown(Schema.Array(Row))
const toMessage = (row: typeof Row.Type) => ChatMessage.make(row)
const encodeMessage = Schema.encode(ChatMessage)
const HistoryCursor = Schema.Struct({ seq: Schema.Int })

/** What an edit or delete does to the row. */
type Change = { readonly _tag: "Edit"; readonly body: string } | { readonly _tag: "Delete" }

/** A write that turned out to change nothing: roll back the reserved seq and answer with the stored message. */
class Unchanged extends Data.TaggedError("Unchanged")<{ readonly message: ChatMessage }> {}

/** Lesson chat. */
export class Chat extends Effect.Service<Chat>()("lectern/Chat", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const access = yield* LessonAccess
    const log = yield* RoomLog

    const select = sql.literal(`
      SELECT m.id, m.lesson_id, m.author_id, u.display_name AS author_name, m.body, m.client_message_id,
             m.created_at, m.edited_at, m.deleted_at, m.seq
      FROM chat_messages m JOIN users u ON u.id = m.author_id`)

    const findOne = (lessonId: LessonId, messageId: MessageId) =>
      sql`${select} WHERE m.lesson_id = ${lessonId} AND m.id = ${messageId}`.pipe(
        Effect.flatMap(decodeRows),
        Effect.flatMap((rows) =>
          rows[0] === undefined ? Effect.fail(new MessageNotFound({ messageId })) : Effect.succeed(toMessage(rows[0]))
        )
      )

    /**
     * Posts a message as `actor`. A repeat of an earlier `clientMessageId` by the
     * same author returns the stored message with `duplicate: true` and no event.
     */
    const send = (actor: Actor, lessonId: LessonId, input: SendMessageRequest) =>
      Effect.gen(function*() {
        yield* access.authorize(actor, lessonId, "read")
        const written = yield* sql.withTransaction(Effect.gen(function*() {
          const position = yield* log.reserve(lessonId)
          // After reserve: the head lock serializes this check with concurrent retries.
          if (input.clientMessageId !== undefined) {
            const existing = yield* sql`${select}
              WHERE m.lesson_id = ${lessonId} AND m.author_id = ${actor.id}
                AND m.client_message_id = ${input.clientMessageId}`.pipe(Effect.flatMap(decodeRows))
            if (existing[0] !== undefined) return yield* new Unchanged({ message: toMessage(existing[0]) })
          }
          const rows = yield* sql`
            WITH m AS (
              INSERT INTO chat_messages (lesson_id, author_id, body, client_message_id, seq)
              VALUES (${lessonId}, ${actor.id}, ${input.body}, ${input.clientMessageId ?? null}, ${position.seq})
              RETURNING *
            )
            SELECT m.id, m.lesson_id, m.author_id, u.display_name AS author_name, m.body, m.client_message_id,
                   m.created_at, m.edited_at, m.deleted_at, m.seq
            FROM m JOIN users u ON u.id = m.author_id`.pipe(Effect.flatMap(decodeRows))
          const message = rows[0] === undefined ? yield* Effect.dieMessage("insert returned no row") : toMessage(rows[0])
          const event = yield* log.record(lessonId, position, "chat.created", yield* encodeMessage(message))
          return { message, event }
        }))
        yield* log.publish(written.event)
        return { message: written.message, duplicate: false }
      }).pipe(
        Effect.catchTag("Unchanged", ({ message }) => Effect.succeed({ message, duplicate: true })),
        storeCall,
        Effect.withSpan("Chat.send", { attributes: { lessonId, "user.id": actor.id } })
      )

    /** Edits or deletes one message in one transaction; who may do it is checked under the room lock. */
    const change = <E>(
      actor: Actor,
      lessonId: LessonId,
      messageId: MessageId,
      type: "chat.edited" | "chat.deleted",
      plan: (current: ChatMessage) => Effect.Effect<Change | null, E>
    ) =>
      Effect.gen(function*() {
        const membership = yield* access.membership(actor, lessonId)
        const written = yield* sql.withTransaction(Effect.gen(function*() {
          const position = yield* log.reserve(lessonId)
          const current = yield* findOne(lessonId, messageId)
          if (current.authorId !== actor.id && membership.as === "student") {
            return yield* new Forbidden({ detail: "Only the author, the lesson's tutor or an admin can change a message" })
          }
          const next = yield* plan(current)
          if (next === null) return yield* new Unchanged({ message: current })
          yield* next._tag === "Edit"
            ? sql`UPDATE chat_messages SET body = ${next.body}, edited_at = now() WHERE id = ${messageId}`
            : sql`UPDATE chat_messages SET body = NULL, deleted_at = now() WHERE id = ${messageId}`
          const message = yield* findOne(lessonId, messageId)
          const event = yield* log.record(lessonId, position, type, yield* encodeMessage(message))
          return { message, event }
        }))
        yield* log.publish(written.event)
        return written.message
      }).pipe(
        Effect.catchIf((e): e is Unchanged => e instanceof Unchanged, ({ message }) => Effect.succeed(message)),
        storeCall,
        Effect.withSpan(type === "chat.edited" ? "Chat.edit" : "Chat.remove", {
          attributes: { lessonId, messageId, "user.id": actor.id }
        })
      )

    /** Replaces a message's body (the same body again changes nothing). A deleted message cannot be edited. */
    const edit = (actor: Actor, lessonId: LessonId, messageId: MessageId, input: EditMessageRequest) =>
      change(actor, lessonId, messageId, "chat.edited", (current) =>
        current.deletedAt !== null
          ? Effect.fail(new MessageDeleted({ messageId }))
          : Effect.succeed(current.body === input.body ? null : { _tag: "Edit", body: input.body }))

    /** Deletes a message, leaving a tombstone (body null). Deleting it again changes nothing. */
    const remove = (actor: Actor, lessonId: LessonId, messageId: MessageId) =>
      change(actor, lessonId, messageId, "chat.deleted", (current) =>
        Effect.succeed<Change | null>(current.deletedAt !== null ? null : { _tag: "Delete" }))

    /** The lesson's messages, newest first, deleted ones as tombstones. */
    const history = (actor: Actor, lessonId: LessonId, params: MessageListParams) =>
      Effect.gen(function*() {
        yield* access.authorize(actor, lessonId, "read")
        const limit = params.limit ?? 50
        const before = params.cursor === undefined
          ? Number.MAX_SAFE_INTEGER
          : (yield* decodeCursor(HistoryCursor, params.cursor)).seq
        const rows = yield* sql`${select}
          WHERE m.lesson_id = ${lessonId} AND m.seq < ${before}
          ORDER BY m.seq DESC LIMIT ${limit + 1}`.pipe(Effect.flatMap(decodeRows))
        const items = rows.slice(0, limit).map(toMessage)
        const last = items.at(-1)
        return {
          items,
          nextCursor: rows.length > limit && last !== undefined ? encodeCursor(HistoryCursor, { seq: last.seq }) : null
        }
      }).pipe(storeCall, Effect.withSpan("Chat.history", { attributes: { lessonId } }))

    return { send, edit, remove, history } as const
  })
}) {}
