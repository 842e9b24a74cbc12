/**
 * Web push end to end against `web-push-testing` (a local push service that
 * decrypts what it receives), through the REST API, the job queue and the real
 * sender; and the trace of it: REST call → job → push in one trace.
 */
import { describe, expect, it } from "@effect/vitest"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { spawn } from "node:child_process"
import { createServer } from "node:http"
import { fileURLToPath } from "node:url"
import * as Telemetry from "../../src/layers/Telemetry.ts"
import { Notifications } from "../../src/services/Notifications.ts"
import { Users } from "../../src/services/Users.ts"
import { call } from "../support/Http.ts"
import { eventually } from "../support/Jobs.ts"
import { webPushServerStack } from "../support/JobsStack.ts"
import { freePort } from "../support/Process.ts"
import { backendLabel, liveStack } from "../support/TestStack.ts"

const password = "correct horse battery"
const emulatorScript = fileURLToPath(new URL("../../node_modules/web-push-testing/src/bin/server.js", import.meta.url))

/** The push service emulator (what `web-push-testing start` runs), on a free port, killed with the scope. */
class PushService extends Context.Tag("test/PushService")<PushService, { readonly url: string }>() {}

const pushService = Layer.scoped(
  PushService,
  Effect.gen(function*() {
    const port = yield* freePort
    const child = yield* Effect.acquireRelease(
      Effect.sync(() => spawn(process.execPath, [emulatorScript, String(port)], { stdio: "pipe" })),
      (c) => Effect.sync(() => c.kill("SIGKILL"))
    )
    yield* Effect.async<void>((resume) => {
      child.stdout.on("data", (chunk: Buffer) => {
        if (chunk.toString("utf8").includes("Server running")) resume(Effect.void)
      })
    }).pipe(Effect.timeoutFail({ duration: "10 seconds", onTimeout: () => new Error("push emulator did not start") }), Effect.orDie)
    return { url: `http://localhost:${port}` }
  })
)

const emulator = (path: string, body: unknown = {}) =>
  Effect.flatMap(PushService, ({ url }) =>
    Effect.promise(() =>
      fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) })
        .then(async (r) => ({ status: r.status, json: (await r.json().catch(() => null)) as unknown }))
    ))

const Subscribed = Schema.Struct({
  data: Schema.Struct({
    endpoint: Schema.String,
    keys: Schema.Struct({ p256dh: Schema.String, auth: Schema.String }),
    clientHash: Schema.String
  })
})
const Received = Schema.Struct({ data: Schema.Struct({ messages: Schema.Array(Schema.String) }) })

/** A logged-in user whose "browser" subscribed at the emulator and registered with Lectern. */
const subscribedUser = Effect.gen(function*() {
  const users = yield* Users
  const user = yield* users.create({ email: `wp-${Math.random().toString(36).slice(2, 10)}@example.com`, password, role: "tutor" })
  const token = ((yield* call("POST", "/api/v1/auth/login", { body: { email: user.email, password } })).json as { accessToken: string })
    .accessToken
  const { publicKey } = (yield* call("GET", "/api/v1/push/vapid-public-key", { token })).json as { publicKey: string }
  const subscribed = yield* emulator("/subscribe", { userVisibleOnly: "true", applicationServerKey: publicKey })
  const { data } = yield* Schema.decodeUnknown(Subscribed)(subscribed.json)
  const registered = yield* call("POST", "/api/v1/push/subscriptions", {
    token,
    body: { endpoint: data.endpoint, keys: data.keys, device: "emulated browser" }
  })
  expect(registered.status).toBe(201)
  return { user, token, clientHash: data.clientHash }
})

const messagesOf = (clientHash: string) =>
  Effect.flatMap(emulator("/get-notifications", { clientHash }), (r) =>
    Effect.map(Schema.decodeUnknown(Received)(r.json), (body) => body.data.messages.map((m) => JSON.parse(m) as unknown)))

const config = {
  push: { vapidKeys: Option.none(), vapidSubject: "mailto:e2e@example.com", maxFailures: 5, allowHttpEndpoints: true }
}

