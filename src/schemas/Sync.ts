/**
 * Offline sync on the wire (docs/sync.md): client ids, push batches and their
 * per-mutation results, pull answers with their opaque checkpoints, the device
 * list, and the sync errors.
 */
import { Schema } from "effect"
import { BoardSnapshot } from "./Board.ts"
import { ChatMessage } from "./Chat.ts"
import { ErrorBody } from "./ErrorCode.ts"
import { LessonId, UserId } from "./Ids.ts"
import { Notification } from "./Notifications.ts"
import { RequestFields } from "./Request.ts"

/** A device's sync client id: a random UUID the device makes once. */
export const SyncClientId = Schema.String.pipe(
  Schema.pattern(/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i, { message: () => "expected a UUID" }),
  Schema.brand("SyncClientId")
).annotations({ identifier: "SyncClientId", description: "A random UUID the device makes once and keeps" })
/** @see SyncClientId */
export type SyncClientId = typeof SyncClientId.Type

/** Most mutations one push may carry. */
export const maxPushMutations = 100

/** A mutation id: positive, strictly increasing per client. */
export const MutationId = Schema.Number.pipe(
  Schema.int({ message: () => "expected a whole number" }),
  Schema.between(1, Number.MAX_SAFE_INTEGER, { message: () => "expected a positive whole number" })
).annotations({ description: "Strictly increasing per client (gaps allowed)" })

const Name = Schema.String.pipe(Schema.pattern(/^[a-z][a-z0-9_.-]{0,39}$/, { message: () => "expected a short lowercase name" }))

/** One queued change of a device; `args` are decoded by the entity's handler. */
export const Mutation = RequestFields({
  id: MutationId,
  entity: Name.annotations({ description: "chat | board | notification" }),
  op: Name.annotations({ description: "chat: create | edit | delete; board: apply; notification: read" }),
  args: Schema.Unknown
})
/** @see Mutation */
export type Mutation = typeof Mutation.Type

/** What the device says about itself (shown in the device list). */
export const DeviceInfo = RequestFields({
  name: Schema.optional(Schema.String.pipe(Schema.maxLength(100, { message: () => "at most 100 characters" }))),
  platform: Schema.optional(Schema.String.pipe(Schema.maxLength(40, { message: () => "at most 40 characters" })))
})

/** `POST /sync/push`. */
export class PushRequest extends Schema.Class<PushRequest>("PushRequest")(RequestFields({
  clientId: SyncClientId,
  device: Schema.optional(DeviceInfo),
  mutations: Schema.Array(Mutation).pipe(
    Schema.minItems(1, { message: () => "at least one mutation" }),
    Schema.maxItems(maxPushMutations, { message: () => `at most ${maxPushMutations} mutations per push` })
  )
})) {}

/** The mutation took effect; `version` is the room sequence number of the event it produced, if any. */
export const MutationApplied = Schema.Struct({
  id: Schema.Number,
  status: Schema.Literal("applied"),
  version: Schema.optional(Schema.Number),
  result: Schema.optional(Schema.Unknown)
})
/** Processed by an earlier push (or already true); nothing happened now. */
export const MutationDuplicate = Schema.Struct({ id: Schema.Number, status: Schema.Literal("duplicate") })
/** Not applied: the server's state moved on; here is its current value. */
export const MutationConflict = Schema.Struct({
  id: Schema.Number,
  status: Schema.Literal("conflict"),
  version: Schema.Number,
  server: Schema.Unknown
})
/** Refused with an error code; changed nothing. */
export const MutationRejected = Schema.Struct({ id: Schema.Number, status: Schema.Literal("rejected"), error: ErrorBody })

/** The outcome of one pushed mutation. */
export const MutationResult = Schema.Union(MutationApplied, MutationDuplicate, MutationConflict, MutationRejected)
  .annotations({ identifier: "MutationResult" })
/** @see MutationResult */
export type MutationResult = typeof MutationResult.Type

/** The answer to a push. */
export class PushResponse extends Schema.Class<PushResponse>("PushResponse")({
  /** Every mutation of this client up to this id has been processed. */
  lastMutationId: Schema.Number,
  results: Schema.Array(MutationResult)
}) {}

/** An opaque pull checkpoint. */
export const Checkpoint = Schema.String.pipe(
  Schema.minLength(1),
  Schema.maxLength(512, { message: () => "checkpoint too long" })
).annotations({ description: "Opaque checkpoint from the previous pull (absent on the first pull)" })

/** Query of `GET /sync/pull`. */
export const PullParams = RequestFields({ clientId: SyncClientId, checkpoint: Schema.optional(Checkpoint) })

/** A durable room event, as a pull returns it (the same as the live `lesson:<id>` events). */
export const SyncRoomEvent = Schema.Struct({
  seq: Schema.Number,
  type: Schema.String,
  data: Schema.Unknown,
  at: Schema.DateTimeUtc
}).annotations({ identifier: "SyncRoomEvent" })

