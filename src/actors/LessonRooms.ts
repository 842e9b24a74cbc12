/**
 * The registry of this process's lesson room actors: at most one per lesson,
 * started by the first subscriber, kept while anyone holds it and stopped after
 * `roomIdleTtl` without subscribers. Creation is guarded (the check and the
 * reservation happen in one synchronous step), so many concurrent first
 * subscribers still find one actor — `RcMap.get` was seen to run its lookup
 * twice under load, which would split a room in two.
 */
import { Deferred, Effect, ExecutionStrategy, Exit, Fiber, Option, Scope } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import type { ServiceUnavailable } from "../schemas/Errors.ts"
import type { LessonId } from "../schemas/Ids.ts"
import { RoomLog } from "../services/RoomLog.ts"
import * as LessonRoom from "./LessonRoom.ts"

interface Entry {
  readonly room: Deferred.Deferred<LessonRoom.LessonRoom, ServiceUnavailable>
  scope: Scope.CloseableScope | undefined
  refs: number
  idle: Option.Option<Fiber.RuntimeFiber<void>>
}

/** Lesson room actors of this process. */
export class LessonRooms extends Effect.Service<LessonRooms>()("lectern/LessonRooms", {
  scoped: Effect.gen(function*() {
    const log = yield* RoomLog
    const { realtime } = yield* AppConfig
    const outer = yield* Effect.scope
    const entries = new Map<LessonId, Entry>()
    let started = 0

    const stop = (lessonId: LessonId, entry: Entry) =>
      Effect.suspend(() => {
        if (entries.get(lessonId) !== entry) return Effect.void
        entries.delete(lessonId)
        return entry.scope === undefined ? Effect.void : Scope.close(entry.scope, Exit.void)
      })

    /**
     * Reserves (or reuses) the entry in one synchronous step — no yield between the
     * lookup and the insert — then starts the actor when this call created it.
     */
    const reserve = (lessonId: LessonId) =>
      Effect.gen(function*() {
        const [entry, created, idle] = yield* Effect.withFiberRuntime<readonly [Entry, boolean, Option.Option<Fiber.RuntimeFiber<void>>]>(
          (fiber) => {
            const existing = entries.get(lessonId)
            if (existing !== undefined) {
              existing.refs++
              const idle = existing.idle
              existing.idle = Option.none()
              return Effect.succeed([existing, false, idle] as const)
            }
            const fresh: Entry = { room: Deferred.unsafeMake(fiber.id()), scope: undefined, refs: 1, idle: Option.none() }
            entries.set(lessonId, fresh)
            started++
            return Effect.succeed([fresh, true, Option.none()] as const)
          }
        )
        if (Option.isSome(idle)) yield* Fiber.interrupt(idle.value)
        if (created) {
          const scope = yield* Scope.fork(outer, ExecutionStrategy.sequential)
          entry.scope = scope
          const exit = yield* LessonRoom.make(log, lessonId, realtime.roomRingSize).pipe(Scope.extend(scope), Effect.exit)
          yield* Deferred.done(entry.room, exit)
        }
        return entry
      }).pipe(Effect.uninterruptible)

    const release = (lessonId: LessonId, entry: Entry) =>
      Effect.gen(function*() {
        entry.refs--
        if (entry.refs > 0 || entries.get(lessonId) !== entry) return
        // A room that failed to start is dropped at once, so the next subscriber retries.
        const outcome = yield* Deferred.poll(entry.room)
        if (Option.isSome(outcome) && Exit.isFailure(yield* Effect.exit(outcome.value))) return yield* stop(lessonId, entry)
        entry.idle = Option.some(
          yield* Effect.sleep(realtime.roomIdleTtl).pipe(
            Effect.zipRight(Effect.suspend(() => entry.refs === 0 ? stop(lessonId, entry) : Effect.void)),
            // Forked from a finalizer (uninterruptible): the timer itself must be cancellable.
            Effect.interruptible,
            Effect.forkIn(outer)
          )
        )
      })

    /** The lesson's room, held for the lifetime of the scope. */
    const acquire = (lessonId: LessonId): Effect.Effect<LessonRoom.LessonRoom, ServiceUnavailable, Scope.Scope> =>
      Effect.acquireRelease(reserve(lessonId), (entry) => release(lessonId, entry)).pipe(
        Effect.flatMap((entry) => Deferred.await(entry.room))
      )

    return {
      acquire,
      /** Rooms loaded now, and how many were ever started (a duplicate start shows here). */
      stats: Effect.sync(() => ({ active: entries.size, started })),
      /** Whether `lessonId` has a loaded room. */
      isActive: (lessonId: LessonId) => Effect.sync(() => entries.has(lessonId))
    } as const
  })
}) {}
