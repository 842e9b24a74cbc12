/**
 * Lesson chat on the wire: the message record (also the data of the room events
 * `chat.created|edited|deleted`), send/edit requests, history paging, and chat
 * errors. A deleted message stays as a tombstone with `body: null`.
 */
import { Schema } from "effect"
import { LessonId, UserId } from "./Ids.ts"
import { Cursor, Limit, Page } from "./Pagination.ts"
import { RequestFields } from "./Request.ts"

/** A chat message's id. */
export const MessageId = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, { message: () => "expected a UUID" }),
  Schema.brand("MessageId")
).annotations({ identifier: "MessageId" })
/** @see MessageId */
export type MessageId = typeof MessageId.Type

/** The longest message body, in characters. */
export const maxMessageLength = 4_000

/** A message body: trimmed, 1–4000 characters. */
export const MessageBody = Schema.Trim.pipe(
  Schema.minLength(1, { message: () => "must not be empty" }),
  Schema.maxLength(maxMessageLength, { message: () => `at most ${maxMessageLength} characters` })
).annotations({ examples: ["Can you explain step 3 again?"] })

/** A client-chosen idempotency key (retries of one send carry the same key). */
export const ClientId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_.:-]{1,64}$/, { message: () => "1–64 characters of A–Z a–z 0–9 _ . : -" })
).annotations({ examples: ["c-7f3a9e"] })

/** A chat message. */
export class ChatMessage extends Schema.Class<ChatMessage>("ChatMessage")({
  id: MessageId,
  lessonId: LessonId,
  authorId: UserId,
  /** The author's display name at read time. */
  authorName: Schema.String,
  /** null once deleted */
  body: Schema.NullOr(Schema.String),
  clientMessageId: Schema.NullOr(Schema.String),
  createdAt: Schema.DateTimeUtc,
  editedAt: Schema.NullOr(Schema.DateTimeUtc),
  deletedAt: Schema.NullOr(Schema.DateTimeUtc),
  /** The room seq of the message's creation (history order; recovery position) */
  seq: Schema.Int
}) {}

/** Send a message. */
export const SendMessageRequest = RequestFields({
  body: MessageBody,
  clientMessageId: Schema.optional(ClientId).annotations({
    description: "Idempotency key: a repeat with the same key returns the stored message instead of a second one"
  })
}).annotations({ identifier: "SendMessageRequest" })
/** @see SendMessageRequest */
export type SendMessageRequest = typeof SendMessageRequest.Type

/** The answer to a send: the stored message, and whether it was a repeat of an earlier send. */
export const SendMessageResult = Schema.Struct({
  message: ChatMessage,
  /** true: this clientMessageId was already used by this author; nothing new was stored or sent */
  duplicate: Schema.Boolean
}).annotations({ identifier: "SendMessageResult" })

/** Edit a message's body. */
export const EditMessageRequest = RequestFields({ body: MessageBody }).annotations({ identifier: "EditMessageRequest" })
/** @see EditMessageRequest */
export type EditMessageRequest = typeof EditMessageRequest.Type

/** Paging of the history (newest first). */
export const MessageListParams = RequestFields({ cursor: Schema.optional(Cursor), limit: Schema.optional(Limit) })
/** @see MessageListParams */
export type MessageListParams = typeof MessageListParams.Type

/** A page of messages, newest first (deleted ones as tombstones). */
export const MessagePage = Page(ChatMessage).annotations({ identifier: "MessagePage" })

/** No message with this id in this lesson. */
export class MessageNotFound extends Schema.TaggedError<MessageNotFound>()("MessageNotFound", {
  messageId: Schema.optional(Schema.String)
}) {
  readonly code = "MESSAGE_NOT_FOUND" as const
  override get message() {
    return "No message with this id in this lesson"
  }
}

/** The message was deleted; it can no longer be edited. */
export class MessageDeleted extends Schema.TaggedError<MessageDeleted>()("MessageDeleted", {
  messageId: Schema.optional(Schema.String)
}) {
  readonly code = "MESSAGE_DELETED" as const
  override get message() {
    return "This message was deleted and can no longer be edited"
  }
}