/** What changed in one lesson. */
export const LessonChanges = Schema.Struct({
  lessonId: LessonId,
  /** The lesson log's epoch and the position the device is at after this answer. */
  epoch: Schema.String,
  seq: Schema.Number,
  /** true: replace the local copy of this lesson with `board` and `chat` (new to the device, or the gap is gone). */
  reset: Schema.Boolean,
  /** Events after the checkpoint's position, in order (empty on reset). */
  events: Schema.Array(SyncRoomEvent),
  /** On reset: the board snapshot (consistent with `seq`). */
  board: Schema.optional(BoardSnapshot),
  /** On reset: the newest chat messages, newest first (older ones: the chat history route). */
  chat: Schema.optional(Schema.Array(ChatMessage))
}).annotations({ identifier: "LessonChanges" })

/** The answer to a pull. */
export class PullResponse extends Schema.Class<PullResponse>("PullResponse")({
  /** Send it with the next pull. */
  checkpoint: Schema.String,
  /** true: drop every local copy and take this answer as the whole state. */
  reset: Schema.Boolean,
  /** Every mutation of this client up to this id is reflected in this answer. */
  lastMutationId: Schema.Number,
  lessons: Schema.Array(LessonChanges),
  /** Lessons no longer visible: delete their local copies. */
  removedLessons: Schema.Array(LessonId),
  /** Notifications created or changed since the checkpoint. */
  notifications: Schema.Array(Notification),
  /** true: more changes are waiting; pull again with the new checkpoint. */
  hasMore: Schema.Boolean
}) {}

/** A device of a user, as the device list shows it. */
export class SyncDevice extends Schema.Class<SyncDevice>("SyncDevice")({
  clientId: SyncClientId,
  userId: UserId,
  name: Schema.String,
  platform: Schema.String,
  lastMutationId: Schema.Number,
  createdAt: Schema.DateTimeUtc,
  lastSeenAt: Schema.DateTimeUtc,
  lastPushAt: Schema.NullOr(Schema.DateTimeUtc),
  lastPullAt: Schema.NullOr(Schema.DateTimeUtc),
  revokedAt: Schema.NullOr(Schema.DateTimeUtc)
}) {}

/** `GET /sync/devices`. */
export class SyncDevices extends Schema.Class<SyncDevices>("SyncDevices")({ items: Schema.Array(SyncDevice) }) {}

/** Query of `GET /sync/devices`. */
export const DeviceListParams = RequestFields({
  userId: Schema.optional(UserId).annotations({ description: "Admins only: another user's devices" })
})

const optionalDetail = { detail: Schema.optional(Schema.String) }

/** The checkpoint is forged, malformed or belongs to another client. */
export class InvalidCheckpoint extends Schema.TaggedError<InvalidCheckpoint>()("InvalidCheckpoint", optionalDetail) {
  readonly code = "INVALID_CHECKPOINT" as const
  readonly fields = { checkpoint: "forged, malformed or issued to another device" }
  override get message() {
    return this.detail ?? "The checkpoint is not valid for this device; pull without one to start over"
  }
}

/** The mutation ids of a batch do not strictly increase. */
export class SyncMutationOrder extends Schema.TaggedError<SyncMutationOrder>()("SyncMutationOrder", {
  ...optionalDetail,
  fields: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) })
}) {
  readonly code = "SYNC_MUTATION_ORDER" as const
  override get message() {
    return this.detail ?? "Mutation ids must strictly increase within a push"
  }
}

/** A mutation names an unknown entity or operation. */
export class SyncUnknownMutation extends Schema.TaggedError<SyncUnknownMutation>()("SyncUnknownMutation", {
  entity: Schema.optional(Schema.String),
  op: Schema.optional(Schema.String)
}) {
  readonly code = "SYNC_UNKNOWN_MUTATION" as const
  get fields() {
    return { entity: `unknown mutation ${this.entity ?? "?"}/${this.op ?? "?"}` }
  }
  override get message() {
    return `Unknown mutation ${this.entity ?? "?"}/${this.op ?? "?"}`
  }
}

/** The device was revoked. */
export class SyncClientRevoked extends Schema.TaggedError<SyncClientRevoked>()("SyncClientRevoked", optionalDetail) {
  readonly code = "SYNC_CLIENT_REVOKED" as const
  override get message() {
    return this.detail ?? "This device was revoked; drop the local store and start over with a new client id"
  }
}

/** No such device visible to the caller. */
export class SyncClientNotFound extends Schema.TaggedError<SyncClientNotFound>()("SyncClientNotFound", optionalDetail) {
  readonly code = "SYNC_CLIENT_NOT_FOUND" as const
  override get message() {
    return this.detail ?? "No device with this client id is visible to you"
  }
}

/** The client id belongs to another account. */
export class SyncClientTaken extends Schema.TaggedError<SyncClientTaken>()("SyncClientTaken", optionalDetail) {
  readonly code = "SYNC_CLIENT_TAKEN" as const
  readonly fields = { clientId: "registered to another account" }
  override get message() {
    return this.detail ?? "This client id belongs to another account; make a new one"
  }
}
