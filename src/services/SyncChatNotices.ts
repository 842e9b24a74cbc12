/**
 * Notices of chat messages that arrive through sync: a device that was offline
 * pushes messages its lesson's members have not seen live, so each pushed message
 * queues a `sync.chat-message` job in the mutation's transaction (it exists only
 * if the message does). The job notifies the other members (in-app, live, web push
 * as their preferences allow); a failure is retried by the queue with backoff.
 */
import { Duration, Effect, Schema } from "effect"
import { MessageId } from "../schemas/Chat.ts"
import { LessonId, UserId } from "../schemas/Ids.ts"
import { Role } from "../schemas/Users.ts"
import { Jobs } from "./Jobs.ts"
import { LessonAccess } from "./LessonAccess.ts"
import { Notifications } from "./Notifications.ts"

/** Longest message excerpt in a notice. */
const excerptLength = 140

const NoticePayload = Schema.Struct({
  lessonId: LessonId,
  messageId: MessageId,
  authorId: UserId,
  authorRole: Role,
  authorName: Schema.String,
  excerpt: Schema.String
})

/** What a notice is about. */
export interface PushedMessage {
  readonly lessonId: LessonId
  readonly id: MessageId
  readonly authorId: UserId
  readonly authorName: string
  readonly body: string | null
}

/** Chat notices of synced messages. */
export class SyncChatNotices extends Effect.Service<SyncChatNotices>()("lectern/SyncChatNotices", {
  effect: Effect.gen(function*() {
    const jobs = yield* Jobs
    const access = yield* LessonAccess
    const notifications = yield* Notifications

    const deliver = (notice: typeof NoticePayload.Type) =>
      Effect.gen(function*() {
        const membership = yield* access.membership({ id: notice.authorId, role: notice.authorRole }, notice.lessonId)
        const recipients = [membership.tutorId, ...membership.studentIds].filter((id) => id !== notice.authorId)
        yield* notifications.notifyMany(recipients, {
          type: "chat.message",
          title: `${notice.authorName} wrote in the lesson chat`,
          body: notice.excerpt,
          data: { lessonId: notice.lessonId, messageId: notice.messageId },
          collapseKey: `chat:${notice.lessonId}`
        })
      }).pipe(
        // The lesson is gone or the author left it since: nobody is left to tell.
        Effect.catchTag("LessonNotFound", () => Effect.logInfo("chat notice skipped: the lesson is no longer the author's")),
        Effect.annotateLogs({ lesson_id: notice.lessonId, message_id: notice.messageId })
      )

    const job = yield* jobs.registerJob("sync.chat-message", NoticePayload, deliver, {
      maxAttempts: 5,
      timeout: "30 seconds",
      backoff: { base: Duration.seconds(2), max: Duration.minutes(1) }
    })

    /** Queues the notice of a pushed message on the caller's connection (inside the mutation's transaction). */
    const enqueue = (message: PushedMessage, authorRole: Role) =>
      job.enqueue({
        lessonId: message.lessonId,
        messageId: message.id,
        authorId: message.authorId,
        authorRole,
        authorName: message.authorName,
        excerpt: (message.body ?? "").length > excerptLength
          ? `${(message.body ?? "").slice(0, excerptLength - 1)}…`
          : message.body ?? ""
      }).pipe(Effect.asVoid)

    return { enqueue } as const
  })
}) {}