describe(`web push end to end (${backendLabel})`, () => {
  it.layer(Layer.merge(webPushServerStack({ config }), pushService), liveStack)((it) => {
    it.effect("a test push and a notification arrive decryptable; after a 410 the subscription is deleted", () =>
      Effect.gen(function*() {
        const { user, token, clientHash } = yield* subscribedUser
        const test = yield* call("POST", "/api/v1/push/test", { token })
        expect(test.json).toEqual({ queued: 1 })
        const [first] = yield* eventually(messagesOf(clientHash), (m) => m.length === 1)
        expect(first).toMatchObject({ type: "push.test", title: "Lectern test notification" })

        const notifications = yield* Notifications
        const created = yield* notifications.notify(user.id, {
          type: "homework.assigned",
          title: "Homework: chapter 4",
          body: "Exercises 1–10",
          data: { lessonId: "l-42" }
        })
        const messages = yield* eventually(messagesOf(clientHash), (m) => m.length === 2)
        expect(messages[1]).toEqual({
          type: "homework.assigned",
          title: "Homework: chapter 4",
          body: "Exercises 1–10",
          data: { lessonId: "l-42" },
          notificationId: Option.getOrThrow(created).id
        })

        const expired = yield* emulator(`/expire-subscription/${clientHash}`)
        expect(expired.status).toBe(200)
        yield* call("POST", "/api/v1/push/test", { token })
        yield* eventually(
          call("GET", "/api/v1/push/subscriptions", { token }),
          (r) => (r.json as { items: Array<unknown> }).items.length === 0
        )
      }))
  })
})

/** A stand-in OTLP/HTTP collector that keeps every span it receives. */
class Collector extends Context.Tag("test/Collector")<Collector, {
  readonly url: string
  readonly spans: Array<{ readonly name: string; readonly traceId: string; readonly spanId: string; readonly parentSpanId?: string | undefined }>
}>() {}

const OtlpExport = Schema.Struct({
  resourceSpans: Schema.Array(Schema.Struct({
    scopeSpans: Schema.Array(Schema.Struct({
      spans: Schema.Array(Schema.Struct({
        name: Schema.String,
        traceId: Schema.String,
        spanId: Schema.String,
        parentSpanId: Schema.optional(Schema.String)
      }))
    }))
  }))
})

const collector = Layer.scoped(
  Collector,
  Effect.acquireRelease(
    Effect.async<Collector["Type"] & { readonly close: () => void }>((resume) => {
      const spans: Array<Collector["Type"]["spans"][number]> = []
      const server = createServer((req, res) => {
        let body = ""
        req.on("data", (chunk: Buffer) => (body += chunk.toString("utf8")))
        req.on("end", () => {
          const decoded = Schema.decodeUnknownOption(Schema.parseJson(OtlpExport))(body)
          Option.map(decoded, (e) => e.resourceSpans.flatMap((r) => r.scopeSpans.flatMap((s) => s.spans)).forEach((s) => spans.push(s)))
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

const traced = Layer.unwrapScoped(Effect.gen(function*() {
  const c = yield* Collector
  return Layer.merge(webPushServerStack({ config }), pushService).pipe(
    Layer.provide(Telemetry.layer({ otlpEndpoint: Option.some(c.url), serviceName: "lectern-test", serviceVersion: "0" }))
  )
})).pipe(Layer.provideMerge(collector))

describe(`job tracing (${backendLabel})`, () => {
  it.layer(traced, liveStack)((it) => {
    it.effect("one trace shows the REST call, the push job it enqueued, and the push it sent", () =>
      Effect.gen(function*() {
        const c = yield* Collector
        const { token, clientHash } = yield* subscribedUser
        const traceId = "4bf92f3577b34da6a3ce929d0e0e4736"
        yield* call("POST", "/api/v1/push/test", {
          token,
          headers: { traceparent: `00-${traceId}-00f067aa0ba902b7-01` }
        })
        yield* eventually(messagesOf(clientHash), (m) => m.length === 1)
        const inTrace = yield* eventually(
          Effect.sync(() => c.spans.filter((s) => s.traceId === traceId)),
          (spans) => spans.some((s) => s.name === "PushSender.send"),
          "15 seconds"
        )
        const span = (spanId: string | undefined) => inTrace.find((s) => s.spanId === spanId)
        const chain = (spanId: string | undefined): Array<string> => {
          const found = span(spanId)
          return found === undefined ? [] : [found.name, ...chain(found.parentSpanId)]
        }
        const send = inTrace.find((s) => s.name === "PushSender.send")
        expect(chain(send?.spanId)).toEqual([
          "PushSender.send",
          "job push.send",
          "Jobs.enqueue",
          "WebPush.enqueue",
          "http.server POST"
        ])
        // The REST call continued the caller's trace (its traceparent's span is the root's parent).
        expect(inTrace.find((s) => s.name === "http.server POST")?.parentSpanId).toBe("00f067aa0ba902b7")
      }))
  })
})
