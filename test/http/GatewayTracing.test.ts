import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import * as Telemetry from "../../src/layers/Telemetry.ts"
import { Collector } from "../support/Collector.ts"
import { eventually } from "../support/Jobs.ts"
import { lessonCast } from "../support/Seed.ts"
import { backendLabel, liveStack, serverStack } from "../support/TestStack.ts"
import { connected, request } from "../support/Ws.ts"

const traced = Layer.unwrapScoped(Effect.map(Collector, (c) =>
  serverStack().pipe(
    Layer.provide(Telemetry.layer({ otlpEndpoint: Option.some(c.url), serviceName: "lectern-test", serviceVersion: "0" }))
  ))).pipe(Layer.provideMerge(Collector.layer))

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
  })
})
