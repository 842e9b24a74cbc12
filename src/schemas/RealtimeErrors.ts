/**
 * Errors of the realtime edge (WebSocket frames and channels). Each carries its
 * code from the `ErrorCode` table; the gateway renders them as error frames.
 * Room and chat domain errors live with their own schemas.
 */
import { Schema } from "effect"
import { FieldErrors } from "./ErrorCode.ts"

const optionalDetail = { detail: Schema.optional(Schema.String) }

/** A frame is not MessagePack or not a frame this protocol knows. */
export class FrameMalformed extends Schema.TaggedError<FrameMalformed>()("FrameMalformed", {
  ...optionalDetail,
  fields: Schema.optionalWith(FieldErrors, { default: () => ({}) })
}) {
  readonly code = "FRAME_MALFORMED" as const
  override get message() {
    return this.detail ?? "The frame is not a valid protocol frame"
  }
}

/** No channel kind handles this channel name. */
export class UnknownChannel extends Schema.TaggedError<UnknownChannel>()("UnknownChannel", {
  channel: Schema.String
}) {
  readonly code = "UNKNOWN_CHANNEL" as const
  get fields() {
    return { channel: "unknown channel kind" }
  }
  override get message() {
    return `No channel kind handles "${this.channel.slice(0, 64)}"`
  }
}

/** The channel does not accept this command type. */
export class UnknownCommand extends Schema.TaggedError<UnknownCommand>()("UnknownCommand", {
  channel: Schema.String,
  type: Schema.String
}) {
  readonly code = "UNKNOWN_COMMAND" as const
  get fields() {
    return { type: "unknown command type" }
  }
  override get message() {
    return `The channel does not accept "${this.type.slice(0, 64)}" commands`
  }
}

/** A command or unsubscribe for a channel the connection has not joined. */
export class ChannelNotSubscribed extends Schema.TaggedError<ChannelNotSubscribed>()("ChannelNotSubscribed", {
  channel: Schema.String
}) {
  readonly code = "CHANNEL_NOT_SUBSCRIBED" as const
  override get message() {
    return "Subscribe to the channel first"
  }
}

/** A second subscribe to the same channel on one connection. */
export class ChannelAlreadySubscribed
  extends Schema.TaggedError<ChannelAlreadySubscribed>()("ChannelAlreadySubscribed", { channel: Schema.String })
{
  readonly code = "CHANNEL_ALREADY_SUBSCRIBED" as const
  override get message() {
    return "Already subscribed to this channel"
  }
}

/** A frame other than `connect` arrived before authentication. */
export class NotConnected extends Schema.TaggedError<NotConnected>()("NotConnected", optionalDetail) {
  readonly code = "NOT_CONNECTED" as const
  override get message() {
    return this.detail ?? "Send a connect frame with an access token first"
  }
}

/** The client's protocol version is not supported. */
export class ProtocolVersionUnsupported
  extends Schema.TaggedError<ProtocolVersionUnsupported>()("ProtocolVersionUnsupported", {
    version: Schema.Number,
    supported: Schema.Array(Schema.Number)
  })
{
  readonly code = "PROTOCOL_VERSION_UNSUPPORTED" as const
  get fields() {
    return { v: `supported: ${this.supported.join(", ")}` }
  }
  override get message() {
    return `Protocol version ${this.version} is not supported`
  }
}

/** A room's mailbox is full. */
export class RoomBusy extends Schema.TaggedError<RoomBusy>()("RoomBusy", { lessonId: Schema.String }) {
  readonly code = "ROOM_BUSY" as const
  override get message() {
    return "The room is busy; retry shortly"
  }
}

/** The server ended a subscription: the caller no longer has access to the channel. */
export class SubscriptionRevoked extends Schema.TaggedError<SubscriptionRevoked>()("SubscriptionRevoked", {
  channel: Schema.String,
  reason: Schema.Literal("removed", "cancelled")
}) {
  readonly code = "SUBSCRIPTION_REVOKED" as const
  override get message() {
    return this.reason === "cancelled"
      ? "The lesson was cancelled; its room is closed"
      : "You are no longer a member of this lesson"
  }
}

/**
 * The server ended a subscription because it could not deliver the channel's events in order (the room fell
 * behind the retained log). Resubscribe with `recover` from the last position; the ack then says `reset: true`.
 */
export class ResyncRequired extends Schema.TaggedError<ResyncRequired>()("ResyncRequired", {
  channel: Schema.String
}) {
  readonly code = "RESYNC_REQUIRED" as const
  override get message() {
    return "Some events of this channel could not be delivered; resubscribe with recovery and reload on reset"
  }
}
