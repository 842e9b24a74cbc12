/**
 * The `user:<id>` channel kind: a user's personal live events (notifications,
 * unread counts, device revocations) from `UserEvents`, forwarded to that
 * user's own connections only. It accepts no commands.
 */
import { Effect, Stream } from "effect"
import { Forbidden } from "../schemas/Errors.ts"
import { UnknownCommand } from "../schemas/RealtimeErrors.ts"
import { UserEvents } from "../services/UserEvents.ts"
import type { ChannelKind } from "./ChannelKind.ts"

/** Builds the `user` channel kind. */
export const make = Effect.gen(function*() {
  const events = yield* UserEvents
  return {
    prefix: "user",
    subscribe: (conn, id) =>
      Effect.gen(function*() {
        const channel = `user:${id}`
        if (id !== conn.user.id) return yield* new Forbidden({ detail: "You can only subscribe to your own user channel" })
        const stream = yield* events.follow(conn.user.id)
        yield* stream.pipe(
          Stream.runForEach((event) => conn.send({ channel, type: event.type, data: event.data })),
          Effect.forkScoped
        )
        return {
          ack: {},
          command: (type) => Effect.fail(new UnknownCommand({ channel, type }))
        }
      })
  } satisfies ChannelKind
})
