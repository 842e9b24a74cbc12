/**
 * Where SQL failures stop: a lost or refused connection becomes the typed
 * `ServiceUnavailable` (503, retryable); anything else — a bad query, an
 * undecodable or missing row — is a bug and dies with its cause (500, logged).
 */
import type { SqlError } from "@effect/sql/SqlError"
import { type Cause, Effect, type ParseResult } from "effect"
import { ServiceUnavailable } from "../schemas/Errors.ts"

const pgCode = (error: SqlError): string | undefined => {
  const cause = error.cause
  return typeof cause === "object" && cause !== null && "code" in cause && typeof cause.code === "string"
    ? cause.code
    : undefined
}

/** True when Postgres rejected a write on a unique constraint (optionally a named one). */
export const isUniqueViolation = (error: SqlError, constraint?: string): boolean => {
  if (pgCode(error) !== "23505") return false
  if (constraint === undefined) return true
  const cause = error.cause
  return typeof cause === "object" && cause !== null && "constraint" in cause && cause.constraint === constraint
}

/** True for a foreign-key violation. */
export const isForeignKeyViolation = (error: SqlError): boolean => pgCode(error) === "23503"

const isConnectionProblem = (error: SqlError): boolean => {
  const code = pgCode(error)
  if (code === undefined) return true // driver-level: refused, reset, timed out
  return code.startsWith("08") || code.startsWith("53") || code.startsWith("57P")
}

/** Maps the failures of a store call: connection trouble → `ServiceUnavailable`, the rest → defect. */
type StoreFailure = SqlError | ParseResult.ParseError | Cause.NoSuchElementException

const storeFailureTags = new Set(["SqlError", "ParseError", "NoSuchElementException"])

export const storeCall = <A, E, R>(
  effect: Effect.Effect<A, E | StoreFailure, R>
): Effect.Effect<A, Exclude<E, StoreFailure> | ServiceUnavailable, R> =>
  Effect.catchIf(
    effect,
    (e): e is StoreFailure =>
      typeof e === "object" && e !== null && "_tag" in e && typeof e._tag === "string" && storeFailureTags.has(e._tag),
    (e) =>
      e._tag === "SqlError" && isConnectionProblem(e)
        ? Effect.fail(new ServiceUnavailable({ service: "database", reason: e.message }))
        : Effect.die(e)
  )
