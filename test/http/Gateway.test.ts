import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Exit, Layer, Schedule, Scope } from "effect"
import { createServer } from "node:http"
import * as Gateway from "../../src/http/Gateway.ts"
import { encodeFrame } from "../../src/schemas/FrameCodec.ts"
import { CloseCodes } from "../../src/schemas/Frames.ts"
import { SignJWT } from "jose"
import { UserEvents } from "../../src/services/UserEvents.ts"
import { call } from "../support/Http.ts"
import { realtimeConfig } from "../support/Realtime.ts"
import { signedIn } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack, testJwtSecret } from "../support/TestStack.ts"
import { connected, openSocket, request } from "../support/Ws.ts"

const config = realtimeConfig({
  authTimeout: Duration.millis(400),
  pingTimeout: Duration.millis(1_200),
  commandRate: 5,
  commandBurst: 10,
  outboundLimitBytes: 256 * 1024,
  maxFrameBytes: 16 * 1024
})

describe(`WebSocket gateway (${backendLabel})`, () => {
  it.layer(serverStack({ realtime: config }), liveStack)((it) => {
    it.scoped("connect with a valid token answers `connected`; ping gets pong", () =>
      Effect.gen(function*() {
        const { user, token } = yield* signedIn("student")
        const socket = yield* openSocket()
        yield* socket.send({ t: "connect", v: 1, token })
        const hello = yield* socket.waitFor((f) => f.t === "connected")
        expect(hello).toMatchObject({ v: 1, userId: user.id, pingTimeout: 1_200 })
        expect(typeof hello.connectionId).toBe("string")
        yield* socket.send({ t: "ping" })
        yield* socket.waitFor((f) => f.t === "pong")
        // The HTTP API still answers next to the gateway.
        expect((yield* call("GET", "/health/live")).status).toBe(200)
      }))

    it.scoped("a bad token is refused with TOKEN_INVALID and close 4501; an unsupported version with 4503", () =>
      Effect.gen(function*() {
        const socket = yield* openSocket()
        yield* socket.send({ t: "connect", v: 1, token: "not-a-jwt" })
        expect(yield* socket.waitFor((f) => f.t === "error")).toMatchObject({ code: "TOKEN_INVALID" })
        expect((yield* socket.closed).code).toBe(CloseCodes.UNAUTHORIZED)

        const { token } = yield* signedIn("student")
        const old = yield* openSocket()
        yield* old.send({ t: "connect", v: 99, token })
        expect(yield* old.waitFor((f) => f.t === "error")).toMatchObject({ code: "PROTOCOL_VERSION_UNSUPPORTED" })
        expect((yield* old.closed).code).toBe(CloseCodes.UNSUPPORTED_VERSION)
      }))

    it.scoped("an expired token closes with 4002 (reconnect after refreshing)", () =>
      Effect.gen(function*() {
        const { user } = yield* signedIn("student")
        const expired = yield* mint(user.id, -60)
        const socket = yield* openSocket()
        yield* socket.send({ t: "connect", v: 1, token: expired })
        expect(yield* socket.waitFor((f) => f.t === "error")).toMatchObject({ code: "TOKEN_EXPIRED" })
        expect((yield* socket.closed).code).toBe(CloseCodes.TOKEN_EXPIRED)
      }))

    it.scoped("a live connection whose token expires without refresh is closed with 4002", () =>
      Effect.gen(function*() {
        const { user } = yield* signedIn("student")
        // 3 s of validity: enough to connect on a loaded CI machine, short enough to watch it expire.
        const socket = yield* connected(yield* mint(user.id, 3))
        // Keep pinging (the ping timeout here is 1.2 s) so only the token's expiry can close it.
        yield* socket.send({ t: "ping" }).pipe(Effect.repeat(Schedule.spaced("300 millis")), Effect.forkScoped)
        const closed = yield* socket.closed.pipe(Effect.timeout("8 seconds"))
        expect(closed.code).toBe(CloseCodes.TOKEN_EXPIRED)
      }))

    it.scoped("a socket that never authenticates is closed with 4003 after the deadline", () =>
      Effect.gen(function*() {
        const socket = yield* openSocket()
        const closed = yield* socket.closed.pipe(Effect.timeout("3 seconds"))
        expect(closed.code).toBe(CloseCodes.AUTH_TIMEOUT)
        expect(socket.frames).toContainEqual(expect.objectContaining({ t: "disconnect", code: 4003, reconnect: true }))
      }))

    it.scoped("a silent client gets a connection.timeout event, then close 4008", () =>
      Effect.gen(function*() {
        const { token } = yield* signedIn("student")
        const socket = yield* connected(token)
        const timeout = yield* socket.waitFor((f) => f.t === "event" && f.type === "connection.timeout", "4 seconds")
        expect(timeout.channel).toBe("connection")
        expect((yield* socket.closed).code).toBe(CloseCodes.PING_TIMEOUT)
      }))

    it.scoped("a pinging client stays connected past the ping timeout", () =>
      Effect.gen(function*() {
        const { token } = yield* signedIn("student")
        const socket = yield* connected(token)
        for (let i = 0; i < 8; i++) {
          yield* socket.send({ t: "ping" })
          yield* Effect.sleep("250 millis")
        }
        expect(socket.isOpen()).toBe(true)
      }))

    it.scoped("malformed frames get error frames (with their id when readable); repeated garbage closes 4502", () =>
      Effect.gen(function*() {
        const { token } = yield* signedIn("student")
        const socket = yield* connected(token)
        const bad = yield* request(socket, { t: "sub", channel: 42 })
        expect(bad).toMatchObject({ t: "error", code: "FRAME_MALFORMED" })
        expect(Object.keys(bad.fields as object)).toContain("channel")
        yield* socket.sendRaw(new Uint8Array([0xc1, 0xff, 0x00]))
        yield* socket.waitFor((f) => f.t === "error" && f.code === "FRAME_MALFORMED" && f.id === undefined)
        const unknown = yield* request(socket, { t: "dance" })
        expect(unknown).toMatchObject({ code: "FRAME_MALFORMED", detail: "Unknown frame type" })
        const text = yield* socket.sendRaw("{\"t\":\"ping\"}").pipe(Effect.zipRight(socket.waitFor((f) => f.detail === "Frames are binary MessagePack")))
        expect(text.code).toBe("FRAME_MALFORMED")
        for (let i = 0; i < 40 && socket.isOpen(); i++) yield* socket.sendRaw(new Uint8Array([0xc1]))
        expect((yield* socket.closed).code).toBe(CloseCodes.POLICY_VIOLATION)
      }))

    it.scoped("a frame over the size limit closes the socket with 1009", () =>
      Effect.gen(function*() {
        const { token } = yield* signedIn("student")
        const socket = yield* connected(token)
        yield* socket.sendRaw(encodeFrame({ t: "cmd", id: 1, channel: "user:x", type: "x", data: "y".repeat(20_000) }))
        expect((yield* socket.closed).code).toBe(1009)
      }))

    it.scoped("commands beyond the rate limit are refused with RATE_LIMITED", () =>
      Effect.gen(function*() {
        const { token } = yield* signedIn("student")
        const socket = yield* connected(token)
        const answers = []
        for (let i = 0; i < 14; i++) answers.push(yield* request(socket, { t: "cmd", channel: "user:nobody", type: "x" }))
        const codes = answers.map((a) => a.code)
        expect(codes.slice(0, 10).every((c) => c === "CHANNEL_NOT_SUBSCRIBED")).toBe(true)
        expect(codes).toContain("RATE_LIMITED")
      }))

    it.scoped("user channel: own events are forwarded, another user's channel is FORBIDDEN; unknown kinds refused", () =>
      Effect.gen(function*() {
        const alice = yield* signedIn("student")
        const bob = yield* signedIn("student")
        const socket = yield* connected(alice.token)
        expect(yield* request(socket, { t: "sub", channel: `user:${alice.user.id}` })).toMatchObject({ t: "ack" })
        expect(yield* request(socket, { t: "sub", channel: `user:${alice.user.id}` })).toMatchObject({
          code: "CHANNEL_ALREADY_SUBSCRIBED"
        })
        expect(yield* request(socket, { t: "sub", channel: `user:${bob.user.id}` })).toMatchObject({ code: "FORBIDDEN" })
        expect(yield* request(socket, { t: "sub", channel: "nope:1" })).toMatchObject({ code: "UNKNOWN_CHANNEL" })
        const events = yield* UserEvents
        yield* events.publish(bob.user.id, "notification.created", { secret: true })
        yield* events.publish(alice.user.id, "notification.created", { id: 7 })
        const event = yield* socket.waitFor((f) => f.t === "event")
        expect(event).toMatchObject({ channel: `user:${alice.user.id}`, type: "notification.created", data: { id: 7 } })
        expect(socket.frames.filter((f) => f.t === "event")).toHaveLength(1)
        // After unsubscribing nothing more arrives.
        expect(yield* request(socket, { t: "unsub", channel: `user:${alice.user.id}` })).toMatchObject({ t: "ack" })
        yield* events.publish(alice.user.id, "notification.created", { id: 8 })
        yield* request(socket, { t: "cmd", channel: `user:${alice.user.id}`, type: "x" })
        expect(socket.frames.filter((f) => f.t === "event")).toHaveLength(1)
      }))

    it.scoped("refresh: a token of the same user is accepted, of another user closes 4501", () =>
      Effect.gen(function*() {
        const alice = yield* signedIn("student")
        const bob = yield* signedIn("student")
        const socket = yield* connected(alice.token)
        const ack = yield* request(socket, { t: "refresh", token: alice.token })
        expect(ack).toMatchObject({ t: "ack", data: { expiresAt: expect.any(Number) } })
        expect(yield* request(socket, { t: "refresh", token: bob.token })).toMatchObject({ code: "TOKEN_INVALID" })
        expect((yield* socket.closed).code).toBe(CloseCodes.UNAUTHORIZED)
      }))

    it.scoped("on shutdown every connection is told 4001 (reconnect elsewhere)", () =>
      Effect.gen(function*() {
        const { token } = yield* signedIn("student")
        // A second gateway on its own node server, closed by this test's inner scope.
        const server = createServer()
        yield* Effect.async<void>((resume) => void server.listen(0, "127.0.0.1", () => resume(Effect.void)))
        yield* Effect.addFinalizer(() => Effect.sync(() => server.close()))
        const address = server.address()
        const port = typeof address === "object" && address !== null ? address.port : 0
        const scope = yield* Scope.make()
        yield* Layer.buildWithScope(Gateway.layer(server), scope)
        const socket = yield* connected(token, `ws://127.0.0.1:${port}/ws`)
        yield* Scope.close(scope, Exit.void)
        expect((yield* socket.closed).code).toBe(CloseCodes.SHUTDOWN)
        expect(socket.frames).toContainEqual(expect.objectContaining({ t: "disconnect", code: 4001, reconnect: true }))
      }))

    it.scoped("a client that stops reading is closed as a slow consumer; another client is unaffected", () =>
      Effect.gen(function*() {
        const { user, token } = yield* signedIn("student")
        const slow = yield* connected(token)
        const fast = yield* connected(token)
        const channel = `user:${user.id}`
        expect(yield* request(slow, { t: "sub", channel })).toMatchObject({ t: "ack" })
        expect(yield* request(fast, { t: "sub", channel })).toMatchObject({ t: "ack" })
        slow.tcp.pause()
        const events = yield* UserEvents
        const body = "x".repeat(1_000)
        for (let i = 1; i <= 10_000; i++) {
          yield* events.publish(user.id, "tick", { i, body })
          if (i % 200 === 0) {
            yield* fast.send({ t: "ping" })
            yield* slow.send({ t: "ping" })
            yield* Effect.sleep("5 millis")
          }
        }
        yield* fast.waitFor((f) => f.t === "event" && (f.data as { i: number }).i === 10_000, "20 seconds")
        const got = fast.frames.filter((f) => f.t === "event").map((f) => (f.data as { i: number }).i)
        expect(got).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1))
        slow.tcp.resume()
        expect((yield* slow.closed.pipe(Effect.timeout("20 seconds"))).code).toBe(CloseCodes.SLOW_CONSUMER)
        expect(fast.isOpen()).toBe(true)
      }), { timeout: 60_000 })
  })
})

/** A token of `userId` expiring `expiresInSeconds` from now (negative: already expired). */
const mint = (userId: string, expiresInSeconds: number) => {
  const now = Math.floor(Date.now() / 1000)
  return Effect.promise(() =>
    new SignJWT({ role: "student", sid: "x" }).setProtectedHeader({ alg: "HS256" }).setSubject(userId)
      .setIssuer("lectern").setAudience("lectern").setIssuedAt(now - 3600).setExpirationTime(now + expiresInSeconds)
      .sign(new TextEncoder().encode(testJwtSecret))
  )
}
