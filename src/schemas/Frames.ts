/**
 * The realtime protocol's frames (docs/protocol.md): what clients send and what
 * the server answers, as Schema unions. Frames travel as plain MessagePack maps
 * (see FrameCodec.ts); the `t` field names the frame. Versioned by `connect.v`.
 */
import { Schema } from "effect"
import { ErrorCode, FieldErrors } from "./ErrorCode.ts"

/** Protocol versions this build speaks; a client announces its own in `connect.v`. */
export const protocolVersions = [1] as const
/** The newest protocol version. */
export const protocolVersion = 1

/** A client-chosen frame id, echoed by the `ack` or `error` that answers it. */
export const FrameId = Schema.Int.pipe(Schema.between(0, 2 ** 31 - 1)).annotations({ identifier: "FrameId" })

/** A channel name: `<kind>:<id>`, e.g. `lesson:7c0e…`, `user:1f2a…`, `call:7c0e…`. */
export const ChannelName = Schema.String.pipe(
  Schema.maxLength(200),
  Schema.pattern(/^[a-z][a-z0-9_-]{0,31}:[A-Za-z0-9:_.-]{1,160}$/, { message: () => "expected <kind>:<id>" })
).annotations({ identifier: "ChannelName" })

/** A position in a room's event log. */
export const StreamPosition = Schema.Struct({
  epoch: Schema.String.pipe(Schema.maxLength(100)),
  seq: Schema.Int.pipe(Schema.nonNegative())
}).annotations({ identifier: "StreamPosition" })
/** @see StreamPosition */
export type StreamPosition = typeof StreamPosition.Type

const Token = Schema.String.pipe(Schema.minLength(1), Schema.maxLength(8192))

// ---- client → server ----------------------------------------------------------

/** Authenticates the socket; must be the first frame. Answered by `connected` or a close. */
export const ConnectFrame = Schema.Struct({
  t: Schema.Literal("connect"),
  v: Schema.Int,
  token: Token,
  /** Free-form client name/version, for logs. */
  client: Schema.optional(Schema.String.pipe(Schema.maxLength(64)))
})

/** Replaces the access token of a live connection (before it expires). Answered by `ack`. */
export const RefreshFrame = Schema.Struct({ t: Schema.Literal("refresh"), id: FrameId, token: Token })

/** Joins a channel, optionally recovering from a position. Answered by `ack` (then events) or `error`. */
export const SubscribeFrame = Schema.Struct({
  t: Schema.Literal("sub"),
  id: FrameId,
  channel: ChannelName,
  recover: Schema.optional(StreamPosition)
})

/** Leaves a channel. Answered by `ack`. */
export const UnsubscribeFrame = Schema.Struct({ t: Schema.Literal("unsub"), id: FrameId, channel: ChannelName })

/** A command on a subscribed channel (`chat.send`, `board.op`, `typing`, `presence.status`, …). */
export const CommandFrame = Schema.Struct({
  t: Schema.Literal("cmd"),
  id: FrameId,
  channel: ChannelName,
  type: Schema.String.pipe(Schema.minLength(1), Schema.maxLength(64)),
  data: Schema.optionalWith(Schema.Unknown, { default: () => null })
})

/** Keep-alive; answered by `pong`. Any frame counts as activity, but idle clients must ping. */
export const PingFrame = Schema.Struct({ t: Schema.Literal("ping") })

/** Every client frame. */
export const ClientFrame = Schema.Union(
  ConnectFrame,
  RefreshFrame,
  SubscribeFrame,
  UnsubscribeFrame,
  CommandFrame,
  PingFrame
).annotations({ identifier: "ClientFrame" })
/** @see ClientFrame */
export type ClientFrame = typeof ClientFrame.Type

// ---- server → client ----------------------------------------------------------

