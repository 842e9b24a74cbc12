/**
 * Lesson calls: who may start, join, publish and moderate, enforced against the
 * database so every server process sees the same session. Roles come from
 * `LessonAccess` (tutor → HOST, students → PARTICIPANT, admins → VIEWER; anyone
 * else: LESSON_NOT_FOUND). Every change commits first, then is announced on the
 * call's Bus channel (`CallEvents`). Media and SDP never pass through here.
 */
import { SqlClient } from "@effect/sql"
import { Clock, Duration, Effect, Metric, Option, Schema } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import type { CurrentUserInfo } from "../schemas/Auth.ts"
import {
  type CallEndReason,
  CallFull,
  CallGrants,
  CallInfo,
  CallLessonClosed,
  CallNotFound,
  CallParticipant,
  CallRemoved,
  defaultGrants,
  GrantDenied,
  NotInCall,
  ScreenShareTaken,
  SignalTargetUnknown
} from "../schemas/Calls.ts"
import { Forbidden, ValidationError } from "../schemas/Errors.ts"
import type { LessonId, UserId } from "../schemas/Ids.ts"
import { isClosed } from "../schemas/Lessons.ts"
import { CallEvents } from "./CallEvents.ts"
import { CallStore, type ParticipantChange, type SessionRow, toParticipant, toSession } from "./CallStore.ts"
import { overdueReason, roleOf, staleAfter } from "./CallRules.ts"
import { IceServers } from "./IceServers.ts"
import { LessonAccess } from "./LessonAccess.ts"

/** Who is asking. */
export type Actor = Pick<CurrentUserInfo, "id" | "role">

/** Media a participant can mute. */
export type MediaKind = "audio" | "video"

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
const encodeParticipant = Schema.encodeSync(CallParticipant)



