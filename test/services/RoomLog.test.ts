/**
 * The room event log: seqs without gaps under concurrent writers (and rollbacks),
 * recovery from a position (events, or Reset), and followers that merge the Bus
 * with the database — within one process, across two processes sharing the
 * database and bus, from an old position, and across a lost Bus message.
 */
import { SqlClient } from "@effect/sql"
import { describe, expect, it } from "@effect/vitest"
import { Chunk, Data, Duration, Effect, Either, Exit, Stream } from "effect"
import type { LessonId } from "../../src/schemas/Ids.ts"
import type { RoomEvent } from "../../src/schemas/Room.ts"
import { RoomEventsPruned, RoomLog } from "../../src/services/RoomLog.ts"
import { RoomRetention } from "../../src/services/RoomRetention.ts"
import { peerServers } from "../support/PeerStacks.ts"
import { withRoomLogOptions } from "../support/Room.ts"
import { createUser, link, scheduleLesson } from "../support/Seed.ts"
import { backendLabel, coreStack, liveStack } from "../support/TestStack.ts"

/** A lesson with a tutor and one student. */
const newLesson = Effect.gen(function*() {
  const tutor = yield* createUser("tutor")
  const student = yield* createUser("student")
  yield* link(tutor.id, student.id)
  return (yield* scheduleLesson(tutor.id, [student.id])).id
})

/** Appends in its own transaction, then publishes: what Chat and Board do. */
const write = (lessonId: LessonId, type: string, data: unknown) =>
  Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const log = yield* RoomLog
    const event = yield* sql.withTransaction(log.append(lessonId, type, data))
    yield* log.publish(event)
    return event
  }).pipe(Effect.orDie)

const collect = <E>(stream: Stream.Stream<RoomEvent, E>, n: number) =>
  Stream.runCollect(Stream.take(stream, n)).pipe(
    Effect.map(Chunk.toArray),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => `fewer than ${n} events arrived` }),
    Effect.orDie
  )

const seqs = (events: ReadonlyArray<RoomEvent>) => events.map((e) => e.seq)
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i)

/** Everything a follower yields up to and including its failure, as Eithers (a failure ends the list). */
const untilFailure = <E>(stream: Stream.Stream<RoomEvent, E>) =>
  stream.pipe(
    Stream.either,
    Stream.takeUntil(Either.isLeft),
    Stream.runCollect,
    Effect.map(Chunk.toArray),
    Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => "the follower never failed" }),
    Effect.orDie
  )

/** Runs `effect` with the retention job keeping only the newest 3 events per lesson. */
const retain3 = withRoomLogOptions({ retainEvents: 3 })

class Abort extends Data.TaggedError("Abort") {}

