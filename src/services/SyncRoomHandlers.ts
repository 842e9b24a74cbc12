/**
 * Sync mutations on lesson rooms: chat create / edit / delete and board ops,
 * applied through Chat and Board (so they get their room seq in the mutation's
 * transaction, exactly like online commands) with their room events held until
 * commit and then published, so online peers see them live. A pushed chat
 * message also queues a notice job for the lesson's other members.
 */
import { SqlClient } from "@effect/sql"
import { Effect, Schema } from "effect"
import { storeCall } from "../layers/SqlErrors.ts"
import { BoardElement, BoardOp } from "../schemas/Board.ts"
import { ChatMessage, ClientId, MessageBody, MessageId, MessageNotFound } from "../schemas/Chat.ts"
import { LessonId } from "../schemas/Ids.ts"
import type { RoomEvent } from "../schemas/Room.ts"
import type { Board } from "./Board.ts"
import type { Chat } from "./Chat.ts"
import type { RoomLog } from "./RoomLog.ts"
import { applied, type MutationHandler, mutationHandler, type SyncActor } from "./SyncMutation.ts"
import type { SyncChatNotices } from "./SyncChatNotices.ts"
import { holdPublications } from "./SyncRoomLog.ts"

/** What the room handlers need: Chat and Board built over the holding RoomLog, and the real RoomLog. */
export interface RoomServices {
  readonly chat: Chat
  readonly board: Board
  readonly log: RoomLog
  readonly sql: SqlClient.SqlClient
  readonly notices: SyncChatNotices
}

/** A message named by its server id, or by the client id its author created it with (offline, before the id was known). */
const messageRef = {
  lessonId: LessonId,
  messageId: Schema.optional(MessageId),
  clientMessageId: Schema.optional(ClientId)
}
const oneRef = <A extends { readonly messageId?: unknown; readonly clientMessageId?: unknown }>(ref: A) =>
  (ref.messageId === undefined) !== (ref.clientMessageId === undefined) ||
  { path: ["messageId"], message: "give exactly one of messageId and clientMessageId" }

const EditArgs = Schema.Struct({ ...messageRef, body: MessageBody }).pipe(Schema.filter(oneRef))
const DeleteArgs = Schema.Struct(messageRef).pipe(Schema.filter(oneRef))
const CreateArgs = Schema.Struct({ lessonId: LessonId, clientMessageId: ClientId, body: MessageBody })
const ApplyArgs = Schema.Struct({ lessonId: LessonId, op: BoardOp })

const encodeMessage = Schema.encode(ChatMessage)
const encodeElement = Schema.encode(Schema.NullOr(BoardElement))

/** The chat and board handlers. */
export const roomHandlers = ({ board, chat, log, notices, sql }: RoomServices): ReadonlyArray<MutationHandler> => {
  const publishAll = (events: ReadonlyArray<RoomEvent>) => Effect.forEach(events, log.publish, { discard: true })

  /** The id of the caller's message with this client message id (only their own messages are looked at). */
  const resolve = (actor: SyncActor, ref: { readonly lessonId: LessonId; readonly messageId?: MessageId | undefined; readonly clientMessageId?: string | undefined }) =>
    Effect.gen(function*() {
      if (ref.messageId !== undefined) return ref.messageId
      const rows = yield* sql`
        SELECT id FROM chat_messages
        WHERE lesson_id = ${ref.lessonId} AND author_id = ${actor.id} AND client_message_id = ${ref.clientMessageId ?? ""}`.pipe(
        Effect.flatMap(Schema.decodeUnknown(Schema.Array(Schema.Struct({ id: MessageId })))),
        storeCall
      )
      const found = rows[0]
      return found === undefined ? yield* new MessageNotFound({}) : found.id
    })

  /** The message changed (an event was produced) or was already that way (duplicate). */
  const changed = (messageId: MessageId, events: ReadonlyArray<RoomEvent>) =>
    events.length === 0
      ? ({ status: "duplicate" } as const)
      : applied({ version: events.at(-1)?.seq, result: { messageId } }, publishAll(events))

  return [
    mutationHandler("chat", "create", CreateArgs, (actor, args) =>
      Effect.gen(function*() {
        const { events, value } = yield* holdPublications(
          chat.send(actor, args.lessonId, { body: args.body, clientMessageId: args.clientMessageId })
        )
        if (value.duplicate) return { status: "duplicate" } as const
        // Same transaction: the notice job exists only if the message does.
        yield* notices.enqueue(value.message, actor.role)
        return applied({ version: value.message.seq, result: { messageId: value.message.id } }, publishAll(events))
      })),
    mutationHandler("chat", "edit", EditArgs, (actor, args) =>
      Effect.gen(function*() {
        const messageId = yield* resolve(actor, args)
        const attempt = yield* holdPublications(chat.edit(actor, args.lessonId, messageId, { body: args.body })).pipe(
          Effect.map(({ events }) => changed(messageId, events)),
          // Edited offline, deleted meanwhile on the server: the server's copy wins.
          Effect.catchTag("MessageDeleted", () =>
            Effect.gen(function*() {
              const head = yield* log.head(args.lessonId)
              // Removing a removed message writes nothing and answers the stored tombstone (the edit
              // already proved the caller may change this message).
              const tombstone = yield* holdPublications(chat.remove(actor, args.lessonId, messageId))
              return {
                status: "conflict",
                version: head.seq,
                server: { message: yield* Effect.orDie(encodeMessage(tombstone.value)) }
              } as const
            }))
        )
        return attempt
      })),
    mutationHandler("chat", "delete", DeleteArgs, (actor, args) =>
      Effect.gen(function*() {
        const messageId = yield* resolve(actor, args)
        const { events } = yield* holdPublications(chat.remove(actor, args.lessonId, messageId))
        return changed(messageId, events)
      })),
    mutationHandler("board", "apply", ApplyArgs, (actor, args) =>
      Effect.gen(function*() {
        const { events, value } = yield* holdPublications(board.apply(actor, args.lessonId, args.op))
        const element = yield* Effect.orDie(encodeElement(value.element))
        switch (value.outcome) {
          case "applied":
            return applied({ version: value.version, result: { element } }, publishAll(events))
          case "duplicate":
            return { status: "duplicate" } as const
          case "conflict":
            return { status: "conflict", version: value.version, server: { element } } as const
        }
      }))
  ]
}
