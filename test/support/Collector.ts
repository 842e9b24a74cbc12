/**
 * A stand-in OTLP/HTTP trace collector for tests: keeps every span it receives
 * (name, ids, string/int attributes) so a test can check a trace's shape.
 */
import { Context, Effect, Layer, Option, Schema } from "effect"
import { createServer } from "node:http"

const AttributeValue = Schema.Struct({
  stringValue: Schema.optional(Schema.String),
  intValue: Schema.optional(Schema.Union(Schema.String, Schema.Number))
})

const OtlpExport = Schema.Struct({
  resourceSpans: Schema.Array(Schema.Struct({
    scopeSpans: Schema.Array(Schema.Struct({
      spans: Schema.Array(Schema.Struct({
        name: Schema.String,
        traceId: Schema.String,
        spanId: Schema.String,
        parentSpanId: Schema.optional(Schema.String),
        attributes: Schema.optionalWith(Schema.Array(Schema.Struct({ key: Schema.String, value: AttributeValue })), {
          default: () => []
        })
      }))
    }))
  }))
})

/** One received span, attributes flattened to strings. */
export interface CollectedSpan {
  readonly name: string
  readonly traceId: string
  readonly spanId: string
  readonly parentSpanId?: string | undefined
  readonly attributes: Readonly<Record<string, string>>
}

/** The collector of a test. */
export class Collector extends Context.Tag("test/Collector")<Collector, {
  readonly url: string
  readonly spans: Array<CollectedSpan>
}>() {
  /** A collector on a random loopback port, for the lifetime of the layer. */
  static readonly layer = Layer.scoped(
    Collector,
    Effect.acquireRelease(
      Effect.async<Collector["Type"] & { readonly close: () => void }>((resume) => {
        const spans: Array<CollectedSpan> = []
        const server = createServer((req, res) => {
          let body = ""
          req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
          req.on("end", () => {
            const decoded = Schema.decodeUnknownOption(Schema.parseJson(OtlpExport))(body)
            Option.map(decoded, (e) =>
              e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).forEach((s) =>
                spans.push({
                  name: s.name,
                  traceId: s.traceId,
                  spanId: s.spanId,
                  parentSpanId: s.parentSpanId,
                  attributes: Object.fromEntries(
                    s.attributes.map((a) => [a.key, String(a.value.stringValue ?? a.value.intValue ?? "")])
                  )
                })
              ))
            res.writeHead(200, { "content-type": "application/json" }).end("{}")
          })
        })
        server.listen(0, "127.0.0.1", () => {
          const address = server.address()
          const port = typeof address === "object" && address !== null ? address.port : 0
          resume(Effect.succeed({ url: `http://127.0.0.1:${port}`, spans, close: () => server.close() }))
        })
      }),
      (c) => Effect.sync(c.close)
    )
  )
}
