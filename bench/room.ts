/**
 * Lesson-room writes: (1) chat sends into one room, sequential and concurrent
 * (every write takes the room's head lock, so one room is serial by design),
 * against a baseline that inserts the same chat row without seq or event;
 * (2) many rooms in parallel; (3) commit-to-delivery latency from a write on
 * one server stack to a `RoomLog.follow` on another. Runs on the embedded
 * defaults, or on real Postgres/Redis when DATABASE_URL/REDIS_URL are set.
 *
 *   npm run bench -- room [writes=400]
 */
import { SqlClient } from "@effect/sql"
import { Clock, Effect, Fiber, Stream } from "effect"
import type { LessonId } from "../src/schemas/Ids.ts"
import { Chat } from "../src/services/Chat.ts"
import { RoomLog } from "../src/services/RoomLog.ts"
import { peerServers } from "../test/support/PeerStacks.ts"
import { createUser, link, scheduleLesson } from "../test/support/Seed.ts"
import { backendLabel } from "../test/support/TestStack.ts"

const percentile = (sorted: ReadonlyArray<number>, p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN
const nowMs = Effect.map(Clock.currentTimeNanos, (ns) => Number(ns) / 1e6)
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

const timed = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.gen(function*() {
    const start = yield* nowMs
    yield* effect
    return (yield* nowMs) - start
  })

const bench = (writes: number) =>
  Effect.scoped(Effect.gen(function*() {
    const [a, b] = yield* peerServers()
    const setup = a.run(Effect.gen(function*() {
      const tutor = yield* createUser("tutor")
      const student = yield* createUser("student")
      yield* link(tutor.id, student.id)
      const lessons: Array<LessonId> = []
      for (const _ of range(9)) lessons.push((yield* scheduleLesson(tutor.id, [student.id])).id)
      return { student, lessons }
    }))
    const { student, lessons } = yield* setup
    const [one, ...many] = lessons
    if (one === undefined) return

    // (1) one room: sequential latency, concurrent throughput, and the no-seq baseline.
    const latencies: Array<number> = []
    yield* a.run(Effect.flatMap(Chat, (chat) =>
      Effect.forEach(range(writes), (i) =>
        Effect.map(timed(chat.send(student, one, { body: `m${i}` })), (ms) => latencies.push(ms)))))
    latencies.sort((x, y) => x - y)
    const concurrentMs = yield* a.run(Effect.flatMap(Chat, (chat) =>
      timed(Effect.forEach(range(writes), (i) => chat.send(student, one, { body: `c${i}` }), { concurrency: 8 }))))
    const baselineMs = yield* a.run(Effect.flatMap(SqlClient.SqlClient, (sql) =>
      timed(Effect.forEach(range(writes), (i) =>
        sql`INSERT INTO chat_messages (lesson_id, author_id, body, seq) VALUES (${one}, ${student.id}, ${`b${i}`}, ${-1 - i})`, {
        concurrency: 8
      }))))

    // (2) eight rooms at once, each written serially.
    const perRoom = Math.max(1, Math.floor(writes / many.length))
    const manyMs = yield* a.run(Effect.flatMap(Chat, (chat) =>
      timed(Effect.forEach(many, (lesson) =>
        Effect.forEach(range(perRoom), (i) => chat.send(student, lesson, { body: `r${i}` })), { concurrency: "unbounded" }))))

    // (3) write on A, delivered to a follower on B.
    const log = yield* b.run(RoomLog)
    const from = yield* log.head(one)
    const stream = yield* log.follow(one, from)
    const sentAt = new Map<number, number>()
    const delivery: Array<number> = []
    const receiver = yield* Stream.runForEach(Stream.take(stream, writes), (event) =>
      Effect.map(nowMs, (now) => delivery.push(now - (sentAt.get(event.seq) ?? now)))).pipe(Effect.fork)
    yield* a.run(Effect.flatMap(Chat, (chat) =>
      Effect.forEach(range(writes), (i) =>
        Effect.gen(function*() {
          // Nobody else writes this room now, so the i-th send gets seq from + i + 1.
          sentAt.set(from.seq + i + 1, yield* nowMs)
          yield* chat.send(student, one, { body: `d${i}` })
        }))))
    yield* Fiber.join(receiver)
    delivery.sort((x, y) => x - y)

    const rate = (n: number, ms: number) => `${Math.round((n / ms) * 1000)}/s`
    console.log(`lesson-room writes (${backendLabel}), ${writes} per run`)
    console.log(
      `  chat send, one room, sequential: p50 ${percentile(latencies, 50).toFixed(2)} ms, ` +
        `p99 ${percentile(latencies, 99).toFixed(2)} ms (${rate(writes, latencies.reduce((s, x) => s + x, 0))})`
    )
    console.log(
      `  one room, 8 concurrent senders: ${rate(writes, concurrentMs)}; baseline insert without seq/event: ` +
        `${rate(writes, baselineMs)} (×${(concurrentMs / baselineMs).toFixed(1)} the cost)`
    )
    console.log(`  ${many.length} rooms in parallel: ${rate(perRoom * many.length, manyMs)}`)
    console.log(
      `  send on A → follower on B: p50 ${percentile(delivery, 50).toFixed(2)} ms, p99 ${
        percentile(delivery, 99).toFixed(2)
      } ms (from the start of the send)`
    )
  }))

export default async (args: ReadonlyArray<string>) => {
  const writes = Number(args[0] ?? 400)
  await Effect.runPromise(bench(writes).pipe(Effect.orDie))
}
