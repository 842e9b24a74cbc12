/**
 * A notification reaches the user's connected client live, on its `user:<id>`
 * channel over the real WebSocket, together with the unread count; reading it over
 * REST lowers the count on the same socket. Nobody else's socket sees it.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Notifications } from "../../src/services/Notifications.ts"
import { call } from "../support/Http.ts"
import { signedIn } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"
import { connected, request } from "../support/Ws.ts"

describe(`live notifications over the gateway (${backendLabel})`, () => {
  it.layer(serverStack(), liveStack)((it) => {
    it.scoped("notify → notification.created and unread 1 on user:<id>; REST read → unread 0; others see nothing", () =>
      Effect.gen(function*() {
        const alice = yield* signedIn("student")
        const bob = yield* signedIn("student")
        const socket = yield* connected(alice.token)
        const other = yield* connected(bob.token)
        const channel = `user:${alice.user.id}`
        expect(yield* request(socket, { t: "sub", channel })).toMatchObject({ t: "ack" })
        expect(yield* request(other, { t: "sub", channel: `user:${bob.user.id}` })).toMatchObject({ t: "ack" })

        const notifications = yield* Notifications
        const created = yield* notifications.notify(alice.user.id, {
          type: "homework.assigned",
          title: "Homework: chapter 3",
          body: "Due Friday",
          data: { lessonId: "l-1" }
        })
        const record = Option.getOrThrow(created)
        const live = yield* socket.waitFor((f) => f.t === "event" && f.type === "notification.created")
        expect(live).toMatchObject({
          channel,
          data: { id: record.id, type: "homework.assigned", title: "Homework: chapter 3", body: "Due Friday" }
        })
        expect(yield* socket.waitFor((f) => f.t === "event" && f.type === "notifications.unread")).toMatchObject({
          channel,
          data: { count: 1 }
        })
        expect((yield* call("GET", "/api/v1/notifications/unread-count", { token: alice.token })).json).toMatchObject({
          count: 1
        })

        const read = yield* call("POST", `/api/v1/notifications/${record.id}/read`, { token: alice.token })
        expect(read.status).toBe(200)
        yield* socket.waitFor((f) =>
          f.t === "event" && f.type === "notifications.unread" && (f.data as { count?: number }).count === 0
        )
        expect((yield* call("GET", "/api/v1/notifications/unread-count", { token: alice.token })).json).toMatchObject({
          count: 0
        })
        // Bob's socket, subscribed to his own channel, never saw Alice's notification.
        yield* other.send({ t: "ping" })
        yield* other.waitFor((f) => f.t === "pong")
        expect(other.frames.filter((f) => f.t === "event")).toHaveLength(0)
      }))
  })
})
