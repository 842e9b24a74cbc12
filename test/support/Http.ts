/**
 * A raw HTTP client for edge tests, where the exact status, headers and body
 * matter more than types. Wraps `fetch` once; tests stay in Effect.
 */
import { Effect } from "effect"
import { baseUrl } from "./TestStack.ts"

/** What a test sees of a response. */
export interface TestResponse {
  readonly status: number
  readonly headers: Headers
  readonly text: string
  /** The body parsed as JSON (undefined when it is not JSON). */
  readonly json: unknown
}

/** Options of one request. */
export interface CallOptions {
  readonly body?: unknown
  /** Sent as-is (for malformed or non-JSON bodies). */
  readonly rawBody?: string | ReadableStream<Uint8Array>
  readonly token?: string
  readonly headers?: Record<string, string>
}

/** Sends one request to the server under test. */
export const call = (method: string, path: string, options: CallOptions = {}) =>
  Effect.gen(function*() {
    const base = yield* baseUrl
    const headers: Record<string, string> = { ...options.headers }
    if (options.token !== undefined) headers.authorization = `Bearer ${options.token}`
    let body: string | ReadableStream<Uint8Array> | undefined = options.rawBody
    if (options.body !== undefined) {
      body = JSON.stringify(options.body)
      headers["content-type"] ??= "application/json"
    }
    // `duplex` lets fetch stream a ReadableStream body (chunked, no Content-Length).
    const init: RequestInit & { readonly duplex: "half" } = { method, headers, body: body ?? null, duplex: "half" }
    const response = yield* Effect.promise(() => fetch(`${base}${path}`, init))
    const text = yield* Effect.promise(() => response.text())
    let json: unknown = undefined
    try {
      json = JSON.parse(text)
    } catch {
      json = undefined
    }
    return { status: response.status, headers: response.headers, text, json } satisfies TestResponse
  })

/** Reads `error.code` of a unified error body (undefined if the body has another shape). */
export const errorCode = (response: TestResponse): unknown =>
  typeof response.json === "object" && response.json !== null && "error" in response.json &&
    typeof response.json.error === "object" && response.json.error !== null && "code" in response.json.error
    ? response.json.error.code
    : undefined
