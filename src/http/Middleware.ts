/**
 * The outer HTTP middleware, applied to every response including errors and
 * unknown routes: request id, access log, security headers, CORS, body-size
 * and content-type guards, request timeout, and `Connection: close` while the
 * server drains for shutdown.
 */
import { FileSystem, HttpApp, HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { MaxBodySize } from "@effect/platform/HttpIncomingMessage"
import { Clock, Duration, Effect, Option } from "effect"
import { randomUUID } from "node:crypto"
import type { AppConfigShape } from "../layers/AppConfig.ts"
import type { Drain } from "./Drain.ts"
import { errorResponse } from "./HttpErrors.ts"
import { RequestContext, type RequestNotes } from "./RequestContext.ts"

const validRequestId = /^[A-Za-z0-9._:-]{1,128}$/

const apiCsp = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'"
// Swagger UI at /docs is the one HTML page we serve; it needs its inline bootstrap and styles.
const docsCsp =
  "default-src 'none'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; " +
  "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'"

const securityHeaders = (config: AppConfigShape, path: string): Record<string, string> => ({
  "content-security-policy": path === "/docs" ? docsCsp : apiCsp,
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "permissions-policy": "camera=(), microphone=(), geolocation=(), payment=(), usb=()",
  "cross-origin-opener-policy": "same-origin",
  ...(config.hsts ? { "strict-transport-security": "max-age=31536000; includeSubDomains" } : {})
})

const hasJsonBody = (request: HttpServerRequest.HttpServerRequest) => {
  const type = request.headers["content-type"]
  return type === undefined || type.toLowerCase().includes("application/json")
}

const bodyMethods = new Set(["POST", "PUT", "PATCH"])

/**
 * Rejects, before any route runs: bodies declared too large, chunked bodies
 * without a length (411), and non-JSON bodies on `/api/` routes. Requiring a
 * length matters: the platform enforces the size limit on a streamed body by
 * destroying the socket, after which the response write never completes and the
 * request fiber would hang; with a declared length the limit is checked here.
 */
const guardBody = (config: AppConfigShape) => <E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<E, R> =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) => {
    const length = request.headers["content-length"]
    const declared = Number(length ?? "0")
    if (Number.isFinite(declared) && declared > config.bodyLimitBytes) {
      return Effect.succeed(
        errorResponse("PAYLOAD_TOO_LARGE", `The request body exceeds ${config.bodyLimitBytes} bytes`)
      )
    }
    if (length === undefined && request.headers["transfer-encoding"] !== undefined) {
      return Effect.succeed(errorResponse("LENGTH_REQUIRED", "Send the request body with a Content-Length header"))
    }
    if (
      bodyMethods.has(request.method) && request.url.startsWith("/api/") && declared > 0 && !hasJsonBody(request)
    ) {
      return Effect.succeed(errorResponse("UNSUPPORTED_MEDIA_TYPE", "Send the request body as application/json"))
    }
    return Effect.provideService(app, MaxBodySize, Option.some(FileSystem.Size(config.bodyLimitBytes)))
  })

const corsHeaders = (config: AppConfigShape, origin: string | undefined): Record<string, string> => {
  if (origin === undefined || config.corsOrigins.length === 0) return {}
  const anyOrigin = config.corsOrigins.includes("*")
  if (!anyOrigin && !config.corsOrigins.includes(origin)) return {}
  return {
    "access-control-allow-origin": anyOrigin ? "*" : origin,
    "access-control-expose-headers": "x-request-id, retry-after",
    ...(anyOrigin ? {} : { vary: "Origin" })
  }
}

const preflight = (config: AppConfigShape, request: HttpServerRequest.HttpServerRequest) => {
  const origin = request.headers.origin
  const allowed = corsHeaders(config, origin)
  return HttpServerResponse.empty({ status: Object.keys(allowed).length > 0 ? 204 : 403 }).pipe(
    HttpServerResponse.setHeaders(
      Object.keys(allowed).length === 0 ? {} : {
        ...allowed,
        "access-control-allow-methods": "GET, POST, PUT, PATCH, DELETE, OPTIONS",
        "access-control-allow-headers": "authorization, content-type, x-request-id, if-none-match, if-match",
        "access-control-max-age": "600"
      }
    )
  )
}

/**
 * Wraps the whole application: assigns the request id, times the request,
 * logs it once when done, and stamps the standard headers on the response.
 * The platform writes a response as soon as the app returns it, so the headers
 * are added by a pre-response handler (and again on responses this middleware
 * produces itself, which bypass those handlers).
 */
export const appMiddleware = (config: AppConfigShape, drain: Drain["Type"]) =>
<E, R>(app: HttpApp.Default<E, R>): HttpApp.Default<never, R> =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const incoming = request.headers["x-request-id"]
    const requestId = incoming !== undefined && validRequestId.test(incoming) ? incoming : randomUUID()
    const path = request.url.split("?")[0] ?? "/"
    const notes: RequestNotes = { route: undefined, userId: undefined }
    const started = yield* Clock.currentTimeMillis
    const stamp = (response: HttpServerResponse.HttpServerResponse) =>
      HttpServerResponse.setHeaders(response, {
        "x-request-id": requestId,
        ...securityHeaders(config, path),
        ...corsHeaders(config, request.headers.origin),
        ...(drain.draining() ? { connection: "close" } : {})
      })
    yield* HttpApp.appendPreResponseHandler((_, response) => Effect.succeed(stamp(response)))
    drain.started()

    const isPreflight = request.method === "OPTIONS" && request.headers["access-control-request-method"] !== undefined
    const response = yield* (isPreflight ? Effect.succeed(preflight(config, request)) : guardBody(config)(app)).pipe(
      Effect.timeoutOption(config.requestTimeout),
      Effect.map(Option.getOrElse(() => errorResponse("REQUEST_TIMEOUT", "The request took too long"))),
      Effect.catchAllCause((cause) =>
        Effect.as(
          Effect.logError("request failed outside the error edge", cause),
          errorResponse("INTERNAL", "Internal server error")
        )
      ),
      Effect.provideService(RequestContext, { requestId, notes }),
      Effect.annotateLogs({ request_id: requestId }),
      Effect.ensuring(Effect.sync(drain.finished))
    )

    const duration = Duration.millis((yield* Clock.currentTimeMillis) - started)
    const quiet = path.startsWith("/health/") && response.status < 500
    yield* (quiet ? Effect.logDebug("request") : Effect.logInfo("request")).pipe(
      Effect.annotateLogs({
        request_id: requestId,
        method: request.method,
        route: notes.route ?? path,
        status: response.status,
        duration_ms: Duration.toMillis(duration),
        ...(notes.userId === undefined ? {} : { user_id: notes.userId })
      })
    )
    yield* Effect.annotateCurrentSpan({ "request.id": requestId, ...(notes.userId ? { "user.id": notes.userId } : {}) })
    return stamp(response)
  })