/** Answer to `connect`: who the connection is and how often to ping. */
export const ConnectedFrame = Schema.Struct({
  t: Schema.Literal("connected"),
  v: Schema.Int,
  connectionId: Schema.String,
  userId: Schema.String,
  /** Milliseconds between client pings, and of silence before the server closes with 4008. */
  pingInterval: Schema.Number,
  pingTimeout: Schema.Number,
  /** When the access token expires (epoch ms): refresh before, or the socket closes with 4002. */
  expiresAt: Schema.Number
})

/** Success answer to the frame with `id`. */
export const AckFrame = Schema.Struct({ t: Schema.Literal("ack"), id: FrameId, data: Schema.Unknown })

/** Failure answer (to the frame with `id`, when it had a readable one). */
export const ErrorFrame = Schema.Struct({
  t: Schema.Literal("error"),
  id: Schema.optional(FrameId),
  code: ErrorCode,
  detail: Schema.String,
  fields: FieldErrors
})

/** A server push on a channel; `seq`/`epoch` are present on durable room events. */
export const EventFrame = Schema.Struct({
  t: Schema.Literal("event"),
  channel: Schema.String,
  type: Schema.String,
  data: Schema.Unknown,
  seq: Schema.optional(Schema.Number),
  epoch: Schema.optional(Schema.String)
})

/**
 * The server ended a subscription on its own: no more events or commands on
 * `channel`. Not an answer to any frame. SUBSCRIPTION_REVOKED (access lost): do
 * not resubscribe; RESYNC_REQUIRED (events could not be delivered in order):
 * resubscribe with recovery.
 */
export const UnsubscribedFrame = Schema.Struct({
  t: Schema.Literal("unsubscribed"),
  channel: Schema.String,
  code: ErrorCode,
  detail: Schema.String
})

/** Answer to `ping`. */
export const PongFrame = Schema.Struct({ t: Schema.Literal("pong") })

/** Sent just before the server closes the socket; `reconnect` mirrors the close code's range. */
export const DisconnectFrame = Schema.Struct({
  t: Schema.Literal("disconnect"),
  code: Schema.Int,
  reason: Schema.String,
  reconnect: Schema.Boolean
})

/** Every server frame. */
export const ServerFrame = Schema.Union(
  ConnectedFrame,
  AckFrame,
  ErrorFrame,
  EventFrame,
  UnsubscribedFrame,
  PongFrame,
  DisconnectFrame
).annotations({ identifier: "ServerFrame" })
/** @see ServerFrame */
export type ServerFrame = typeof ServerFrame.Type
/** An event frame. */
export type EventFrame = typeof EventFrame.Type

// ---- close codes ----------------------------------------------------------------

/**
 * WebSocket close codes. 4000–4499: transient, the client should reconnect (with
 * backoff, resubscribing with recovery); 4500–4999: do not reconnect as is.
 */
export const CloseCodes = {
  /** The server is shutting down; reconnect (to another process). */
  SHUTDOWN: 4001,
  /** The access token expired without a refresh; get a new one, then reconnect. */
  TOKEN_EXPIRED: 4002,
  /** No `connect` frame within the authentication deadline. */
  AUTH_TIMEOUT: 4003,
  /** The client did not read fast enough; its outbound queue overflowed. Reconnect and recover. */
  SLOW_CONSUMER: 4004,
  /** The session was closed by the server (e.g. the user disconnected by an operator). */
  SERVER_DISCONNECT: 4005,
  /** No frame within the ping timeout (after a `connection.timeout` event). */
  PING_TIMEOUT: 4008,
  /** Unexpected server error; reconnect. */
  INTERNAL: 4009,
  /** The token is invalid, or the account disabled / token user changed: do not retry with it. */
  UNAUTHORIZED: 4501,
  /** Repeated malformed frames or flooding. */
  POLICY_VIOLATION: 4502,
  /** The client's protocol version is not supported. */
  UNSUPPORTED_VERSION: 4503
} as const

/** True when a close code tells the client to reconnect. */
export const shouldReconnect = (code: number) => code < 4500 || code > 4999