/** Call rules and persistence. */
export class Calls extends Effect.Service<Calls>()("lectern/Calls", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const store = yield* CallStore
    const access = yield* LessonAccess
    const events = yield* CallEvents
    const ice = yield* IceServers
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

    /** The host starts the lesson's call, or gets the live one. */
    const start = (actor: Actor, lessonId: LessonId) =>
      Effect.gen(function*() {
        const m = yield* membership(actor, lessonId)
        if (m.callRole !== "HOST") return yield* new Forbidden({ detail: "Only the lesson's tutor can start its call" })
        if (isClosed(m.status)) return yield* new CallLessonClosed({ status: m.status })
        const { row, created } = yield* startFor(actor, lessonId)
        return { session: yield* view(row), created }
      }).pipe(storeCall, Effect.withSpan("Calls.start", { attributes: { lessonId } }))

    /** The live session (or null), the caller's role and their ICE servers. */
    const info = (actor: Actor, lessonId: LessonId) =>
      Effect.gen(function*() {
        const m = yield* membership(actor, lessonId)
        const row = yield* live(lessonId)
        const session = Option.isSome(row) ? yield* view(row.value) : null
        return CallInfo.make({ session, role: m.callRole, iceServers: yield* ice.forUser(actor.id) })
      }).pipe(storeCall, Effect.withSpan("Calls.info", { attributes: { lessonId } }))

    /**
     * Joins the call on `connectionId` (the host's join starts it). A second
     * device replaces the first: `replaced` names the connection to close.
     */
    const join = (actor: Actor, lessonId: LessonId, connectionId: string) =>
      Effect.gen(function*() {
        const m = yield* membership(actor, lessonId)
        if (isClosed(m.status)) return yield* new CallLessonClosed({ status: m.status })
        if (m.callRole === "HOST") yield* startFor(actor, lessonId)
        else yield* requireLive(lessonId)
        const at = yield* now
        const { row, existing } = yield* Effect.gen(function*() {
          const locked = yield* store.liveSession(lessonId, true)
          if (Option.isNone(locked)) return yield* new CallNotFound({ lessonId })
          const row = locked.value
          const existing = yield* store.participant(row.id, actor.id)
          if (Option.isSome(existing) && existing.value.removed) return yield* new CallRemoved({ lessonId })
          const others = (yield* store.present(row.id)).filter((p) => p.userId !== actor.id)
          if (others.length >= config.maxParticipants) return yield* new CallFull({ max: config.maxParticipants })
          const grants = Option.match(existing, {
            onNone: () => defaultGrants(m.callRole),
            onSome: (p) => CallGrants.make({ audio: p.canAudio, video: p.canVideo, screen: p.canScreen })
          })
          yield* store.enter(row.id, actor.id, m.callRole, grants, connectionId, at)
          yield* store.touch(row.id, others.length + 1, at)
          return { row, existing }
        }).pipe(sql.withTransaction)
        const wasPresent = Option.isSome(existing) && existing.value.leftAt === null
        const replaced = wasPresent && existing.value.connectionId !== null && existing.value.connectionId !== connectionId
          ? existing.value.connectionId
          : null
        yield* store.log(row.id, "join", actor.id, null, at)
        yield* Metric.increment(callParticipantsJoined)
        // Re-read: the join may have made the session ACTIVE.
        const session = yield* view(Option.getOrElse(yield* store.liveSession(lessonId), () => row))
        const participant = session.participants.find((p) => p.userId === actor.id)
        if (replaced !== null) yield* events.broadcast(lessonId, { kind: "replaced", userId: actor.id, connectionId: replaced })
        if (!wasPresent && participant !== undefined) {
          yield* events.event(lessonId, "participant.joined", { participant: encodeParticipant(participant) })
        }
        return { session, replaced }
      }).pipe(storeCall, Effect.withSpan("Calls.join", { attributes: { lessonId } }))

    /** Leaves the call (only the connection currently in it, when given). */
    const leave = (actor: Actor, lessonId: LessonId, connectionId?: string) =>
      Effect.gen(function*() {
        const { row } = yield* requirePresent(actor, lessonId, connectionId)
        yield* departed(row, actor.id, false, "left")
      }).pipe(storeCall, Effect.withSpan("Calls.leave", { attributes: { lessonId } }))

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

    /**
     * A connection went away without leaving (socket closed): it leaves the call
     * unless a second device has taken its place already.
     */
    const disconnected = (actor: Actor, lessonId: LessonId, connectionId: string) =>
      Effect.gen(function*() {
        const row = yield* store.liveSession(lessonId)
        if (Option.isNone(row)) return
        const me = yield* store.participant(row.value.id, actor.id)
        if (Option.isNone(me) || me.value.leftAt !== null || me.value.connectionId !== connectionId) return
        yield* departed(row.value, actor.id, false, "disconnected")
      }).pipe(storeCall, Effect.withSpan("Calls.disconnected", { attributes: { lessonId } }))

    /** Mutes or unmutes the caller's own audio or video; unmuting needs the grant. */
    const setMuted = (actor: Actor, lessonId: LessonId, connectionId: string | undefined, kind: MediaKind, muted: boolean) =>
      Effect.gen(function*() {
        const { me, row } = yield* requirePresent(actor, lessonId, connectionId)
        if (!muted && !(kind === "audio" ? me.canAudio : me.canVideo)) return yield* new GrantDenied({ kind })
        const participant = yield* update(row, actor.id, kind === "audio" ? { audioMuted: muted } : { videoMuted: muted })
        yield* store.log(row.id, muted ? "mute" : "unmute", actor.id, null, yield* now)
        return participant
      }).pipe(storeCall, Effect.withSpan("Calls.setMuted", { attributes: { lessonId, kind, muted } }))

    /** Starts or stops the caller's screen share; one sharer per session (SCREEN_SHARE_TAKEN). */
    const screenShare = (actor: Actor, lessonId: LessonId, connectionId: string | undefined, on: boolean) =>
      Effect.gen(function*() {
        const { me, row } = yield* requirePresent(actor, lessonId, connectionId)
        if (on && !me.canScreen) return yield* new GrantDenied({ kind: "screen" })
        const participant = yield* update(row, actor.id, { screenSharing: on })
        yield* store.log(row.id, on ? "screen_share_start" : "screen_share_stop", actor.id, null, yield* now)
        return participant
      }).pipe(storeCall, Effect.withSpan("Calls.screenShare", { attributes: { lessonId, on } }))

    /** The host changes what `target` may publish; revoked media is muted (or the share stopped) at once. */
    const setGrants = (
      actor: Actor,
      lessonId: LessonId,
      target: UserId,
      grants: { readonly audio?: boolean | undefined; readonly video?: boolean | undefined; readonly screen?: boolean | undefined }
    ) =>
      Effect.gen(function*() {
        const row = yield* requireHost(actor, lessonId)
        const p = yield* presentTarget(row, target)
        if (p.role === "VIEWER" && (grants.audio === true || grants.video === true || grants.screen === true)) {
          return yield* ValidationError.field("grants", "viewers are receive-only")
        }
        const audio = grants.audio ?? p.canAudio
        const video = grants.video ?? p.canVideo
        const screen = grants.screen ?? p.canScreen
        const participant = yield* update(row, target, {
          canAudio: audio,
          canVideo: video,
          canScreen: screen,
          ...(audio ? {} : { audioMuted: true }),
          ...(video ? {} : { videoMuted: true }),
          ...(screen ? {} : { screenSharing: false })
        })
        yield* store.log(row.id, "grants", actor.id, target, yield* now)
        return participant
      }).pipe(storeCall, Effect.withSpan("Calls.setGrants", { attributes: { lessonId } }))

    /** The host mutes someone's audio or video, or stops their screen share. */
    const hostMute = (actor: Actor, lessonId: LessonId, target: UserId, kind: MediaKind | "screen") =>
      Effect.gen(function*() {
        const row = yield* requireHost(actor, lessonId)
        yield* presentTarget(row, target)
        const participant = yield* update(
          row,
          target,
          kind === "audio" ? { audioMuted: true } : kind === "video" ? { videoMuted: true } : { screenSharing: false }
        )
        yield* store.log(row.id, "host_mute", actor.id, target, yield* now)
        return participant
      }).pipe(storeCall, Effect.withSpan("Calls.hostMute", { attributes: { lessonId, kind } }))

    /** The host removes someone; they cannot rejoin this session. */
    const remove = (actor: Actor, lessonId: LessonId, target: UserId) =>
      Effect.gen(function*() {
        const row = yield* requireHost(actor, lessonId)
        if (target === actor.id) return yield* ValidationError.field("userId", "the host cannot remove themselves; end the call")
        const p = yield* presentTarget(row, target)
        yield* departed(row, target, true, "removed")
        yield* events.broadcast(lessonId, { kind: "removed", userId: target, connectionId: p.connectionId })
      }).pipe(storeCall, Effect.withSpan("Calls.remove", { attributes: { lessonId } }))

    /**
     * Ends the lesson's live call, if any, because the lesson was cancelled (after
     * the cancel committed); everyone following it gets `call.ended` with that reason.
     */
    const endForCancelledLesson = (lessonId: LessonId) =>
      Effect.flatMap(store.liveSession(lessonId), Option.match({
        onNone: () => Effect.void,
        onSome: (row) => endWith(row, "lesson_cancelled", null)
      })).pipe(storeCall, Effect.withSpan("Calls.endForCancelledLesson", { attributes: { lessonId } }))

    /**
     * Takes students who were just removed from the lesson out of its live call
     * (after the change committed), as if the host had removed them.
     */
    const removeFormerMembers = (lessonId: LessonId, userIds: ReadonlyArray<UserId>) =>
      Effect.gen(function*() {
        const row = yield* store.liveSession(lessonId)
        if (Option.isNone(row)) return
        for (const userId of userIds) {
          const p = yield* store.participant(row.value.id, userId)
          if (Option.isNone(p) || p.value.leftAt !== null) continue
          yield* departed(row.value, userId, true, "removed")
          yield* events.broadcast(lessonId, { kind: "removed", userId, connectionId: p.value.connectionId })
        }
      }).pipe(storeCall, Effect.withSpan("Calls.removeFormerMembers", { attributes: { lessonId } }))

    /** The host (or an admin) ends the call for everyone. */
    const end = (actor: Actor, lessonId: LessonId) =>
      Effect.gen(function*() {
        const m = yield* membership(actor, lessonId)
        if (m.callRole !== "HOST" && m.as !== "admin") {
          return yield* new Forbidden({ detail: "Only the call's host or an admin can end it" })
        }
        const row = yield* requireLive(lessonId)
        yield* endWith(row, m.as === "admin" ? "admin" : "host", actor.id)
        const ended = yield* store.sessionOf(lessonId, Option.some(row.id))
        return toSession(Option.getOrElse(ended, () => row), [])
      }).pipe(storeCall, Effect.withSpan("Calls.end", { attributes: { lessonId } }))

    /**
     * Relays an offer, answer or ICE candidate from the caller (on `connectionId`)
     * to `to` only, wherever `to` is connected; logged without its payload.
     */
    const relay = (actor: Actor, lessonId: LessonId, connectionId: string | undefined, type: string, to: UserId, data: unknown) =>
      Effect.gen(function*() {
        const { row } = yield* requirePresent(actor, lessonId, connectionId)
        if (to === actor.id) return yield* new SignalTargetUnknown({ to })
        const target = yield* store.participant(row.id, to)
        if (Option.isNone(target) || target.value.leftAt !== null) return yield* new SignalTargetUnknown({ to })
        yield* store.log(row.id, type, actor.id, to, yield* now)
        yield* events.direct(lessonId, to, { type, from: actor.id, data })
      }).pipe(storeCall)

    /**
     * The periodic check of a process holding the call: heartbeats its connections
     * in the call, takes out participants whose process stopped heartbeating, and
     * ends the session when a timeout or its lifetime has passed. True when it has ended.
     */
    const expire = (lessonId: LessonId, localConnections: ReadonlyArray<string> = []) =>
      Effect.gen(function*() {
        const row = yield* store.liveSession(lessonId)
        if (Option.isNone(row)) return true
        const at = yield* now
        yield* store.heartbeat(row.value.id, localConnections, at)
        const gone = yield* store.stale(row.value.id, new Date(at.getTime() - Duration.toMillis(staleAfter(config))))
        for (const p of gone) yield* departed(row.value, p.userId, false, "disconnected")
        return Option.isNone(yield* live(lessonId))
      }).pipe(storeCall, Effect.withSpan("Calls.expire", { attributes: { lessonId } }))

    return {
      start,
      info,
      join,
      leave,
      disconnected,
      setMuted,
      screenShare,
      setGrants,
      hostMute,
      remove,
      end,
      endForCancelledLesson,
      removeFormerMembers,
      relay,
      expire
    } as const
  }),
  dependencies: [CallStore.Default, CallEvents.Default, IceServers.Default]
}) {}

