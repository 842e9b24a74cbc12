/**
 * The shared steps of call operations (`Calls`): reading the live session (ending
 * it when overdue), the caller's call role, presence checks, participant changes
 * and departures, each announced after it commits. Not a service of its own: a
 * constructor `Calls` runs once with its dependencies.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect, Metric, Option, Schema } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import { type CallEndReason, CallNotFound, CallParticipant, NotInCall, ScreenShareTaken } from "../schemas/Calls.ts"
import { Forbidden } from "../schemas/Errors.ts"
import type { LessonId, UserId } from "../schemas/Ids.ts"
import { CallEvents } from "./CallEvents.ts"
import { CallStore, type ParticipantChange, type SessionRow, toParticipant, toSession } from "./CallStore.ts"
import { overdueReason, roleOf } from "./CallRules.ts"
import { LessonAccess } from "./LessonAccess.ts"

/** Who is asking. */
export type Actor = Pick<CurrentUserInfo, "id" | "role">

/** Sessions started, by this process. */
export const callSessionsStarted = Metric.counter("lectern_call_sessions_started_total", {
  description: "Call sessions started"
})
/** Sessions ended, by reason. */
export const callSessionsEnded = (reason: CallEndReason) =>
  Metric.tagged(Metric.counter("lectern_call_sessions_ended_total", { description: "Call sessions ended" }), "reason", reason)
/** Joins (including rejoins and second devices). */
export const callParticipantsJoined = Metric.counter("lectern_call_participants_joined_total", {
  description: "Participants who joined a call"
})

/** Event data is plain (ISO times), the same on the Bus and on the wire. */
export const encodeParticipant = Schema.encodeSync(CallParticipant)

/** The steps, bound to this process's store, Bus channel, access policy and config. */
export const makeCallSteps = Effect.gen(function*() {
  const sql = yield* SqlClient.SqlClient
  const store = yield* CallStore
  const access = yield* LessonAccess
  const events = yield* CallEvents
  const { calls: config } = yield* AppConfig
  const now = Effect.map(Clock.currentTimeMillis, (ms) => new Date(ms))

  const view = (row: SessionRow) => Effect.map(store.present(row.id), (present) => toSession(row, present))

  const overdue = (row: SessionRow, at: number) => overdueReason(row, at, config)

  /** Ends `row` (once, across processes) and tells everyone following the call. */
  const endWith = (row: SessionRow, reason: CallEndReason, by: UserId | null) =>
    Effect.gen(function*() {
      const at = yield* now
      const ended = yield* store.end(row.id, reason, at)
      if (!ended) return
      yield* store.log(row.id, "end", by, null, at)
      yield* Metric.increment(callSessionsEnded(reason))
      yield* events.event(row.lessonId, "call.ended", { sessionId: row.id, reason })
    })

  /** The live session, ending it first when a timeout or the lifetime has passed. */
  const live = (lessonId: LessonId) =>
    Effect.gen(function*() {
      const row = yield* store.liveSession(lessonId)
      if (Option.isNone(row)) return row
      const reason = overdue(row.value, yield* Clock.currentTimeMillis)
      if (Option.isNone(reason)) return row
      yield* endWith(row.value, reason.value, null)
      return Option.none<SessionRow>()
    })

  const membership = (actor: Actor, lessonId: LessonId) =>
    Effect.map(access.membership(actor, lessonId), (m) => ({ ...m, callRole: roleOf(m.as) }))

  const requireLive = (lessonId: LessonId) =>
    Effect.flatMap(live(lessonId), Option.match({
      onNone: () => Effect.fail(new CallNotFound({ lessonId })),
      onSome: Effect.succeed
    }))

  /** The live session and the caller's present row; with `connectionId`, only on that connection. */
  const requirePresent = (actor: Actor, lessonId: LessonId, connectionId?: string) =>
    Effect.gen(function*() {
      yield* access.membership(actor, lessonId)
      const row = yield* requireLive(lessonId)
      const me = yield* store.participant(row.id, actor.id)
      if (
        Option.isNone(me) || me.value.leftAt !== null ||
        (connectionId !== undefined && me.value.connectionId !== connectionId)
      ) return yield* new NotInCall({})
      return { row, me: me.value }
    })

  const requireHost = (actor: Actor, lessonId: LessonId) =>
    Effect.gen(function*() {
      const m = yield* membership(actor, lessonId)
      if (m.callRole !== "HOST") {
        return yield* new Forbidden({ detail: "Only the lesson's tutor (the call's host) can do this" })
      }
      return yield* requireLive(lessonId)
    })

  const presentTarget = (row: SessionRow, target: UserId) =>
    Effect.flatMap(store.participant(row.id, target), (p) =>
      Option.isSome(p) && p.value.leftAt === null
        ? Effect.succeed(p.value)
        : Effect.fail(new NotInCall({ detail: "That person is not in the call" })))

  /** Applies a change and announces the participant's new state. */
  const update = (row: SessionRow, userId: UserId, change: ParticipantChange) =>
    Effect.gen(function*() {
      const outcome = yield* store.change(row.id, userId, change)
      if (outcome === "Taken") return yield* new ScreenShareTaken({})
      const after = yield* store.participant(row.id, userId)
      if (Option.isNone(after)) return yield* new NotInCall({})
      const participant = toParticipant(after.value)
      yield* events.event(row.lessonId, "participant.updated", { participant: encodeParticipant(participant) })
      return participant
    })

  const startFor = (actor: Actor, lessonId: LessonId) =>
    Effect.gen(function*() {
      const existing = yield* live(lessonId)
      if (Option.isSome(existing)) return { row: existing.value, created: false }
      const at = yield* now
      const inserted = yield* store.insertSession(lessonId, actor.id, at, new Date(at.getTime() + Duration.toMillis(config.maxLifetime)))
      if (Option.isNone(inserted)) {
        // Another request (maybe on another process) started it between our read and insert.
        return { row: yield* requireLive(lessonId), created: false }
      }
      yield* store.log(inserted.value.id, "start", actor.id, null, at)
      yield* Metric.increment(callSessionsStarted)
      yield* events.event(lessonId, "call.started", { sessionId: inserted.value.id })
      return { row: inserted.value, created: true }
    })

  const departed = (row: SessionRow, userId: UserId, removed: boolean, reason: "left" | "removed" | "disconnected") =>
    Effect.gen(function*() {
      const at = yield* now
      // Under the session's row lock, like joins: otherwise a join committing between our
      // count and our update could leave `empty_since` set while someone is in the call.
      yield* Effect.gen(function*() {
        yield* store.liveSession(row.lessonId, true)
        yield* store.exit(row.id, userId, at, removed)
        yield* store.touch(row.id, (yield* store.present(row.id)).length, at)
      }).pipe(sql.withTransaction)
      yield* store.log(row.id, reason === "removed" ? "remove" : "leave", userId, null, at)
      yield* events.event(row.lessonId, "participant.left", { userId, reason })
    })

  return {
    now,
    view,
    endWith,
    live,
    membership,
    requireLive,
    requirePresent,
    requireHost,
    presentTarget,
    update,
    departed,
    startFor
  } as const
})
