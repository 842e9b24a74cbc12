import { describe, expect, it } from "@effect/vitest"
import { Cause, Effect } from "effect"
import { routeTable } from "../../src/http/ErrorEdge.ts"
import { renderCause } from "../../src/http/HttpErrors.ts"
import { call, errorCode, type TestResponse } from "../support/Http.ts"
import { backendLabel, serverStack, liveStack } from "../support/TestStack.ts"

const securityHeaders = [
  "content-security-policy",
  "x-frame-options",
  "x-content-type-options",
  "referrer-policy",
  "permissions-policy"
]

/** Nothing internal may reach a client. */
const expectNoInternals = (response: TestResponse) => {
  expect(response.text).not.toContain("_tag")
  expect(response.text).not.toMatch(/\bat .+:\d+:\d+/) // stack frames
  expect(response.text).not.toMatch(/\b(SELECT|INSERT|UPDATE|DELETE)\b/)
  expect(response.text).not.toContain("ParseError")
}

const expectUnified = (response: TestResponse, status: number, code: string) => {
  expect(response.status).toBe(status)
  expect(errorCode(response)).toBe(code)
  expect(response.json).toMatchObject({ error: { code, detail: expect.any(String), fields: expect.any(Object) } })
  expect(Object.keys(response.json as object)).toEqual(["error"])
  expectNoInternals(response)
}

describe(`HTTP error edge (${backendLabel})`, () => {
  it.layer(serverStack({ bodyLimitBytes: 4096 }), liveStack)((it) => {
    it.effect("unknown route → 404 ROUTE_NOT_FOUND", () =>
      Effect.gen(function*() {
        expectUnified(yield* call("GET", "/api/v1/nope"), 404, "ROUTE_NOT_FOUND")
        expectUnified(yield* call("GET", "/"), 404, "ROUTE_NOT_FOUND")
      }))

    it.effect("known path with the wrong method → 405 METHOD_NOT_ALLOWED with Allow", () =>
      Effect.gen(function*() {
        const response = yield* call("DELETE", "/api/v1/auth/login")
        expectUnified(response, 405, "METHOD_NOT_ALLOWED")
        expect(response.headers.get("allow")).toBe("POST")
      }))

    it.effect("malformed JSON → 400 MALFORMED_BODY", () =>
      Effect.gen(function*() {
        const response = yield* call("POST", "/api/v1/auth/login", {
          rawBody: "{\"email\": ",
          headers: { "content-type": "application/json" }
        })
        expectUnified(response, 400, "MALFORMED_BODY")
      }))

    it.effect("two bad fields → 400 VALIDATION_ERROR naming both", () =>
      Effect.gen(function*() {
        const response = yield* call("POST", "/api/v1/auth/login", { body: { email: "not-an-email", password: 42 } })
        expectUnified(response, 400, "VALIDATION_ERROR")
        const fields = (response.json as { error: { fields: Record<string, string> } }).error.fields
        expect(Object.keys(fields).sort()).toEqual(["email", "password"])
        expect(fields.email).toContain("email")
      }))

    it.effect("missing fields are named as required", () =>
      Effect.gen(function*() {
        const response = yield* call("POST", "/api/v1/auth/login", { body: {} })
        expectUnified(response, 400, "VALIDATION_ERROR")
        expect(response.json).toMatchObject({ error: { fields: { email: "is required", password: "is required" } } })
      }))

    it.effect("oversized body → 413 PAYLOAD_TOO_LARGE; a chunked body → 411 LENGTH_REQUIRED", () =>
      Effect.gen(function*() {
        const big = JSON.stringify({ email: "a@b.co", password: "x".repeat(10_000) })
        expectUnified(yield* call("POST", "/api/v1/auth/login", { rawBody: big, headers: { "content-type": "application/json" } }), 413, "PAYLOAD_TOO_LARGE")
        // A chunked body has no Content-Length: refused before it is read.
        const stream = new ReadableStream<Uint8Array>({
          start(controller) {
            controller.enqueue(new TextEncoder().encode(big))
            controller.close()
          }
        })
        const chunked = yield* call("POST", "/api/v1/auth/login", {
          rawBody: stream,
          headers: { "content-type": "application/json" }
        })
        expectUnified(chunked, 411, "LENGTH_REQUIRED")
      }))

    it.effect("a non-JSON body on an API route → 415 UNSUPPORTED_MEDIA_TYPE", () =>
      Effect.gen(function*() {
        const response = yield* call("POST", "/api/v1/auth/login", {
          rawBody: "email=a@b.co",
          headers: { "content-type": "application/x-www-form-urlencoded" }
        })
        expectUnified(response, 415, "UNSUPPORTED_MEDIA_TYPE")
      }))

    it.effect("every response carries X-Request-ID and the security headers", () =>
      Effect.gen(function*() {
        const responses = [
          yield* call("GET", "/health/live"),
          yield* call("GET", "/api/v1/nope"),
          yield* call("GET", "/api/v1/me"),
          yield* call("POST", "/api/v1/auth/login", { rawBody: "{", headers: { "content-type": "application/json" } }),
          yield* call("GET", "/openapi.json")
        ]
        for (const response of responses) {
          expect(response.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
          for (const header of securityHeaders) expect(response.headers.get(header), header).toBeTruthy()
          expect(response.headers.get("x-frame-options")).toBe("DENY")
          expect(response.headers.get("x-content-type-options")).toBe("nosniff")
          expect(response.headers.get("strict-transport-security")).toBeNull()
        }
      }))

    it.effect("a valid incoming X-Request-ID is echoed; an invalid one is replaced", () =>
      Effect.gen(function*() {
        const echoed = yield* call("GET", "/health/live", { headers: { "x-request-id": "client-abc.123" } })
        expect(echoed.headers.get("x-request-id")).toBe("client-abc.123")
        const replaced = yield* call("GET", "/health/live", { headers: { "x-request-id": "bad id with spaces" } })
        expect(replaced.headers.get("x-request-id")).toMatch(/^[0-9a-f-]{36}$/)
      }))
  })

  it.layer(serverStack({ hsts: true, corsOrigins: ["https://app.example.com"] }), liveStack)((it) => {
    it.effect("HSTS when enabled; CORS only for configured origins", () =>
      Effect.gen(function*() {
        const response = yield* call("GET", "/health/live", { headers: { origin: "https://app.example.com" } })
        expect(response.headers.get("strict-transport-security")).toContain("max-age=")
        expect(response.headers.get("access-control-allow-origin")).toBe("https://app.example.com")
        const other = yield* call("GET", "/health/live", { headers: { origin: "https://evil.example.com" } })
        expect(other.headers.get("access-control-allow-origin")).toBeNull()
        const preflight = yield* call("OPTIONS", "/api/v1/auth/login", {
          headers: { origin: "https://app.example.com", "access-control-request-method": "POST" }
        })
        expect(preflight.status).toBeLessThan(300)
        expect(preflight.headers.get("access-control-allow-methods")).toContain("POST")
      }))
  })

  it.effect("a defect renders as a bare 500 INTERNAL", () =>
    Effect.gen(function*() {
      const response = yield* renderCause(
        Cause.die(new Error("boom at SELECT * FROM secrets")),
        routeTable,
        { method: "GET", path: "/x" }
      )
      expect(response.status).toBe(500)
      const body = JSON.stringify(response)
      expect(body).toContain("INTERNAL")
      expect(body).not.toContain("boom")
      expect(body).not.toContain("SELECT")
    }))
})
