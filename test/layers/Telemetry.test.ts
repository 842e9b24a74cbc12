import { describe, expect, it } from "@effect/vitest"
import { Effect, Layer, Option } from "effect"
import { createServer } from "node:http"
import * as Telemetry from "../../src/layers/Telemetry.ts"
import { call } from "../support/Http.ts"
import { liveStack, serverStack } from "../support/TestStack.ts"

/** The collector of the current test. */
class Collector extends Effect.Tag("test/Collector")<Collector, { readonly bodies: Array<string> }>() {}

/** A stand-in OTLP/HTTP collector on loopback that keeps every trace export it receives. */
const collector = Effect.acquireRelease(
  Effect.async<{ readonly url: string; readonly bodies: Array<string>; readonly close: () => void }>((resume) => {
    const bodies: Array<string> = []
    const server = createServer((req, res) => {
      let body = ""
      req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
      req.on("end", () => {
        if (req.url === "/v1/traces") bodies.push(body)
        res.writeHead(200, { "content-type": "application/json" }).end("{}")
      })
    })
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, bodies, close: () => server.close() }))
    })
  }),
  (c) => Effect.sync(c.close)
)

describe("telemetry", () => {
  it.layer(
    Layer.unwrapScoped(Effect.map(collector, (c) =>
      serverStack().pipe(
        Layer.provide(Telemetry.layer({ otlpEndpoint: Option.some(c.url), serviceName: "lectern-test", serviceVersion: "0" })),
        Layer.merge(Layer.succeed(Collector, c))
      ))),
    liveStack
  )((it) => {
    it.effect("with an OTLP endpoint, HTTP server spans are exported with route, status and request id", () =>
      Effect.gen(function*() {
        const c = yield* Collector
        const response = yield* call("GET", "/api/v1/nope", { headers: { "x-request-id": "trace-me-123" } })
        expect(response.status).toBe(404)
        let exported = ""
        for (let i = 0; i < 50 && !exported.includes("trace-me-123"); i++) {
          yield* Effect.sleep("200 millis")
          exported = c.bodies.join("\n")
        }
        expect(exported).toContain("lectern-test")
        expect(exported).toContain("trace-me-123")
        expect(exported).toContain("http.response.status_code")
      }))
  })
})
