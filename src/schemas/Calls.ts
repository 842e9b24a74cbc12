/**
 * Lesson calls on the wire: the session record with its participants (role,
 * grants, media state), the ICE server list, the signaling log, and call
 * errors. Lectern carries no media; this is the state peers coordinate on.
 * The realtime signals themselves are in `CallSignals.ts`.
 */
import { Schema } from "effect"
import { LessonId, UserId } from "./Ids.ts"
import { RequestFields } from "./Request.ts"

/** A call session's id. */
export const CallSessionId = Schema.UUID.pipe(Schema.brand("CallSessionId")).annotations({ identifier: "CallSessionId" })
/** @see CallSessionId */
export type CallSessionId = typeof CallSessionId.Type

/** HOST: the lesson's tutor; PARTICIPANT: its students; VIEWER: receive-only observers (admins). */
export const CallRole = Schema.Literal("HOST", "PARTICIPANT", "VIEWER").annotations({ identifier: "CallRole" })
/** @see CallRole */
export type CallRole = typeof CallRole.Type

/** WAITING until two people are in the call, then ACTIVE, finally ENDED. */
export const CallStatus = Schema.Literal("WAITING", "ACTIVE", "ENDED").annotations({ identifier: "CallStatus" })
/** @see CallStatus */
export type CallStatus = typeof CallStatus.Type

/** Why a session ended. */
export const CallEndReason = Schema.Literal("host", "admin", "empty", "idle", "max_lifetime", "lesson_cancelled").annotations({
  identifier: "CallEndReason",
  description: "host/admin: ended by them; empty: nobody left for the empty timeout; idle: never got two people " +
    "in within the idle timeout; max_lifetime: reached the maximum session length; lesson_cancelled: the lesson was cancelled"
})
/** @see CallEndReason */
export type CallEndReason = typeof CallEndReason.Type

/** What a participant may publish. */
export class CallGrants extends Schema.Class<CallGrants>("CallGrants")({
  audio: Schema.Boolean,
  video: Schema.Boolean,
  screen: Schema.Boolean
}) {}

/** Default grants of each role (the host may change them at runtime). */
export const defaultGrants = (role: CallRole): CallGrants =>
  role === "VIEWER"
    ? CallGrants.make({ audio: false, video: false, screen: false })
    : CallGrants.make({ audio: true, video: true, screen: true })

/** Someone in the call. */
export class CallParticipant extends Schema.Class<CallParticipant>("CallParticipant")({
  userId: UserId,
  displayName: Schema.String,
  role: CallRole,
  grants: CallGrants,
  audioMuted: Schema.Boolean,
  videoMuted: Schema.Boolean,
  screenSharing: Schema.Boolean,
  joinedAt: Schema.DateTimeUtc
}) {}

/** A call session with the people currently in it. */
export class CallSession extends Schema.Class<CallSession>("CallSession")({
  id: CallSessionId,
  lessonId: LessonId,
  status: CallStatus,
  createdAt: Schema.DateTimeUtc,
  expiresAt: Schema.DateTimeUtc,
  endedAt: Schema.NullOr(Schema.DateTimeUtc),
  endReason: Schema.NullOr(CallEndReason),
  participants: Schema.Array(CallParticipant)
}) {}

/** One ICE server as `RTCPeerConnection` takes it (TURN entries carry time-limited credentials). */
export class IceServer extends Schema.Class<IceServer>("IceServer")({
  urls: Schema.Array(Schema.String),
  username: Schema.optional(Schema.String),
  credential: Schema.optional(Schema.String)
}) {}

/** `GET /lessons/{id}/call`: the live session (or null), the caller's role and the ICE servers. */
export class CallInfo extends Schema.Class<CallInfo>("CallInfo")({
  session: Schema.NullOr(CallSession),
  role: CallRole,
  iceServers: Schema.Array(IceServer)
}) {}

/** One signaling event of a session (never the SDP or candidate itself). */
export class CallLogEntry extends Schema.Class<CallLogEntry>("CallLogEntry")({
  seq: Schema.Number,
  type: Schema.String,
  from: Schema.NullOr(UserId),
  to: Schema.NullOr(UserId),
  at: Schema.DateTimeUtc
}) {}

