/**
 * The Bus side of calls. `call:<lessonId>` carries what every process holding
 * connections of the call must know (state changes, a replaced or removed
 * connection, the end); `call:<lessonId>:to:<userId>` carries signals for one
 * participant only, so an offer for B is never delivered to C's process or socket.
 * Nothing is stored here: callers commit first, then publish.
 */
import { Effect, Option, Schema, Stream } from "effect"
import { Packr } from "msgpackr"
import { Bus } from "../layers/Bus.ts"
import type { LessonId, UserId } from "../schemas/Ids.ts"

/** A message on a call's broadcast channel. */
export const CallBroadcast = Schema.Union(
  /** forwarded to every subscribed client as an event `type` with `data` */
  Schema.Struct({ kind: Schema.Literal("event"), type: Schema.String, data: Schema.Unknown }),
  /** the connection `connectionId` of `userId` was replaced by a second device */
  Schema.Struct({ kind: Schema.Literal("replaced"), userId: Schema.String, connectionId: Schema.String }),
  /** the host removed `userId`: its connection leaves the call */
  Schema.Struct({ kind: Schema.Literal("removed"), userId: Schema.String, connectionId: Schema.NullOr(Schema.String) })
)
/** @see CallBroadcast */
export type CallBroadcast = typeof CallBroadcast.Type

/** A signal for one participant (offer, answer, ice). */
export const CallDirect = Schema.Struct({ type: Schema.String, from: Schema.String, data: Schema.Unknown })
/** @see CallDirect */
export type CallDirect = typeof CallDirect.Type

/** The realtime channel (and Bus channel) of a lesson's call. */
export const callChannel = (lessonId: LessonId) => `call:${lessonId}`
const directChannel = (lessonId: LessonId, userId: UserId) => `call:${lessonId}:to:${userId}`

// Plain msgpack (no records extension) so any msgpack library could read the bus.
const packr = new Packr({ useRecords: false })

const decoded = <A, I>(schema: Schema.Schema<A, I>, what: string) => {
  const decode = Schema.decodeUnknown(schema)
  return (queue: Stream.Stream<Uint8Array>) =>
    queue.pipe(
      Stream.mapEffect((payload) =>
        Effect.try(() => packr.unpack(payload) as unknown).pipe(
          Effect.flatMap(decode),
          Effect.asSome,
          Effect.catchAllCause((cause) => Effect.as(Effect.logWarning(`undecodable ${what} skipped`, cause), Option.none<A>()))
        )
      ),
      Stream.filterMap((m) => m)
    )
}

/** Publish and follow call messages. */
export class CallEvents extends Effect.Service<CallEvents>()("lectern/CallEvents", {
  effect: Effect.gen(function*() {
    const bus = yield* Bus

    /** Tells every process with connections of the call (failures are logged: clients resync on reconnect). */
    const broadcast = (lessonId: LessonId, message: CallBroadcast) =>
      bus.publish(callChannel(lessonId), packr.pack(message)).pipe(
        Effect.catchTag("ServiceUnavailable", (e) => Effect.logWarning("call broadcast not published", e)),
        Effect.withSpan("CallEvents.broadcast", { attributes: { lessonId, kind: message.kind } })
      )

    /** Sends an event `type`/`data` to everyone following the call. */
    const event = (lessonId: LessonId, type: string, data: unknown) => broadcast(lessonId, { kind: "event", type, data })

    /** Sends a signal to `to`'s current connection, on whichever process it is. */
    const direct = (lessonId: LessonId, to: UserId, message: CallDirect) =>
      bus.publish(directChannel(lessonId, to), packr.pack(message)).pipe(
        Effect.withSpan("CallEvents.direct", { attributes: { lessonId, to, type: message.type } })
      )

    /** The call's broadcast messages from now on, for the lifetime of the scope. */
    const followBroadcast = (lessonId: LessonId) =>
      Effect.map(bus.subscribe(callChannel(lessonId)), (q) => decoded(CallBroadcast, "call broadcast")(Stream.fromQueue(q)))

    /** Signals addressed to `userId` from now on, for the lifetime of the scope. */
    const followDirect = (lessonId: LessonId, userId: UserId) =>
      Effect.map(bus.subscribe(directChannel(lessonId, userId)), (q) => decoded(CallDirect, "call signal")(Stream.fromQueue(q)))

    return { broadcast, event, direct, followBroadcast, followDirect } as const
  })
}) {}
