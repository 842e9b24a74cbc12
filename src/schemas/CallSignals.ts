/**
 * Command payloads on a `call:<lessonId>` channel. SDP and ICE candidates are
 * opaque to Lectern: checked for shape and size only, then relayed to the one
 * named participant. A `from` field, when sent, must be the sender's own id (the
 * server stamps the sender; it never trusts the client's claim).
 */
import { Schema } from "effect"
import { UserId } from "./Ids.ts"

/** Largest SDP accepted (characters); real offers are 2–20 KB. */
export const maxSdpLength = 32 * 1024
/** Largest ICE candidate line accepted (characters). */
export const maxCandidateLength = 1024

const strict = { parseOptions: { errors: "all", onExcessProperty: "error" } } as const

const struct = <Fields extends Schema.Struct.Fields>(fields: Fields) => Schema.Struct(fields).annotations(strict)

const from = { from: Schema.optional(UserId) }

/** `join`, `leave`, `screen_share_start`, `screen_share_stop`, `host_end`: no fields. */
export const NoFields = struct({})

/** `offer` and `answer`. */
export const SdpSignal = struct({
  to: UserId,
  sdp: Schema.String.pipe(
    Schema.minLength(1, { message: () => "must not be empty" }),
    Schema.maxLength(maxSdpLength, { message: () => `at most ${maxSdpLength} characters` }),
    Schema.startsWith("v=0", { message: () => "expected an SDP (starting with v=0)" })
  ),
  ...from
})

/** An ICE candidate as `RTCIceCandidate.toJSON()` gives it; `null` ends the candidates. */
export const IceCandidate = struct({
  candidate: Schema.String.pipe(
    Schema.maxLength(maxCandidateLength, { message: () => `at most ${maxCandidateLength} characters` })
  ),
  sdpMid: Schema.optional(Schema.NullOr(Schema.String.pipe(Schema.maxLength(64)))),
  sdpMLineIndex: Schema.optional(Schema.NullOr(Schema.Int.pipe(Schema.between(0, 255)))),
  usernameFragment: Schema.optional(Schema.NullOr(Schema.String.pipe(Schema.maxLength(256))))
})

/** `ice`: trickled candidates. */
export const IceSignal = struct({ to: UserId, candidate: Schema.NullOr(IceCandidate), ...from })

/** `mute` / `unmute` of the sender's own audio or video. */
export const MediaSignal = struct({ kind: Schema.Literal("audio", "video") })

/** `grants`: the host changes what `userId` may publish (absent kinds keep their value). */
export const GrantsSignal = struct({
  userId: UserId,
  audio: Schema.optional(Schema.Boolean),
  video: Schema.optional(Schema.Boolean),
  screen: Schema.optional(Schema.Boolean)
})

/** `host_mute`: the host mutes someone's audio or video, or stops their screen share. */
export const HostMuteSignal = struct({ userId: UserId, kind: Schema.Literal("audio", "video", "screen") })

/** `host_remove`: the host removes someone from the session. */
export const HostRemoveSignal = struct({ userId: UserId })

/** Every command type of the call channel. */
export const callCommandTypes = [
  "join",
  "leave",
  "offer",
  "answer",
  "ice",
  "mute",
  "unmute",
  "screen_share_start",
  "screen_share_stop",
  "grants",
  "host_mute",
  "host_remove",
  "host_end"
] as const
