import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Option, Redacted } from "effect"
import { appendEvent } from "../support/Room.ts"
import { peerServers } from "../support/PeerStacks.ts"
import { freePort, lectern, waitUntilReady } from "../support/Process.ts"
import { realtimeConfig } from "../support/Realtime.ts"
import { lessonCast } from "../support/Seed.ts"
import { backendLabel, realDatabaseUrl, realRedisUrl, testJwtSecret } from "../support/TestStack.ts"
import { connected, type Frame, request, type TestSocket } from "../support/Ws.ts"

const presenceTtl = Duration.seconds(3)
const config = { realtime: realtimeConfig({ presenceTtl, roomRingSize: 8 }) }

const eventSeqs = (socket: TestSocket) => socket.frames.filter((f) => f.t === "event" && (f.seq ?? 0) !== 0).map((f) => f.seq)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)
const presenceOf = (ack: Frame) => (ack.data as { presence: ReadonlyArray<{ userId: string }> }).presence.map((p) => p.userId)

describe(`Realtime across two server processes (${backendLabel})`, () => {
  it.scopedLive("a client that reconnects to the other process recovers exactly the 50 missed events, then live ones; presence is merged", () =>
    Effect.gen(function*() {
      const [a, b] = yield* peerServers(config)
      const cast = yield* a.run(lessonCast())
      const channel = `lesson:${cast.lesson.id}`
      const student = yield* Effect.provide(connected(cast.student.token), a.context)
      const tutor = yield* Effect.provide(connected(cast.tutor.token), b.context)
      yield* request(student, { t: "sub", channel })
      const tutorAck = yield* request(tutor, { t: "sub", channel })
      // The tutor on B sees the student on A in the list.
      expect(presenceOf(tutorAck).sort()).toEqual([cast.student.user.id, cast.tutor.user.id].sort())
      yield* student.waitFor((f) => f.type === "presence.join" && (f.data as { userId: string }).userId === cast.tutor.user.id)

      const first = yield* a.run(appendEvent(cast.lesson.id, "chat.created", { n: 1 }))
      yield* student.waitFor((f) => f.seq === 1)
      // The network of the student drops; 50 events are written meanwhile, half through each process.
      student.ws.terminate()
      for (let n = 2; n <= 51; n++) yield* (n % 2 === 0 ? a : b).run(appendEvent(cast.lesson.id, "chat.created", { n }))
      yield* tutor.waitFor((f) => f.seq === 51)
      expect(eventSeqs(tutor)).toEqual(range(1, 51))

      const back = yield* Effect.provide(connected(cast.student.token), b.context)
      const ack = yield* request(back, { t: "sub", channel, recover: { epoch: first.epoch, seq: 1 } })
      expect(ack).toMatchObject({ t: "ack", data: { epoch: first.epoch, recovered: 50, reset: false } })
      yield* a.run(appendEvent(cast.lesson.id, "chat.created", { n: 52 }))
      yield* back.waitFor((f) => f.seq === 52)
      expect(eventSeqs(back)).toEqual(range(2, 52))
      expect(back.frames.filter((f) => f.t === "event" && f.seq !== undefined).map((f) => (f.data as { n: number }).n))
        .toEqual(range(2, 52))
    }), 60_000)
})

// With real Postgres and Redis: one peer in this process, one `lectern serve` child that gets SIGKILLed.
Option.map(Option.all([realDatabaseUrl, realRedisUrl]), ([, redisUrl]) =>
  describe("Realtime when a process dies (postgres+redis)", () => {
    it.scopedLive("SIGKILL: its users leave presence within the TTL; its clients recover on the other process", () =>
      Effect.gen(function*() {
        const [a] = yield* peerServers(config)
        const database = a.config.database
        if (database._tag !== "Postgres") return yield* Effect.dieMessage("expected a Postgres target")
        const cast = yield* a.run(lessonCast())
        const channel = `lesson:${cast.lesson.id}`
        const port = yield* freePort
        const child = yield* lectern(["serve"], {
          DATABASE_URL: Redacted.value(database.url),
          REDIS_URL: redisUrl,
          REDIS_KEY_PREFIX: a.config.redisKeyPrefix,
          JWT_SECRET: testJwtSecret,
          HOST: "127.0.0.1",
          PORT: String(port),
          LOG_LEVEL: "warning",
          PRESENCE_TTL: `${Duration.toSeconds(presenceTtl)} seconds`,
          WORKERS_IN_PROCESS: "false"
        })
        yield* waitUntilReady(`http://127.0.0.1:${port}/health/ready`, child)
        const tutor = yield* Effect.provide(connected(cast.tutor.token), a.context)
        yield* request(tutor, { t: "sub", channel })
        const doomed = yield* Effect.provide(connected(cast.student.token, `ws://127.0.0.1:${port}/ws`), a.context)
        const doomedAck = yield* request(doomed, { t: "sub", channel })
        expect(presenceOf(doomedAck)).toContain(cast.tutor.user.id)
        yield* tutor.waitFor((f) => f.type === "presence.join" && (f.data as { userId: string }).userId === cast.student.user.id)
        const first = yield* a.run(appendEvent(cast.lesson.id, "chat.created", { n: 1 }))
        yield* doomed.waitFor((f) => f.seq === 1)

        child.process.kill("SIGKILL")
        const killedAt = Date.now()
        yield* Effect.promise(() => child.exit)
        for (let n = 2; n <= 6; n++) yield* a.run(appendEvent(cast.lesson.id, "chat.created", { n }))
        const leave = yield* tutor.waitFor(
          (f) => f.type === "presence.leave" && (f.data as { userId: string }).userId === cast.student.user.id,
          "30 seconds"
        )
        expect(leave.data).toMatchObject({ reason: "timeout" })
        expect(Date.now() - killedAt).toBeLessThan(30_000)

        expect((yield* doomed.closed).code).toBe(1006)
        const back = yield* Effect.provide(connected(cast.student.token), a.context)
        const ack = yield* request(back, { t: "sub", channel, recover: { epoch: first.epoch, seq: 1 } })
        expect(ack).toMatchObject({ data: { recovered: 5, reset: false } })
        yield* back.waitFor((f) => f.seq === 6)
        expect(eventSeqs(back)).toEqual(range(2, 6))
      }), 90_000)
  }))
