/**
 * Which browser pages may open `/ws`: the origins of WS_ALLOWED_ORIGINS, else
 * those of CORS_ORIGINS. A page of any other origin gets 403 with the unified
 * error body instead of a WebSocket; clients that send no Origin (native apps,
 * servers) are not browsers and always get in.
 */
import { describe, expect, it } from "@effect/vitest"
import { Effect } from "effect"
import WebSocket from "ws"
import { encodeFrame } from "../../src/schemas/FrameCodec.ts"
import { realtimeConfig } from "../support/Realtime.ts"
import { signedIn } from "../support/Seed.ts"
import { backendLabel, baseUrl, liveStack, serverStack } from "../support/TestStack.ts"

type Upgrade =
  | { readonly _tag: "Open" }
  | { readonly _tag: "Refused"; readonly status: number; readonly body: unknown }

/** Tries to open `/ws` as a page of `origin` (none: as a native client) and, when it opens, authenticates. */
const upgrade = (origin: string | undefined) =>
  Effect.gen(function*() {
    const url = `${(yield* baseUrl).replace("http", "ws")}/ws`
    const { token } = yield* signedIn("student")
    return yield* Effect.async<Upgrade>((resume) => {
      const ws = new WebSocket(url, origin === undefined ? {} : { origin })
      ws.on("unexpected-response", (_request, response) => {
        let text = ""
        response.on("data", (chunk: Buffer) => (text += chunk.toString("utf8")))
        response.on("end", () => resume(Effect.succeed({ _tag: "Refused", status: response.statusCode ?? 0, body: JSON.parse(text) })))
      })
      ws.on("error", () => {})
      ws.once("open", () => {
        ws.send(encodeFrame({ t: "connect", v: 1, token }))
        ws.once("message", () => {
          ws.terminate()
          resume(Effect.succeed({ _tag: "Open" }))
        })
      })
      return Effect.sync(() => ws.terminate())
    }).pipe(Effect.timeout("10 seconds"))
  })

describe(`WebSocket origins (${backendLabel})`, () => {
  it.layer(serverStack({ corsOrigins: ["https://app.example.com"], realtime: realtimeConfig() }), liveStack)((it) => {
    it.effect("without WS_ALLOWED_ORIGINS the CORS origins may connect; another page gets 403 FORBIDDEN; no Origin gets in", () =>
      Effect.gen(function*() {
        expect(yield* upgrade("https://app.example.com")).toEqual({ _tag: "Open" })
        expect(yield* upgrade(undefined)).toEqual({ _tag: "Open" })
        const refused = yield* upgrade("https://evil.example")
        expect(refused).toMatchObject({ _tag: "Refused", status: 403, body: { error: { code: "FORBIDDEN", fields: {} } } })
        expect(JSON.stringify(refused)).toContain("https://evil.example")
      }))
  })

  it.layer(
    serverStack({
      corsOrigins: ["https://app.example.com"],
      realtime: realtimeConfig({ allowedOrigins: ["https://lessons.example.com"] })
    }),
    liveStack
  )((it) => {
    it.effect("WS_ALLOWED_ORIGINS, when set, is the list", () =>
      Effect.gen(function*() {
        expect(yield* upgrade("https://lessons.example.com")).toEqual({ _tag: "Open" })
        expect(yield* upgrade("https://app.example.com")).toMatchObject({ _tag: "Refused", status: 403 })
      }))
  })
})
