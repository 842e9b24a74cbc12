/**
 * The one error-code table shared by every edge (HTTP bodies, WebSocket error
 * frames, RPC failures). A code's HTTP status and meaning live here and nowhere
 * else; `docs/api/errors.md` is checked against this table by a test.
 */
import { Schema } from "effect"

/** One row of the table: the HTTP status a code answers with and what it means. */
export interface ErrorCodeInfo {
  readonly status: number
  readonly description: string
}

/** Every error code Lectern can answer with, grouped by concern. */
export const ErrorCodes = {
  // request shape
  VALIDATION_ERROR: { status: 400, description: "One or more fields are invalid; `fields` names each one." },
  MALFORMED_BODY: { status: 400, description: "The request body is not valid JSON (or not the declared content type)." },
  INVALID_CURSOR: { status: 400, description: "The pagination cursor is malformed or belongs to another query." },
  ROUTE_NOT_FOUND: { status: 404, description: "No route matches this path." },
  METHOD_NOT_ALLOWED: { status: 405, description: "The path exists but does not accept this HTTP method." },
  LENGTH_REQUIRED: { status: 411, description: "A request body was sent without a Content-Length header (chunked uploads are not accepted)." },
  PAYLOAD_TOO_LARGE: { status: 413, description: "The request body exceeds the configured size limit." },
  UNSUPPORTED_MEDIA_TYPE: { status: 415, description: "The request body has a content type this route does not accept." },
  // authentication
  AUTHENTICATION_REQUIRED: { status: 401, description: "No access token was presented." },
  TOKEN_INVALID: { status: 401, description: "The access token is malformed, has a bad signature or wrong audience." },
  TOKEN_EXPIRED: { status: 401, description: "The access token has expired; refresh it." },
  INVALID_CREDENTIALS: { status: 401, description: "Email or password is wrong." },
  REFRESH_TOKEN_INVALID: { status: 401, description: "The refresh token is unknown, expired or revoked." },
  REFRESH_TOKEN_REUSED: {
    status: 401,
    description: "An already rotated refresh token was presented; its whole family is now revoked."
  },
  ACCOUNT_DISABLED: { status: 403, description: "The account is disabled." },
  // authorization
  FORBIDDEN: { status: 403, description: "The caller's role does not allow this action." },
  // accounts
  USER_NOT_FOUND: { status: 404, description: "No user with this id." },
  EMAIL_TAKEN: { status: 409, description: "Another account already uses this email address." },
  // lessons and relations
  LESSON_NOT_FOUND: { status: 404, description: "No lesson with this id is visible to the caller." },
  INVALID_LESSON_TRANSITION: { status: 409, description: "The lesson's current status does not allow this change." },
  LESSON_NOT_EDITABLE: {
    status: 409,
    description: "The lesson's status no longer allows changing the named details (a final lesson, or the start of a live one)."
  },
  RELATION_NOT_FOUND: { status: 404, description: "No tutor–student relation with this id is visible to the caller." },
  RELATION_EXISTS: { status: 409, description: "This tutor and student already have an active relation." },
  // feature flags
  FLAG_NOT_FOUND: { status: 404, description: "No feature flag with this name." },
  FLAG_EXISTS: { status: 409, description: "A feature flag with this name already exists." },
  // jobs
  JOB_NOT_FOUND: { status: 404, description: "No job with this id (finished jobs are deleted after their retention period)." },
  JOB_STATE_CONFLICT: { status: 409, description: "The job's state does not allow this (only pending jobs can be cancelled, only dead or cancelled ones retried)." },
  // notifications and web push
  NOTIFICATION_NOT_FOUND: { status: 404, description: "No notification with this id belongs to the caller." },
  PUSH_SUBSCRIPTION_NOT_FOUND: { status: 404, description: "No push subscription with this id belongs to the caller." },
  // lesson rooms: chat and whiteboard
  MESSAGE_NOT_FOUND: { status: 404, description: "No chat message with this id in this lesson." },
  MESSAGE_DELETED: { status: 409, description: "The chat message was deleted and can no longer be edited." },
  BOARD_FULL: { status: 409, description: "The board already holds the most elements a board may have; delete some first." },
  BOARD_SNAPSHOT_INVALID: {
    status: 400,
    description: "An imported board snapshot is unusable (too many elements, duplicate element ids); `fields` says why."
  },
  // realtime
  CHANNEL_FORBIDDEN: { status: 403, description: "The caller may not subscribe to or publish on this channel." },
  FRAME_MALFORMED: { status: 400, description: "A WebSocket frame is not valid MessagePack or not a known frame." },
  FRAME_TOO_LARGE: { status: 413, description: "A WebSocket frame exceeds the frame size limit." },
  ROOM_BUSY: { status: 503, description: "A room's mailbox is full; retry shortly." },
  SUBSCRIPTION_REVOKED: {
    status: 403,
    description: "The server ended a channel subscription because the caller lost access (removed from the lesson, or the lesson was cancelled)."
  },
  RESYNC_REQUIRED: {
    status: 409,
    description:
      "The server ended a channel subscription because it could not deliver every event in order (the room fell behind its retained log); resubscribe with `recover` and reload on `reset: true`."
  },
  // offline sync
  INVALID_CHECKPOINT: { status: 400, description: "The sync checkpoint is forged, malformed or was issued to another device." },
  SYNC_MUTATION_ORDER: { status: 400, description: "The mutation ids of a push batch do not strictly increase; nothing was applied." },
  SYNC_UNKNOWN_MUTATION: { status: 400, description: "A pushed mutation names an entity or operation the server does not know (reported per mutation)." },
  SYNC_CLIENT_REVOKED: { status: 403, description: "This sync client (device) was revoked; start over with a new client id." },
  SYNC_CLIENT_NOT_FOUND: { status: 404, description: "No sync client (device) with this id is visible to the caller." },
  SYNC_CLIENT_TAKEN: { status: 409, description: "This sync client id is registered to another account; make a new one." },
  UNKNOWN_CHANNEL: { status: 404, description: "The channel name has no known kind (`lesson:<id>`, `user:<id>`, …)." },
  UNKNOWN_COMMAND: { status: 400, description: "The channel does not accept a command of this type." },
  CHANNEL_NOT_SUBSCRIBED: { status: 409, description: "Commands and unsubscribes need a subscription to the channel first." },
  CHANNEL_ALREADY_SUBSCRIBED: { status: 409, description: "This connection is already subscribed to the channel." },
  NOT_CONNECTED: { status: 401, description: "The first frame on a WebSocket must be `connect` with an access token." },
  PROTOCOL_VERSION_UNSUPPORTED: { status: 400, description: "The client speaks a protocol version this server does not support." },
  // calls
  CALL_NOT_FOUND: { status: 404, description: "The lesson has no live call (the host starts it)." },
  CALL_FULL: { status: 409, description: "The call already has its maximum number of participants." },
  CALL_REMOVED: { status: 403, description: "The host removed you from this call; you cannot rejoin it." },
  CALL_LESSON_CLOSED: { status: 409, description: "The lesson is cancelled or finished, so it cannot have a call." },
  SCREEN_SHARE_TAKEN: { status: 409, description: "Someone else is sharing their screen; only one share at a time." },
  NOT_IN_CALL: { status: 409, description: "The sender (or the named participant) is not in the call; join first." },
  SIGNAL_TARGET_UNKNOWN: { status: 400, description: "A signal's `to` is not a participant of the call (or is the sender)." },
  GRANT_DENIED: { status: 403, description: "Your grants in this call do not allow publishing this media (or this host action)." },
  // generic
  CONFLICT: { status: 409, description: "The request conflicts with the current state of the resource." },
  RATE_LIMITED: { status: 429, description: "Too many requests; retry after the time in `Retry-After`." },
  REQUEST_TIMEOUT: { status: 503, description: "The request did not complete within the server's time limit." },
  SERVICE_UNAVAILABLE: {
    status: 503,
    description: "A required backing service (database, Redis) is unavailable; retry later."
  },
  INTERNAL: { status: 500, description: "An unexpected server error; it was logged with the request id." }
} as const satisfies Record<string, ErrorCodeInfo>

