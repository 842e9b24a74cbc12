/**
 * The HTTP error edge: every failure leaves as `{"error":{code,detail,fields}}`
 * with the status from the `ErrorCode` table. `httpError` declares a domain error
 * on an endpoint (for OpenAPI and typed clients); `renderCause` turns whatever a
 * request failed with — domain errors, decode failures, malformed JSON, oversized
 * bodies, unknown routes, defects — into that body, and never leaks internals.
 */
import { HttpApiSchema, HttpServerResponse } from "@effect/platform"
import { HttpApiDecodeError } from "@effect/platform/HttpApiError"
import { RouteNotFound } from "@effect/platform/HttpServerError"
import { Cause, Effect, Option, ParseResult, Schema } from "effect"
import {
  type CodedError,
  type ErrorCode,
  ErrorCodes,
  ErrorEnvelope,
  isCodedError,
  toErrorBody
} from "../schemas/ErrorCode.ts"

/**
 * Declares `schema` (a coded `Schema.TaggedError`) as an endpoint error: on the
 * wire it is the unified envelope, with the status of its code.
 */
export const httpError = <A extends CodedError, I>(
  schema: Schema.Schema<A, I> & { readonly _tag: string },
  code: A["code"]
) =>
  Schema.transformOrFail(ErrorEnvelope, Schema.typeSchema(schema), {
    strict: true,
    decode: (envelope, _, ast) =>
      envelope.error.code === code
        ? ParseResult.decodeUnknown(schema)({
          _tag: schema._tag,
          detail: envelope.error.detail,
          fields: envelope.error.fields
        })
        : ParseResult.fail(new ParseResult.Type(ast, envelope, `expected error code ${code}`)),
    encode: (error) => ParseResult.succeed({ error: toErrorBody(error) })
  }).annotations(
    HttpApiSchema.annotations({ status: ErrorCodes[code].status, description: ErrorCodes[code].description })
  )

/** A response carrying the unified body for `code`. */
export const errorResponse = (
  code: ErrorCode,
  detail: string,
  fields: Readonly<Record<string, string>> = {}
): HttpServerResponse.HttpServerResponse =>
  HttpServerResponse.unsafeJson({ error: { code, detail, fields } }, { status: ErrorCodes[code].status })

const fromCoded = (error: CodedError) => {
  const body = toErrorBody(error)
  const response = errorResponse(body.code, body.detail, body.fields)
  const retryAfter = "retryAfterSeconds" in error && typeof error.retryAfterSeconds === "number"
    ? Math.ceil(error.retryAfterSeconds)
    : undefined
  return retryAfter === undefined ? response : HttpServerResponse.setHeader(response, "retry-after", String(retryAfter))
}

const isOptionalNoise = (message: string) => message.startsWith("Expected undefined, actual ")

/** Turns decode issues into `{ "field.path": "problem; problem" }`. */
export const fieldsFromIssues = (
  issues: ReadonlyArray<{ readonly path: ReadonlyArray<PropertyKey>; readonly message: string }>
): Record<string, string> => {
  const fields: Record<string, string> = {}
  const keyOf = (issue: { readonly path: ReadonlyArray<PropertyKey> }) =>
    issue.path.length === 0 ? "body" : issue.path.map(String).join(".")
  // An optional field that is present but invalid also fails the union's
  // `undefined` member; that second issue says nothing useful when the first exists.
  const explained = issues.filter((i) => !isOptionalNoise(i.message)).map(keyOf)
  const isExplained = (key: string) => explained.some((k) => k === key || k.startsWith(`${key}.`))
  for (const issue of issues) {
    const key = keyOf(issue)
    if (isOptionalNoise(issue.message) && isExplained(key)) continue
    const message = issue.message === "is missing" ? "is required" : issue.message
    fields[key] = fields[key] === undefined ? message : `${fields[key]}; ${message}`
  }
  return fields
}

const isRequestDecodeDefect = (defect: unknown): defect is { readonly cause: unknown } =>
  typeof defect === "object" && defect !== null && "_tag" in defect && defect._tag === "RequestError" &&
  "reason" in defect && defect.reason === "Decode" && "cause" in defect

const isBodyTooLarge = (defect: { readonly cause: unknown }) =>
  defect.cause instanceof Error && defect.cause.message === "maxBytes exceeded"

/** The route table, so an unmatched path can answer 405 with `Allow` when another method matches. */
export interface RouteTable {
  readonly allowedMethods: (path: string) => ReadonlyArray<string>
}

/**
 * Renders a request's failure. Known failures become their code; anything else
 * is logged with its full cause and answered as a bare 500 INTERNAL.
 */
export const renderCause = (
  cause: Cause.Cause<unknown>,
  routes: RouteTable,
  request: { readonly method: string; readonly path: string }
): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
  const failure = Cause.failureOption(cause)
  if (Option.isSome(failure)) {
    const error = failure.value
    if (error instanceof HttpApiDecodeError) {
      const fields = fieldsFromIssues(error.issues)
      return Effect.succeed(
        errorResponse("VALIDATION_ERROR", `Invalid input: ${Object.keys(fields).join(", ")}`, fields)
      )
    }
    if (error instanceof RouteNotFound) {
      const allowed = routes.allowedMethods(request.path)
      return Effect.succeed(
        allowed.length > 0
          ? HttpServerResponse.setHeader(
            errorResponse("METHOD_NOT_ALLOWED", `This method is not allowed here; use ${allowed.join(", ")}`),
            "allow",
            allowed.join(", ")
          )
          : errorResponse("ROUTE_NOT_FOUND", `No route for ${request.method} ${request.path}`)
      )
    }
    if (isCodedError(error)) return Effect.succeed(fromCoded(error))
  }
  const defect = Cause.dieOption(cause)
  if (Option.isSome(defect) && isRequestDecodeDefect(defect.value)) {
    return Effect.succeed(
      isBodyTooLarge(defect.value)
        ? errorResponse("PAYLOAD_TOO_LARGE", "The request body exceeds the size limit")
        : errorResponse("MALFORMED_BODY", "The request body is not valid JSON")
    )
  }
  if (Cause.isInterruptedOnly(cause)) {
    return Effect.succeed(errorResponse("SERVICE_UNAVAILABLE", "The server is shutting down; retry"))
  }
  return Effect.logError("unhandled failure", cause).pipe(
    Effect.as(errorResponse("INTERNAL", "Internal server error"))
  )
}
