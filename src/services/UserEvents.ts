/**
 * Personal live events for one user (a new notification, an unread-count change,
 * a revoked device), fanned out across processes on the Bus channel `user:<id>`.
 * The realtime gateway forwards them to that user's connected clients on their
 * `user:<id>` channel. Nothing is stored here: callers persist first, then publish.
 */
import { Effect, Option, Schema, Stream } from "effect"
import { Packr } from "msgpackr"
import { Bus } from "../layers/Bus.ts"
import type { UserId } from "../schemas/Ids.ts"

/** One personal event as carried on the bus. */
export const UserEvent = Schema.Struct({
  type: Schema.String,
  data: Schema.Unknown
})
/** @see UserEvent */
export type UserEvent = typeof UserEvent.Type

/** The realtime channel (and Bus channel) of a user's personal events. */
export const userChannel = (userId: UserId) => `user:${userId}`

// Plain msgpack (no records extension) so any msgpack library could read the bus.
const packr = new Packr({ useRecords: false })
const decodeEvent = Schema.decodeUnknown(UserEvent)

/** Publish and follow personal events. */
export class UserEvents extends Effect.Service<UserEvents>()("lectern/UserEvents", {
  effect: Effect.gen(function*() {
    const bus = yield* Bus

    /** Sends `type`/`data` to every connected client of `userId`, on any process. */
    const publish = (userId: UserId, type: string, data: unknown) =>
      bus.publish(userChannel(userId), packr.pack({ type, data })).pipe(
        Effect.withSpan("UserEvents.publish", { attributes: { "user.id": userId, "event.type": type } })
      )

    /**
     * The user's events from now on, for the lifetime of the scope. Payloads that
     * do not decode (a newer or foreign publisher) are logged and skipped.
     */
    const follow = (userId: UserId) =>
      Effect.map(bus.subscribe(userChannel(userId)), (queue) =>
        Stream.fromQueue(queue).pipe(
          Stream.mapEffect((payload) =>
            Effect.try(() => packr.unpack(payload) as unknown).pipe(
              Effect.flatMap(decodeEvent),
              Effect.asSome,
              Effect.catchAllCause((cause) =>
                Effect.as(Effect.logWarning("undecodable user event skipped", cause), Option.none<UserEvent>())
              )
            )
          ),
          Stream.filterMap((event) => event)
        ))

    return { publish, follow } as const
  })
}) {}
