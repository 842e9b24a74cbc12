import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as Telemetry from "../../src/layers/Telemetry.ts"
import { type CollectedSpan, Collector } from "../support/Collector.ts"
import { eventually } from "../support/Jobs.ts"
import { lessonCast } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"
import { connected, request } from "../support/Ws.ts"

const traced = Layer.unwrapScoped(Effect.map(Collector, (c) =>
  serverStack().pipe(
    Layer.provide(Telemetry.layer({ otlpEndpoint: Option.some(c.url), serviceName: "lectern-test", serviceVersion: "0" }))
  ))).pipe(Layer.provideMerge(Collector.layer))

/** Whether `ancestor` is on `span`'s parent chain (spans of one trace, by id). */
const descendsFrom = (spans: ReadonlyArray<CollectedSpan>, span: CollectedSpan | undefined, ancestor: CollectedSpan | undefined) => {
  let current = span
  for (let hops = 0; current !== undefined && hops < 32; hops++) {
    if (current.parentSpanId === ancestor?.spanId) return current.traceId === ancestor?.traceId
    const parentId = current.parentSpanId
    current = spans.find((s) => s.spanId === parentId)
  }
  return false
}

describe(`WebSocket tracing (${backendLabel})`, () => {
  it.layer(traced, liveStack)((it) => {
    it.effect("each WS command is a span with channel, type, user and lesson; the service work is its child", () =>
      Effect.scoped(Effect.gen(function*() {
        const c = yield* Collector
        const cast = yield* lessonCast()
        const channel = `lesson:${cast.lesson.id}`
        const socket = yield* connected(cast.student.token)
        yield* request(socket, { t: "sub", channel })
        expect(yield* request(socket, { t: "cmd", channel, type: "chat.send", data: { body: "traced" } })).toMatchObject({ t: "ack" })
        const spans = yield* eventually(
          Effect.sync(() => c.spans),
          (all) => all.some((s) => s.name === "ws.command") && all.some((s) => s.name === "Chat.send"),
          "15 seconds"
        )
        const command = spans.find((s) => s.name === "ws.command")
        expect(command?.attributes).toMatchObject({
          "ws.channel": channel,
          "ws.command.type": "chat.send",
          "user.id": cast.student.user.id,
          "lesson.id": cast.lesson.id
        })
        const send = spans.find((s) => s.name === "Chat.send")
        expect(send?.traceId).toBe(command?.traceId)
        expect(send?.parentSpanId).toBe(command?.spanId)
        expect(spans.some((s) => s.name === "ws.subscribe" && s.attributes["lesson.id"] === cast.lesson.id)).toBe(true)
      })))

    it.effect("the room actor's fan-out of a command's event and its join of a subscriber continue the WS spans' traces", () =>
      Effect.scoped(Effect.gen(function*() {
        const c = yield* Collector
        const cast = yield* lessonCast()
        const channel = `lesson:${cast.lesson.id}`
        const tutor = yield* connected(cast.tutor.token)
        const student = yield* connected(cast.student.token)
        yield* request(tutor, { t: "sub", channel })
        yield* request(student, { t: "sub", channel })
        expect(yield* request(student, { t: "cmd", channel, type: "chat.send", data: { body: "linked" } })).toMatchObject({
          t: "ack"
        })
        yield* tutor.waitFor((f) => f.type === "chat.created")
        const isDeliver = (s: CollectedSpan) =>
          s.name === "LessonRoom.deliver" && s.attributes["event.type"] === "chat.created" &&
          s.attributes.lessonId === cast.lesson.id
        const spans = yield* eventually(
          Effect.sync(() => c.spans),
          (all) => all.some(isDeliver) && all.filter((s) => s.name === "LessonRoom.join").length >= 2,
          "15 seconds"
        )
        const command = spans.find((s) =>
          s.name === "ws.command" && s.attributes["ws.command.type"] === "chat.send" && s.attributes["lesson.id"] === cast.lesson.id
        )
        const deliver = spans.find(isDeliver)
        expect(deliver?.traceId).toBe(command?.traceId)
        expect(descendsFrom(spans, deliver, command)).toBe(true)
        // The publish crossed the Bus: the fan-out's parent is the publish span, not the actor's own.
        expect(spans.find((s) => s.spanId === deliver?.parentSpanId)?.name).toBe("RoomLog.publish")

        const subscribes = spans.filter((s) => s.name === "ws.subscribe" && s.attributes["lesson.id"] === cast.lesson.id)
        const joins = spans.filter((s) => s.name === "LessonRoom.join" && s.attributes.lessonId === cast.lesson.id)
        expect(subscribes).toHaveLength(2)
        for (const sub of subscribes) {
          expect(joins.some((join) => join.traceId === sub.traceId && descendsFrom(spans, join, sub))).toBe(true)
        }
      })))
  })
})
