/**
 * What each command on a `call:<lessonId>` channel does: decode its payload
 * (every bad field named, nothing changed), check the claimed sender, and hand
 * it to `Calls`. Runs inside the lesson's `WebRtcSession` loop, one at a time.
 * The answer is the command's ack data (plain, wire-ready values).
 */
import { Effect, Metric, ParseResult, Schema } from "effect"
import {
  GrantsSignal,
  HostMuteSignal,
  HostRemoveSignal,
  IceSignal,
  MediaSignal,
  NoFields,
  SdpSignal
} from "../schemas/CallSignals.ts"
import { CallParticipant, CallSession, IceServer } from "../schemas/Calls.ts"
import type { CodedError } from "../schemas/ErrorCode.ts"
import { Forbidden, ValidationError } from "../schemas/Errors.ts"
import { fieldsOf } from "../schemas/FrameCodec.ts"
import type { LessonId } from "../schemas/Ids.ts"
import { UnknownCommand } from "../schemas/RealtimeErrors.ts"
import type { Calls } from "../services/Calls.ts"
import type { IceServers } from "../services/IceServers.ts"
import type { Connection } from "./ChannelKind.ts"

/** Signals handled, by type (`other` for unknown types). */
const signalCounters = new Map<string, Metric.Metric.Counter<number>>()
const signals = Metric.counter("lectern_call_signals_total", { description: "Call signals handled, by type" })
/** The counter of one signal type (cached: tagging allocates). */
export const signalCounter = (type: string) => {
  const existing = signalCounters.get(type)
  if (existing !== undefined) return existing
  const counter = Metric.tagged(signals, "type", type)
  signalCounters.set(type, counter)
  return counter
}

const decode = <A, I>(schema: Schema.Schema<A, I>, data: unknown) =>
  Schema.decodeUnknown(schema)(data ?? {}).pipe(
    Effect.mapError((e: ParseResult.ParseError) => new ValidationError({ fields: fieldsOf(e) }))
  )

const encodeSession = Schema.encodeSync(CallSession)
const encodeParticipant = Schema.encodeSync(CallParticipant)
const encodeIce = Schema.encodeSync(Schema.Array(IceServer))

/** What the handler needs. */
export interface CallCommandContext {
  readonly calls: Calls
  readonly ice: IceServers
  readonly lessonId: LessonId
  /** The local view of who is in the call on which connection (for direct delivery). */
  readonly active: Map<string, string>
}

/** Runs command `type` from `conn`; the success value is the ack's data. */
export const handleCallCommand = (
  ctx: CallCommandContext,
  conn: Connection,
  type: string,
  data: unknown
): Effect.Effect<unknown, CodedError> => {
  const { calls, lessonId } = ctx
  const user = conn.user
  const at = conn.connectionId
  const sentAs = (claimed: string | undefined) =>
    claimed === undefined || claimed === user.id
      ? Effect.void
      : Effect.fail(new Forbidden({ detail: "Signals are sent as yourself: `from` must be your own id or absent" }))
  const participant = (p: CallParticipant) => ({ participant: encodeParticipant(p) })

  switch (type) {
    case "join":
      return Effect.gen(function*() {
        yield* decode(NoFields, data)
        const { session } = yield* calls.join(user, lessonId, at)
        ctx.active.set(user.id, at)
        return { session: encodeSession(session), iceServers: encodeIce(yield* ctx.ice.forUser(user.id)) }
      })
    case "leave":
      return Effect.gen(function*() {
        yield* decode(NoFields, data)
        yield* calls.leave(user, lessonId, at)
        if (ctx.active.get(user.id) === at) ctx.active.delete(user.id)
        return {}
      })
    case "offer":
    case "answer":
      return Effect.gen(function*() {
        const signal = yield* decode(SdpSignal, data)
        yield* sentAs(signal.from)
        yield* calls.relay(user, lessonId, at, type, signal.to, { sdp: signal.sdp })
        return {}
      })
    case "ice":
      return Effect.gen(function*() {
        const signal = yield* decode(IceSignal, data)
        yield* sentAs(signal.from)
        yield* calls.relay(user, lessonId, at, type, signal.to, { candidate: signal.candidate })
        return {}
      })
    case "mute":
    case "unmute":
      return Effect.gen(function*() {
        const { kind } = yield* decode(MediaSignal, data)
        return participant(yield* calls.setMuted(user, lessonId, at, kind, type === "mute"))
      })
    case "screen_share_start":
    case "screen_share_stop":
      return Effect.gen(function*() {
        yield* decode(NoFields, data)
        return participant(yield* calls.screenShare(user, lessonId, at, type === "screen_share_start"))
      })
    case "grants":
      return Effect.gen(function*() {
        const { userId, ...grants } = yield* decode(GrantsSignal, data)
        return participant(yield* calls.setGrants(user, lessonId, userId, grants))
      })
    case "host_mute":
      return Effect.gen(function*() {
        const { kind, userId } = yield* decode(HostMuteSignal, data)
        return participant(yield* calls.hostMute(user, lessonId, userId, kind))
      })
    case "host_remove":
      return Effect.gen(function*() {
        const { userId } = yield* decode(HostRemoveSignal, data)
        yield* calls.remove(user, lessonId, userId)
        return {}
      })
    case "host_end":
      return Effect.gen(function*() {
        yield* decode(NoFields, data)
        return { session: encodeSession(yield* calls.end(user, lessonId)) }
      })
    default:
      return Effect.fail(new UnknownCommand({ channel: `call:${lessonId}`, type: type.slice(0, 64) }))
  }
}
