/**
 * The `call:<lessonId>` channel kind. Subscribing needs read access to the lesson
 * (anyone else: LESSON_NOT_FOUND) and answers the call state, the caller's role
 * and ICE servers; it does not join the call (the `join` command does). While
 * subscribed, the connection gets the call's broadcasts and the signals addressed
 * to its user — only while it is that user's connection in the call. A student
 * removed from the lesson is unsubscribed by the server (LessonSubscribers); a
 * cancel leaves the subscription, as the call itself ends.
 */
import { Effect, Option, Schema, Stream } from "effect"
import { CallInfo } from "../schemas/Calls.ts"
import { LessonId } from "../schemas/Ids.ts"
import { LessonNotFound } from "../schemas/Lessons.ts"
import { CallEvents } from "../services/CallEvents.ts"
import { Calls } from "../services/Calls.ts"
import type { ChannelKind } from "./ChannelKind.ts"
import { LessonSubscribers } from "./LessonSubscribers.ts"
import { WebRtcSessions } from "./WebRtcSession.ts"

const decodeLessonId = Schema.decodeUnknownOption(LessonId)
const encodeInfo = Schema.encodeSync(CallInfo)

/** Builds the `call` channel kind. */
export const make = Effect.gen(function*() {
  const calls = yield* Calls
  const events = yield* CallEvents
  const sessions = yield* WebRtcSessions
  const watched = yield* LessonSubscribers
  return {
    prefix: "call",
    subscribe: (conn, id) =>
      Effect.gen(function*() {
        const lessonId = decodeLessonId(id)
        if (Option.isNone(lessonId)) return yield* new LessonNotFound({})
        yield* watched.watch({ conn, lessonId: lessonId.value, channel: `call:${id}`, revokeOn: ["removed"] })
        const info = yield* calls.info(conn.user, lessonId.value)
        const actor = yield* sessions.acquire(lessonId.value)
        yield* Effect.acquireRelease(actor.attach(conn), () => actor.detach(conn))
        // Subscribed before the ack, so no signal sent after a join can be missed.
        const direct = yield* events.followDirect(lessonId.value, conn.user.id)
        yield* direct.pipe(
          Stream.runForEach((signal) => actor.deliverDirect(conn, signal)),
          Effect.interruptible,
          Effect.forkScoped
        )
        return {
          ack: encodeInfo(info),
          command: (type: string, data: unknown) => actor.command(conn, type, data)
        }
      }).pipe(Effect.withSpan("CallChannel.subscribe", { attributes: { channel: `call:${id}` } }))
  } satisfies ChannelKind
})
