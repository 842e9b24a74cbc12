/**
 * This process's live subscriptions that exist because of lesson membership
 * (`lesson:<id>`, `call:<id>`), re-checked whenever a lesson membership notice
 * arrives on the Bus (students removed, lesson cancelled — from any process).
 * The lesson's facts are read once per notice and process; whoever lost access
 * is unsubscribed by the server (`Connection.revoke`), so the channels need no
 * per-command check. Notices are at most once (a Redis reconnect can lose one),
 * so every watched lesson is also re-checked every `WS_MEMBERSHIP_RECHECK`.
 */
import { Effect, Option, Schedule, type Scope, Stream } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import type { LessonId } from "../schemas/Ids.ts"
import { SubscriptionRevoked } from "../schemas/RealtimeErrors.ts"
import { type LessonFacts, LessonAccess, roleIn } from "../services/LessonAccess.ts"
import { type LessonNotice, LessonNotices } from "../services/LessonNotices.ts"
import { parentFromTraceParent } from "../services/TraceContext.ts"
import type { Connection } from "./ChannelKind.ts"

/** Why a subscription can be taken away. */
export type Revocation = SubscriptionRevoked["reason"]

/** One watched subscription. */
export interface Watched {
  readonly conn: Connection
  readonly lessonId: LessonId
  readonly channel: string
  /** Which losses end it: a call channel outlives a cancel (the call itself ends), a room does not. */
  readonly revokeOn: ReadonlyArray<Revocation>
}

/** Why someone with these facts lost access; undefined while they have it. */
export const revocationOf = (facts: Option.Option<LessonFacts>, user: CurrentUserInfo): Revocation | undefined =>
  Option.isNone(facts) || roleIn(facts.value, user) === undefined
    ? "removed"
    : facts.value.status === "cancelled"
    ? "cancelled"
    : undefined

/** Membership-dependent subscriptions of this process. */
export class LessonSubscribers extends Effect.Service<LessonSubscribers>()("lectern/LessonSubscribers", {
  scoped: Effect.gen(function*() {
    const { realtime } = yield* AppConfig
    const access = yield* LessonAccess
    const notices = yield* LessonNotices
    const byLesson = new Map<LessonId, Set<Watched>>()

    /**
     * Watches `watched` for the lifetime of the scope. Register before reading
     * access: a notice handled afterwards re-checks it, and one handled before
     * followed a commit that the caller's own read then sees.
     */
    const watch = (watched: Watched): Effect.Effect<void, never, Scope.Scope> =>
      Effect.acquireRelease(
        Effect.sync(() => {
          const set = byLesson.get(watched.lessonId) ?? new Set<Watched>()
          set.add(watched)
          byLesson.set(watched.lessonId, set)
        }),
        () =>
          Effect.sync(() => {
            const set = byLesson.get(watched.lessonId)
            set?.delete(watched)
            if (set?.size === 0) byLesson.delete(watched.lessonId)
          })
      )

    /** Reads the lesson's facts once and revokes every local subscription whose holder lost access. */
    const recheck = (lessonId: LessonId, traceParent: string | null) =>
      Effect.suspend(() => {
        if (!byLesson.has(lessonId)) return Effect.void
        return access.facts(lessonId).pipe(
          Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.intersect(Schedule.recurs(4)))),
          Effect.flatMap((facts) =>
            Effect.forEach([...(byLesson.get(lessonId) ?? [])], (watched) => {
              const reason = revocationOf(facts, watched.conn.user)
              return reason === undefined || !watched.revokeOn.includes(reason)
                ? Effect.void
                : watched.conn.revoke(watched.channel, new SubscriptionRevoked({ channel: watched.channel, reason }))
            }, { discard: true })
          ),
          Effect.catchAllCause((cause) =>
            Effect.logWarning("lesson subscribers not re-checked; they keep access until they resubscribe", cause)
          ),
          Effect.withSpan("LessonSubscribers.recheck", {
            kind: "consumer",
            parent: Option.getOrUndefined(parentFromTraceParent(traceParent)),
            attributes: { lessonId }
          })
        )
      })

    // Every process's notices for the lifetime of this service; resubscribed if the Bus fails.
    yield* notices.follow.pipe(
      Effect.flatMap(Stream.runForEach((notice: LessonNotice) => recheck(notice.lessonId, notice.traceParent ?? null))),
      Effect.scoped,
      Effect.tapErrorCause((cause) => Effect.logWarning("lesson notices not followed; retrying", cause)),
      Effect.retry(Schedule.exponential("100 millis").pipe(Schedule.union(Schedule.spaced("5 seconds")))),
      Effect.forkScoped
    )

    // The sweep: a lost notice leaves access in place for one interval at most, not for the rest of the connection.
    yield* Effect.suspend(() => Effect.forEach([...byLesson.keys()], (lessonId) => recheck(lessonId, null), { discard: true })).pipe(
      Effect.delay(realtime.membershipRecheck),
      Effect.forever,
      Effect.forkScoped
    )

    return { watch } as const
  }),
  dependencies: [LessonNotices.Default]
}) {}
