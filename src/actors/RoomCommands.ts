/**
 * The lesson channel's durable commands: chat send/edit/delete and board ops,
 * decoded from the command's `data` and handed to the same `Chat` and `Board`
 * services the REST companions use (they authorize, persist with a room seq and
 * publish after commit; the room actor fans the event out). Acks carry the
 * stored result, encoded for the wire.
 */
import { Effect, Schema } from "effect"
import { ApplyResult, BoardOp } from "../schemas/Board.ts"
import { ChatMessage, EditMessageRequest, MessageId, SendMessageRequest, SendMessageResult } from "../schemas/Chat.ts"
import { Board } from "../services/Board.ts"
import { Chat } from "../services/Chat.ts"
import { type CommandHandler, decodeData } from "./LessonChannel.ts"

const MessageRef = Schema.Struct({ messageId: MessageId })
const EditData = Schema.extend(MessageRef, EditMessageRequest)

/** Encodes a result for the wire (dates as ISO strings); a failure here is a defect. */
const wire = <A, I>(schema: Schema.Schema<A, I>) => (value: A) => Effect.orDie(Schema.encode(schema)(value))

/** Builds the handlers (needs `Chat` and `Board`). */
export const handlers = Effect.gen(function*() {
  const chat = yield* Chat
  const board = yield* Board
  return {
    "chat.send": (ctx, data) =>
      decodeData(SendMessageRequest, data).pipe(
        Effect.flatMap((input) => chat.send(ctx.conn.user, ctx.lessonId, input)),
        Effect.flatMap(wire(SendMessageResult))
      ),
    "chat.edit": (ctx, data) =>
      decodeData(EditData, data).pipe(
        Effect.flatMap(({ messageId, body }) => chat.edit(ctx.conn.user, ctx.lessonId, messageId, { body })),
        Effect.flatMap(wire(ChatMessage))
      ),
    "chat.delete": (ctx, data) =>
      decodeData(MessageRef, data).pipe(
        Effect.flatMap(({ messageId }) => chat.remove(ctx.conn.user, ctx.lessonId, messageId)),
        Effect.flatMap(wire(ChatMessage))
      ),
    "board.op": (ctx, data) =>
      decodeData(BoardOp, data).pipe(
        Effect.flatMap((op) => board.apply(ctx.conn.user, ctx.lessonId, op)),
        Effect.flatMap(wire(ApplyResult))
      )
  } satisfies Record<string, CommandHandler>
})
