/**
 * The server-side cost of one ephemeral room event without sockets: a `typing`
 * command through the lesson channel (decode, RoomLog.publishEphemeral, Bus,
 * follower, room actor, one encoding) to `subs` in-process subscribers, against
 * the fan-out loop alone (the same frame handed to the same subscribers). What
 * `bench:fanout`'s p99 is made of, minus the system calls; for finding where the
 * pipeline spends its time. Runs on the embedded defaults (or DATABASE_URL/REDIS_URL).
 *
 *   npm run bench -- pipeline [events=4000] [subs=100]
 */
import { Deferred, Effect, Exit, Layer, Logger, LogLevel, ManagedRuntime, Scope } from "effect"
import { type ChannelKind, ChannelKinds, type Connection } from "../src/actors/ChannelKind.ts"
import { encodeFrame } from "../src/schemas/FrameCodec.ts"
import { backendLabel, coreStack } from "../test/support/TestStack.ts"
import { CurrentUserInfo } from "../src/schemas/Auth.ts"
import { createUser, link, scheduleLesson } from "../test/support/Seed.ts"

const nowUs = () => performance.now() * 1000

/** A subscriber that only counts what it is handed (no socket). */
const fakeConnection = (id: string, user: Connection["user"], onFrame: () => void): Connection => ({
  connectionId: id,
  user,
  send: () => Effect.sync(onFrame),
  deliver: () => Effect.sync(onFrame),
  unsafeDeliver: onFrame,
  revoke: () => Effect.void,
  close: () => Effect.void
})

export default async function bench(args: ReadonlyArray<string>) {
  const events = Number(args[0] ?? 4000)
  const subs = Number(args[1] ?? 100)
  const runtime = ManagedRuntime.make(coreStack().pipe(Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))))
  const result = await runtime.runPromise(Effect.gen(function*() {
    const tutor = yield* createUser("tutor")
    const student = yield* createUser("student")
    yield* link(tutor.id, student.id)
    const lesson = yield* scheduleLesson(tutor.id, [student.id])
    const as = (user: typeof tutor) => new CurrentUserInfo({ id: user.id, role: user.role, sessionId: "bench" })
    const kind: ChannelKind | undefined = (yield* ChannelKinds).get("lesson")
    if (kind === undefined) return yield* Effect.dieMessage("no lesson channel kind")
    const scope = yield* Scope.make()
    let delivered = 0
    let target = Number.POSITIVE_INFINITY
    let reached: Deferred.Deferred<void> | undefined
    const onFrame = () => {
      if (++delivered >= target && reached !== undefined) Deferred.unsafeDone(reached, Exit.void)
    }
    const channelId = lesson.id
    for (let i = 0; i < subs; i++) {
      yield* kind.subscribe(fakeConnection(`bench:${i}`, as(student), onFrame), channelId, {}).pipe(Scope.extend(scope))
    }
    const publisher = yield* kind.subscribe(fakeConnection("bench:publisher", as(tutor), () => {}), channelId, {})
      .pipe(Scope.extend(scope))
    // Presence joins were fanned out too: start counting from here.
    yield* Effect.sleep("200 millis")

    /** Sends `burst` typing commands at once and waits until every subscriber has all of them. */
    const round = (burst: number) =>
      Effect.gen(function*() {
        reached = yield* Deferred.make<void>()
        target = delivered + burst * subs
        // As the gateway runs it: in a command span, without capturing a stack.
        const command = publisher.command("typing", { typing: true }).pipe(Effect.withSpan("ws.command", { captureStackTrace: false }))
        if (burst === 1) yield* command
        else yield* Effect.forEach(Array.from({ length: burst }), () => command, { concurrency: "unbounded", discard: true })
        yield* Deferred.await(reached)
      })

    const measure = (burst: number) =>
      Effect.gen(function*() {
        for (let i = 0; i < 200; i++) yield* round(burst) // warm-up
        const started = nowUs()
        for (let i = 0; i < events / burst; i++) yield* round(burst)
        return (nowUs() - started) / events
      })

    // Baseline: the fan-out loop alone, one encoding handed to every subscriber.
    const fanOutOnly = () => {
      const connections = Array.from({ length: subs }, (_, i) => fakeConnection(`base:${i}`, as(student), onFrame))
      const started = nowUs()
      for (let i = 0; i < events; i++) {
        const frame = encodeFrame({ t: "event", channel: `lesson:${channelId}`, type: "typing", data: { userId: tutor.id, typing: true } })
        for (const c of connections) c.unsafeDeliver?.(`lesson:${channelId}`, frame)
      }
      return (nowUs() - started) / events
    }

    const one = yield* measure(1)
    const ten = yield* measure(10)
    const base = fanOutOnly()
    yield* Scope.close(scope, Exit.void)
    return { one, ten, base }
  }).pipe(Effect.scoped))
  await runtime.dispose()
  console.log(`room pipeline (${backendLabel}), ${subs} subscribers, ${events} typing events, µs per event:`)
  console.log(`| path | µs/event | vs fan-out loop |`)
  console.log(`|---|---|---|`)
  console.log(`| fan-out loop alone (encode once, hand to each) | ${result.base.toFixed(1)} | 1.00× |`)
  console.log(`| typing command → room → subscribers, one at a time | ${result.one.toFixed(1)} | ${(result.one / result.base).toFixed(2)}× |`)
  console.log(`| same, bursts of 10 commands | ${result.ten.toFixed(1)} | ${(result.ten / result.base).toFixed(2)}× |`)
}