describe(`RoomLog (${backendLabel})`, () => {
  it.layer(coreStack(), liveStack)((it) => {
    it.effect("numbers events 1, 2, 3 … per lesson; a rolled-back append gives its number back", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const log = yield* RoomLog
        const [a, b] = [yield* newLesson, yield* newLesson]
        const start = yield* log.head(a)
        expect(start.seq).toBe(0)
        expect(start.epoch).toMatch(/^[0-9a-f]{32}$/)
        expect((yield* log.head(b)).epoch).not.toBe(start.epoch)

        const first = yield* write(a, "chat.created", { body: "hi", nested: { snake_key: 1 } })
        expect(first).toMatchObject({ lessonId: a, epoch: start.epoch, seq: 1, type: "chat.created" })
        const failed = yield* sql.withTransaction(
          Effect.zipRight(log.append(a, "chat.created", { body: "lost" }), Effect.fail(new Abort()))
        ).pipe(Effect.exit)
        expect(Exit.isFailure(failed)).toBe(true)
        yield* write(b, "board.op", {})
        expect((yield* write(a, "chat.edited", { body: "hi!" })).seq).toBe(2)
        expect(yield* log.head(a)).toEqual({ epoch: start.epoch, seq: 2 })

        const recovered = yield* log.since(a, start)
        expect(recovered._tag).toBe("Events")
        if (recovered._tag !== "Events") return
        expect(recovered.events.map((e) => [e.seq, e.type, e.data])).toEqual([
          [1, "chat.created", { body: "hi", nested: { snake_key: 1 } }],
          [2, "chat.edited", { body: "hi!" }]
        ])
        expect(recovered.events[0]?.at).toBeInstanceOf(Date)
        // What the writer published is exactly what recovery returns.
        expect(recovered.events[0]).toEqual(first)
      }))

    it.effect("concurrent writers get every seq exactly once", () =>
      Effect.gen(function*() {
        const log = yield* RoomLog
        const lesson = yield* newLesson
        const written = yield* Effect.forEach(range(1, 40), (i) => write(lesson, "board.op", { i }), { concurrency: 8 })
        expect(written.map((e) => e.seq).sort((x, y) => x - y)).toEqual(range(1, 40))
        const recovered = yield* log.since(lesson, { epoch: written[0]?.epoch ?? "", seq: 0 })
        expect(recovered._tag === "Events" ? seqs(recovered.events) : recovered).toEqual(range(1, 40))
      }))

    it.effect("since: Reset for another epoch, a position ahead of the log, or a gap beyond the limit", () =>
      Effect.gen(function*() {
        const log = yield* RoomLog
        const lesson = yield* newLesson
        for (const i of range(1, 5)) yield* write(lesson, "chat.created", { i })
        const { epoch } = yield* log.head(lesson)
        const reset = { _tag: "Reset", epoch, seq: 5 }
        expect(yield* log.since(lesson, { epoch: "other", seq: 1 })).toEqual(reset)
        expect(yield* log.since(lesson, { epoch, seq: 6 })).toEqual(reset)
        expect(yield* log.since(lesson, { epoch, seq: 1 }, 3)).toEqual(reset)
        const within = yield* log.since(lesson, { epoch, seq: 2 }, 3)
        expect(within._tag === "Events" ? seqs(within.events) : within).toEqual([3, 4, 5])
        expect(yield* log.since(lesson, { epoch, seq: 5 })).toEqual({ _tag: "Events", events: [] })
      }))

    it.scoped("retention keeps the newest events per lesson; older positions Reset, and a follower from one fails with RoomEventsPruned", () =>
      Effect.gen(function*() {
        const log = yield* RoomLog
        const retention = yield* RoomRetention
        const [a, b] = [yield* newLesson, yield* newLesson]
        for (const i of range(1, 6)) yield* write(a, "chat.created", { i })
        yield* write(b, "chat.created", { i: 1 })
        const { epoch } = yield* log.head(a)
        expect(yield* retain3(retention.prune)).toBeGreaterThanOrEqual(3)
        expect(yield* log.since(a, { epoch, seq: 1 })).toEqual({ _tag: "Reset", epoch, seq: 6 })
        const kept = yield* log.since(a, { epoch, seq: 3 })
        expect(kept._tag === "Events" ? seqs(kept.events) : kept).toEqual([4, 5, 6])
        const other = yield* log.since(b, { epoch: (yield* log.head(b)).epoch, seq: 0 })
        expect(other._tag === "Events" ? seqs(other.events) : other).toEqual([1])

        // Events 2 and 3 are gone: the follower says so instead of jumping to 4.
        const stream = yield* log.follow(a, { epoch, seq: 1 })
        expect(yield* untilFailure(stream)).toEqual([Either.left(new RoomEventsPruned({ lessonId: a, from: 2, to: 3 }))])
        // From the oldest position still covered it follows as before.
        const inside = yield* log.follow(a, { epoch, seq: 3 })
        yield* write(a, "chat.created", { i: 7 })
        expect(seqs(yield* collect(inside, 4))).toEqual([4, 5, 6, 7])
      }))

    it.scoped("a live follower whose next events were pruned before it read them fails with RoomEventsPruned, never skips them", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const log = yield* RoomLog
        const retention = yield* RoomRetention
        const lesson = yield* newLesson
        yield* write(lesson, "chat.created", { n: 1 })
        const stream = yield* log.follow(lesson, yield* log.head(lesson))
        // Six events committed without reaching the Bus (a Redis outage) and pruned to the newest three in the same
        // transaction: the follower can never read 2–4, whenever it looks.
        yield* sql.withTransaction(Effect.gen(function*() {
          for (const n of range(2, 7)) yield* log.append(lesson, "chat.created", { n })
          yield* retain3(retention.prune)
        })).pipe(Effect.orDie)
        // A published event makes the follower look for the missing ones at once.
        yield* write(lesson, "chat.created", { n: 8 })
        expect(yield* untilFailure(stream)).toEqual([Either.left(new RoomEventsPruned({ lessonId: lesson, from: 2, to: 4 }))])
      }))

    it.scoped("a follower gets live events in order, ephemeral ones with seq 0, and fills a lost Bus message from the database", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const log = yield* RoomLog
        const lesson = yield* newLesson
        yield* write(lesson, "chat.created", { n: 1 })
        const stream = yield* log.follow(lesson, yield* log.head(lesson))
        yield* write(lesson, "chat.created", { n: 2 })
        // The follower is live once it has delivered something.
        expect(seqs(yield* collect(stream, 1))).toEqual([2])
        yield* log.publishEphemeral(lesson, "typing", { userId: "u" })
        // Committed but never published: the follower sees seq 4 first and must fetch 3.
        yield* sql.withTransaction(log.append(lesson, "chat.created", { n: 3 })).pipe(Effect.orDie)
        yield* write(lesson, "chat.created", { n: 4 })
        const got = yield* collect(stream, 3)
        expect(got.map((e) => [e.seq, e.type, e.data])).toEqual([
          [0, "typing", { userId: "u" }],
          [3, "chat.created", { n: 3 }],
          [4, "chat.created", { n: 4 }]
        ])
        expect(got[0]?.epoch).toBe("")
      }))

    it.scoped("a follower that hears nothing reads an event whose Bus message was lost within its idle check, and only then", () =>
      Effect.gen(function*() {
        const sql = yield* SqlClient.SqlClient
        const log = yield* RoomLog
        const lesson = yield* newLesson
        // A short idle check, so the test can see both sides of it.
        const stream = yield* withRoomLogOptions({ idleCheck: Duration.millis(1_500) })(log.follow(lesson, yield* log.head(lesson)))
        const started = Date.now()
        // Committed but never published, and nothing follows it on the Bus.
        yield* sql.withTransaction(log.append(lesson, "chat.created", { n: 1 })).pipe(Effect.orDie)
        const [event] = yield* collect(stream, 1)
        expect(event?.data).toEqual({ n: 1 })
        const waited = Date.now() - started
        expect(waited).toBeGreaterThanOrEqual(1_400)
        expect(waited).toBeLessThan(8_000)
      }))
  })

  it.scopedLive("two processes: events appended on both reach a follower in seq order, no gap, no duplicate; an old position catches up, then goes live", () =>
    Effect.gen(function*() {
      const [a, b] = yield* peerServers()
      const lesson = yield* a.run(newLesson)
      const start = yield* b.run(Effect.flatMap(RoomLog, (log) => log.head(lesson)))
      const follower = yield* Effect.flatMap(b.run(RoomLog), (log) => log.follow(lesson, start))
      const both = Effect.all([
        a.run(Effect.forEach(range(1, 30), (i) => write(lesson, "board.op", { from: "a", i }), { concurrency: 4 })),
        b.run(Effect.forEach(range(1, 30), (i) => write(lesson, "board.op", { from: "b", i }), { concurrency: 4 }))
      ], { concurrency: 2 })
      const [got] = yield* Effect.all([collect(follower, 60), both], { concurrency: 2 })
      expect(seqs(got)).toEqual(range(1, 60))
      expect(got.filter((e) => (e.data as { from: string }).from === "a")).toHaveLength(30)

      // A follower on A starting from seq 10: 50 from the database, then live writes from B.
      const late = yield* Effect.flatMap(a.run(RoomLog), (log) => log.follow(lesson, { epoch: start.epoch, seq: 10 }))
      const [caughtUp] = yield* Effect.all([
        collect(late, 60),
        b.run(Effect.forEach(range(1, 10), (i) => write(lesson, "chat.created", { i })))
      ], { concurrency: 2 })
      expect(seqs(caughtUp)).toEqual(range(11, 70))
      expect(caughtUp.slice(-10).map((e) => e.data)).toEqual(range(1, 10).map((i) => ({ i })))
    }), 60_000)
})
