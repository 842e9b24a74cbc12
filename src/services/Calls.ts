/**
 * Lesson calls: who may start, join, publish and moderate, enforced against the
 * database so every server process sees the same session. Roles come from
 * `LessonAccess` (tutor → HOST, students → PARTICIPANT, admins → VIEWER; anyone
 * else: LESSON_NOT_FOUND). Every change commits first, then is announced on the
 * call's Bus channel (`CallEvents`). Media and SDP never pass through here.
 */
import { SqlClient } from "@effect/sql"
import { Duration, Effect, Metric, Option } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import {
  CallFull,
  CallGrants,
  CallInfo,
  CallLessonClosed,
  CallNotFound,
  CallRemoved,
  defaultGrants,
  GrantDenied,
  SignalTargetUnknown
} from "../schemas/Calls.ts"
import { Forbidden, ValidationError } from "../schemas/Errors.ts"
import type { LessonId, UserId } from "../schemas/Ids.ts"
import { isClosed } from "../schemas/Lessons.ts"
import { CallEvents } from "./CallEvents.ts"
import { CallStore, toSession } from "./CallStore.ts"
import { staleAfter } from "./CallRules.ts"
import { type Actor, callParticipantsJoined, encodeParticipant, makeCallSteps } from "./CallSteps.ts"
import { IceServers } from "./IceServers.ts"

export type { Actor } from "./CallSteps.ts"


/** Media a participant can mute. */
export type MediaKind = "audio" | "video"

/** Call rules and persistence. */
export class Calls extends Effect.Service<Calls>()("lectern/Calls", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const store = yield* CallStore
    const events = yield* CallEvents
    const ice = yield* IceServers
    const { calls: config } = yield* AppConfig
    const { now, view, endWith, live, membership, requireLive, requirePresent, requireHost, presentTarget, update, departed, startFor } =
      yield* makeCallSteps

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