/** A page of a session's signaling log, oldest first. */
export class CallLogPage extends Schema.Class<CallLogPage>("CallLogPage")({
  sessionId: Schema.NullOr(CallSessionId),
  items: Schema.Array(CallLogEntry),
  nextCursor: Schema.NullOr(Schema.String)
}) {}

/** Query of `GET /lessons/{id}/call/log`. */
export const CallLogParams = RequestFields({
  sessionId: Schema.optional(CallSessionId).annotations({
    description: "A past session of this lesson (default: the most recent one)"
  }),
  cursor: Schema.optional(Schema.String.pipe(Schema.minLength(1), Schema.maxLength(512))).annotations({
    description: "nextCursor of the previous page"
  }),
  limit: Schema.optional(
    Schema.NumberFromString.pipe(
      Schema.int(),
      Schema.between(1, 1000)
    ).annotations({ message: () => ({ message: "expected a whole number from 1 to 1000", override: true }) })
  ).annotations({ description: "Page size, 1–1000 (default 200)" })
})
/** @see CallLogParams */
export type CallLogParams = typeof CallLogParams.Type

const lessonField = { lessonId: Schema.optional(Schema.String) }

/** The lesson has no live call. */
export class CallNotFound extends Schema.TaggedError<CallNotFound>()("CallNotFound", lessonField) {
  readonly code = "CALL_NOT_FOUND" as const
  override get message() {
    return "This lesson has no live call"
  }
}

/** The call has reached its participant limit. */
export class CallFull extends Schema.TaggedError<CallFull>()("CallFull", { max: Schema.optional(Schema.Number) }) {
  readonly code = "CALL_FULL" as const
  override get message() {
    return `The call is full (at most ${this.max ?? "?"} participants)`
  }
}

/** Someone else is already sharing their screen. */
export class ScreenShareTaken extends Schema.TaggedError<ScreenShareTaken>()("ScreenShareTaken", {
  detail: Schema.optional(Schema.String)
}) {
  readonly code = "SCREEN_SHARE_TAKEN" as const
  override get message() {
    return this.detail ?? "Someone else is sharing their screen; only one screen share at a time"
  }
}

/** The sender (or the named participant) is not in the call. */
export class NotInCall extends Schema.TaggedError<NotInCall>()("NotInCall", { detail: Schema.optional(Schema.String) }) {
  readonly code = "NOT_IN_CALL" as const
  override get message() {
    return this.detail ?? "You are not in this call (join it first)"
  }
}

/** A signal names a target that is not in the call (or is the sender). */
export class SignalTargetUnknown extends Schema.TaggedError<SignalTargetUnknown>()("SignalTargetUnknown", {
  to: Schema.optional(Schema.String)
}) {
  readonly code = "SIGNAL_TARGET_UNKNOWN" as const
  readonly fields = { to: "not a participant of this call" }
  override get message() {
    return "The signal's target is not a participant of this call"
  }
}

/** The participant's grants do not allow publishing this kind of media. */
export class GrantDenied extends Schema.TaggedError<GrantDenied>()("GrantDenied", {
  kind: Schema.optional(Schema.String)
}) {
  readonly code = "GRANT_DENIED" as const
  override get message() {
    return `You may not publish ${this.kind ?? "this media"} in this call`
  }
}

/** The host removed this user from the session. */
export class CallRemoved extends Schema.TaggedError<CallRemoved>()("CallRemoved", lessonField) {
  readonly code = "CALL_REMOVED" as const
  override get message() {
    return "The host removed you from this call"
  }
}

/** A cancelled or finished lesson has no call. */
export class CallLessonClosed extends Schema.TaggedError<CallLessonClosed>()("CallLessonClosed", {
  status: Schema.optional(Schema.String)
}) {
  readonly code = "CALL_LESSON_CLOSED" as const
  override get message() {
    return `A ${this.status ?? "closed"} lesson cannot have a call`
  }
}
