/**
 * Lesson membership notices. After a lesson write that can take someone's
 * access away (students removed, the lesson cancelled) commits, `Lessons`
 * announces the lesson on the Bus; every process's lesson channel then
 * re-checks its live subscribers of that lesson. Only the lesson id travels:
 * receivers read the current facts, so notices applied out of order (or twice)
 * still end in the right state. Delivery is at-most-once like the rest of the
 * Bus; durable commands (chat, board) still authorize against the database.
 */
import { Effect, Schema, type Scope, Stream } from "effect"
import { Bus } from "../layers/Bus.ts"
import type { ServiceUnavailable } from "../schemas/Errors.ts"
import { LessonId } from "../schemas/Ids.ts"
import { currentTraceParent } from "./TraceContext.ts"

/** One notice: the lesson whose membership changed, and the trace of the write that changed it. */
export const LessonNotice = Schema.Struct({
  lessonId: LessonId,
  traceParent: Schema.optional(Schema.String.pipe(Schema.maxLength(128)))
})
/** @see LessonNotice */
export type LessonNotice = typeof LessonNotice.Type

/** The Bus channel of every lesson's notices (lesson writes are rare next to room events). */
export const noticesChannel = "lessons:membership"

const NoticeJson = Schema.parseJson(LessonNotice)
const encodeNotice = Schema.encodeSync(NoticeJson)
const decodeNotice = Schema.decodeUnknownOption(NoticeJson)
const utf8 = new TextEncoder()
const fromUtf8 = new TextDecoder()

/** Membership-change notices over the Bus. */
export class LessonNotices extends Effect.Service<LessonNotices>()("lectern/LessonNotices", {
  effect: Effect.gen(function*() {
    const bus = yield* Bus

    /** Announces that `lessonId`'s membership changed (after commit). Failures are logged, never raised. */
    const publish = (lessonId: LessonId): Effect.Effect<void> =>
      currentTraceParent.pipe(
        Effect.map((traceParent) => utf8.encode(encodeNotice(traceParent === null ? { lessonId } : { lessonId, traceParent }))),
        Effect.flatMap((payload) => bus.publish(noticesChannel, payload)),
        Effect.catchAllCause((cause) =>
          Effect.logWarning("lesson membership notice not published; live subscribers keep their access until they resubscribe", cause)
        ),
        Effect.withSpan("LessonNotices.publish", { attributes: { lessonId } })
      )

    /** Notices from every process for the lifetime of the scope; undecodable payloads are skipped. */
    const follow: Effect.Effect<Stream.Stream<LessonNotice>, ServiceUnavailable, Scope.Scope> = Effect.map(
      bus.subscribe(noticesChannel),
      (queue) => Stream.fromQueue(queue).pipe(Stream.filterMap((payload) => decodeNotice(fromUtf8.decode(payload))))
    )

    return { publish, follow } as const
  })
}) {}

