/**
 * Cross-cutting typed errors (request shape, authentication, authorization,
 * availability). Each carries its code from the `ErrorCode` table; the edges
 * render them with `toErrorBody`. Domain-specific errors live beside their schemas.
 * Every data field is optional so an error decodes back from its wire body.
 */
import { Schema } from "effect"
import { FieldErrors } from "./ErrorCode.ts"

const optionalDetail = { detail: Schema.optional(Schema.String) }

/** Input failed validation; `fields` names every offending field. */
export class ValidationError extends Schema.TaggedError<ValidationError>()("ValidationError", {
  ...optionalDetail,
  fields: Schema.optionalWith(FieldErrors, { default: () => ({}) })
}) {
  readonly code = "VALIDATION_ERROR" as const
  override get message() {
    return this.detail ?? `Invalid input: ${Object.keys(this.fields).join(", ") || "request"}`
  }
  /** One invalid field. */
  static field(name: string, problem: string): ValidationError {
    return new ValidationError({ fields: { [name]: problem } })
  }
}

/** The request body is not parseable. */
export class MalformedBody extends Schema.TaggedError<MalformedBody>()("MalformedBody", optionalDetail) {
  readonly code = "MALFORMED_BODY" as const
  override get message() {
    return this.detail ?? "The request body is not valid JSON"
  }
}

/** A pagination cursor could not be decoded. */
export class InvalidCursor extends Schema.TaggedError<InvalidCursor>()("InvalidCursor", optionalDetail) {
  readonly code = "INVALID_CURSOR" as const
  readonly fields = { cursor: "malformed or expired cursor" }
  override get message() {
    return this.detail ?? "The cursor is malformed"
  }
}

/** No access token was presented. */
export class AuthenticationRequired
  extends Schema.TaggedError<AuthenticationRequired>()("AuthenticationRequired", optionalDetail)
{
  readonly code = "AUTHENTICATION_REQUIRED" as const
  override get message() {
    return this.detail ?? "An access token is required (Authorization: Bearer <token>)"
  }
}

/** The access token is malformed or its signature/claims are wrong. */
export class TokenInvalid extends Schema.TaggedError<TokenInvalid>()("TokenInvalid", optionalDetail) {
  readonly code = "TOKEN_INVALID" as const
  override get message() {
    return this.detail ?? "The access token is invalid"
  }
}

/** The access token has expired. */
export class TokenExpired extends Schema.TaggedError<TokenExpired>()("TokenExpired", optionalDetail) {
  readonly code = "TOKEN_EXPIRED" as const
  override get message() {
    return this.detail ?? "The access token has expired"
  }
}

/** Email or password is wrong (deliberately not saying which). */
export class InvalidCredentials extends Schema.TaggedError<InvalidCredentials>()("InvalidCredentials", optionalDetail) {
  readonly code = "INVALID_CREDENTIALS" as const
  override get message() {
    return this.detail ?? "Email or password is incorrect"
  }
}

/** The refresh token is unknown, expired or revoked. */
export class RefreshTokenInvalid
  extends Schema.TaggedError<RefreshTokenInvalid>()("RefreshTokenInvalid", optionalDetail)
{
  readonly code = "REFRESH_TOKEN_INVALID" as const
  override get message() {
    return this.detail ?? "The refresh token is invalid or expired"
  }
}

/** A rotated refresh token was used again: the family has been revoked. */
export class RefreshTokenReused extends Schema.TaggedError<RefreshTokenReused>()("RefreshTokenReused", optionalDetail) {
  readonly code = "REFRESH_TOKEN_REUSED" as const
  override get message() {
    return this.detail ?? "This refresh token was already used; all sessions of its family were revoked"
  }
}

/** The account is disabled. */
export class AccountDisabled extends Schema.TaggedError<AccountDisabled>()("AccountDisabled", optionalDetail) {
  readonly code = "ACCOUNT_DISABLED" as const
  override get message() {
    return this.detail ?? "This account is disabled"
  }
}

/** The caller's role or relation does not allow the action. */
export class Forbidden extends Schema.TaggedError<Forbidden>()("Forbidden", optionalDetail) {
  readonly code = "FORBIDDEN" as const
  override get message() {
    return this.detail ?? "You are not allowed to do this"
  }
}

/** A generic state conflict. */
export class Conflict extends Schema.TaggedError<Conflict>()("Conflict", optionalDetail) {
  readonly code = "CONFLICT" as const
  override get message() {
    return this.detail ?? "The request conflicts with the current state"
  }
}

/** Too many requests from this caller. */
export class RateLimited extends Schema.TaggedError<RateLimited>()("RateLimited", {
  ...optionalDetail,
  retryAfterSeconds: Schema.optional(Schema.Number)
}) {
  readonly code = "RATE_LIMITED" as const
  override get message() {
    return this.detail ?? "Too many requests; slow down"
  }
}

/** A backing service (database, Redis) is unavailable. */
export class ServiceUnavailable extends Schema.TaggedError<ServiceUnavailable>()("ServiceUnavailable", {
  service: Schema.optionalWith(Schema.String, { default: () => "backing service" }),
  /** Logged, never sent: may name hosts or drivers. */
  reason: Schema.optionalWith(Schema.String, { default: () => "" })
}) {
  readonly code = "SERVICE_UNAVAILABLE" as const
  override get message() {
    return `The ${this.service} is unavailable; retry later`
  }
}

/** The request body exceeds the configured limit. */
export class PayloadTooLarge extends Schema.TaggedError<PayloadTooLarge>()("PayloadTooLarge", optionalDetail) {
  readonly code = "PAYLOAD_TOO_LARGE" as const
  override get message() {
    return this.detail ?? "The request body exceeds the size limit"
  }
}

/** An unexpected server error (details are only in the logs). */
export class InternalError extends Schema.TaggedError<InternalError>()("InternalError", optionalDetail) {
  readonly code = "INTERNAL" as const
  override get message() {
    return "Internal server error"
  }
}