/** A code from {@link ErrorCodes}. */
export type ErrorCode = keyof typeof ErrorCodes

/** Every code, in table order. */
export const errorCodeList = Object.keys(ErrorCodes) as ReadonlyArray<ErrorCode>

/** Schema of an error code on the wire. */
export const ErrorCode = Schema.Literal(...(errorCodeList as [ErrorCode, ...Array<ErrorCode>])).annotations({
  identifier: "ErrorCode",
  description: "Stable machine-readable error code; see docs/api/errors.md"
})

/** Field name → what is wrong with it. */
export const FieldErrors = Schema.Record({ key: Schema.String, value: Schema.String }).annotations({
  identifier: "FieldErrors"
})

/** The body of every error, on every edge: `{ code, detail, fields }`. */
export class ErrorBody extends Schema.Class<ErrorBody>("ErrorBody")({
  code: ErrorCode,
  detail: Schema.String,
  fields: FieldErrors
}) {}

/** The HTTP error envelope: `{ "error": { code, detail, fields } }`. */
export const ErrorEnvelope = Schema.Struct({ error: ErrorBody }).annotations({ identifier: "ErrorEnvelope" })

/** Anything that can be rendered as an {@link ErrorBody}: every domain error implements it. */
export interface CodedError {
  readonly code: ErrorCode
  readonly message: string
  readonly fields?: Readonly<Record<string, string>> | undefined
}

/** True for values carrying a known error code (domain errors). */
export const isCodedError = (u: unknown): u is CodedError =>
  typeof u === "object" && u !== null && "code" in u && typeof u.code === "string" && u.code in ErrorCodes &&
  "message" in u && typeof u.message === "string"

/** Renders any coded error as the wire body. */
export const toErrorBody = (error: CodedError): ErrorBody =>
  ErrorBody.make({ code: error.code, detail: error.message, fields: { ...(error.fields ?? {}) } })
