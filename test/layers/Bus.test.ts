import { describe, expect, it } from "@effect/vitest"
import { Chunk, Context, Effect, Exit, Layer, Option, Queue, Redacted, Scope } from "effect"
import { randomBytes } from "node:crypto"
import * as Bus from "../../src/layers/Bus.ts"
import { Redis } from "../../src/layers/Redis.ts"
import { realRedisUrl } from "../support/TestStack.ts"

const bytes = (text: string) => new TextEncoder().encode(text)
const text = (payload: Uint8Array) => new TextDecoder().decode(payload)

/** Builds one Bus instance ("a process") in the current scope. */
type MakeBus = Effect.Effect<Bus.Bus["Type"], unknown, Scope.Scope>

const memoryBus: MakeBus = Effect.map(Layer.build(Bus.layerMemory), Context.get(Bus.Bus))

const redisBus = (url: string, prefix: string): MakeBus =>
  Effect.map(
    Layer.build(Bus.layerRedis.pipe(Layer.provide(Redis.layer({ url: Redacted.make(url), keyPrefix: prefix })))),
    Context.get(Bus.Bus)
  )

const takeText = (queue: Queue.Dequeue<Uint8Array>) =>
  Queue.take(queue).pipe(Effect.map(text), Effect.timeout("2 seconds"))

const behaviour = (name: string, makeBus: MakeBus) =>
  describe(name, () => {
    it.scopedLive("delivers the published bytes to every subscriber of the channel, in order", () =>
      Effect.gen(function*() {
        const bus = yield* makeBus
        const a = yield* bus.subscribe("lesson:1")
        const b = yield* bus.subscribe("lesson:1")
        const other = yield* bus.subscribe("lesson:2")
        for (const n of [1, 2, 3]) yield* bus.publish("lesson:1", bytes(`m${n}`))
        for (const queue of [a, b]) {
          expect([yield* takeText(queue), yield* takeText(queue), yield* takeText(queue)]).toEqual(["m1", "m2", "m3"])
        }
        yield* Effect.sleep("50 millis")
        expect(yield* Queue.size(other)).toBe(0)
      }))

    it.scopedLive("binary payloads arrive unchanged", () =>
      Effect.gen(function*() {
        const bus = yield* makeBus
        const queue = yield* bus.subscribe("bin")
        const payload = new Uint8Array(randomBytes(1024))
        yield* bus.publish("bin", payload)
        const received = yield* Queue.take(queue).pipe(Effect.timeout("2 seconds"))
        expect(Buffer.from(received).equals(Buffer.from(payload))).toBe(true)
      }))

    it.scopedLive("a closed subscription receives nothing more; others keep receiving", () =>
      Effect.gen(function*() {
        const bus = yield* makeBus
        const keep = yield* bus.subscribe("c")
        const scope = yield* Scope.make()
        const gone = yield* Scope.extend(bus.subscribe("c"), scope)
        yield* Scope.close(scope, Exit.void)
        yield* bus.publish("c", bytes("after"))
        expect(yield* takeText(keep)).toBe("after")
        expect(yield* Queue.isShutdown(gone)).toBe(true)
      }))
  })

behaviour("Bus (memory)", memoryBus)

// The Redis suites exist when REDIS_URL is set (CI runs the suite both ways).
Option.map(realRedisUrl, (url) => {
  const prefix = `lectern_t_${randomBytes(4).toString("hex")}:`
  behaviour("Bus (redis)", redisBus(url, prefix))

  describe("Bus (redis) across processes", () => {
    it.scopedLive("a message published by one process reaches subscribers in another", () =>
      Effect.gen(function*() {
        const one = yield* redisBus(url, prefix)
        const two = yield* redisBus(url, prefix)
        const onTwo = yield* two.subscribe("room")
        const onOne = yield* one.subscribe("room")
        yield* one.publish("room", bytes("hello"))
        expect(yield* takeText(onTwo)).toBe("hello")
        expect(yield* takeText(onOne)).toBe("hello")
      }))

    it.scopedLive("deployments with different key prefixes do not see each other", () =>
      Effect.gen(function*() {
        const mine = yield* redisBus(url, prefix)
        const theirs = yield* redisBus(url, `${prefix}other:`)
        const queue = yield* theirs.subscribe("room")
        yield* mine.publish("room", bytes("private"))
        yield* Effect.sleep("100 millis")
        expect(Chunk.size(yield* Queue.takeAll(queue))).toBe(0)
      }))
  })
})
