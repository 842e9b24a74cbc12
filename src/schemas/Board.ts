/**
 * The lesson whiteboard on the wire: ops (add/update/delete one element, with an
 * idempotency key and an optional base version), elements with their
 * last-writer-wins version, snapshots, deltas, the timeline, and imports.
 * Props are JSON values, size-limited; their keys are user data and never rewritten.
 */
import { Schema } from "effect"
import { LessonId, UserId } from "./Ids.ts"
import { Cursor, Limit, Page } from "./Pagination.ts"
import { RequestFields } from "./Request.ts"
import { ClientId } from "./Chat.ts"

/** The largest props object of one element, in bytes of JSON. */
export const maxPropsBytes = 16_384
/** The most elements one import may carry. */
export const maxImportElements = 5_000

/** A JSON value (what element props may hold). */
export type Json = null | boolean | number | string | ReadonlyArray<Json> | { readonly [key: string]: Json }
export const Json: Schema.Schema<Json> = Schema.Union(
  Schema.Null,
  Schema.Boolean,
  Schema.Finite,
  Schema.String,
  Schema.Array(Schema.suspend((): Schema.Schema<Json> => Json)),
  Schema.Record({ key: Schema.String, value: Schema.suspend((): Schema.Schema<Json> => Json) })
).annotations({ identifier: "JsonValue", description: "Any JSON value" })

const jsonBytes = (value: unknown) => Buffer.byteLength(JSON.stringify(value), "utf8")

/** An element's properties (shape, position, colour …): a JSON object of at most 16 KiB. */
export const Props = Schema.Record({ key: Schema.String, value: Json }).pipe(
  Schema.filter((props) => jsonBytes(props) <= maxPropsBytes || `at most ${maxPropsBytes} bytes of JSON`)
).annotations({
  identifier: "BoardProps",
  examples: [{ type: "rect", x: 10, y: 20, w: 120, h: 80, stroke: "#1d4ed8" }]
})
/** @see Props */
export type Props = typeof Props.Type

/** A board element's id, chosen by the client that adds it (never reused within a board). */
export const ElementId = Schema.String.pipe(
  Schema.pattern(/^[A-Za-z0-9_.:-]{1,128}$/, { message: () => "1–128 characters of A–Z a–z 0–9 _ . : -" })
).annotations({ examples: ["el-4f9c2a"] })

/** What an op does to its element. */
export const OpKind = Schema.Literal("add", "update", "delete")
/** @see OpKind */
export type OpKind = typeof OpKind.Type

/**
 * One board op. `update` merges `props` into the element's (a key set to null is
 * removed); `baseVersion` is the element version the client last saw: an update
 * or delete based on an older version that another author has changed since is
 * a conflict.
 */
export const BoardOp = RequestFields({
  kind: OpKind,
  elementId: ElementId,
  props: Schema.optional(Props).annotations({ description: "Required for add and update" }),
  clientOpId: Schema.optional(ClientId).annotations({ description: "Idempotency key of the op (per author)" }),
  baseVersion: Schema.optional(Schema.Int.pipe(Schema.nonNegative()))
}).pipe(
  Schema.filter((op) => op.kind === "delete" || op.props !== undefined || { path: ["props"], message: "is required" })
).annotations({ identifier: "BoardOp" })
/** @see BoardOp */
export type BoardOp = typeof BoardOp.Type

/** A live element of the board. */
export class BoardElement extends Schema.Class<BoardElement>("BoardElement")({
  id: Schema.String,
  props: Schema.Record({ key: Schema.String, value: Schema.Unknown }),
  /** The room seq of the op that last changed it (its last-writer-wins clock) */
  version: Schema.Int,
  updatedBy: UserId,
  updatedAt: Schema.DateTimeUtc
}) {}

/** Result of applying an op. */
export const ApplyOutcome = Schema.Literal("applied", "duplicate", "conflict")
export const ApplyResult = Schema.Struct({
  outcome: ApplyOutcome,
  /** applied: the op's room seq; duplicate: the first application's; conflict: the element's current version (0 if none) */
  version: Schema.Int,
  /** The element as the server now has it (null when absent or deleted) */
  element: Schema.NullOr(BoardElement)
}).annotations({ identifier: "BoardApplyResult" })
/** @see ApplyResult */
export type ApplyResult = typeof ApplyResult.Type

/** The whole board at a room position: apply room events after `version` to stay current. */
export const BoardSnapshot = Schema.Struct({
  lessonId: LessonId,
  /** The room seq this snapshot is consistent with */
  version: Schema.Int,
  elements: Schema.Array(BoardElement)
}).annotations({ identifier: "BoardSnapshot" })
/** @see BoardSnapshot */
export type BoardSnapshot = typeof BoardSnapshot.Type

/** One stored op, as the timeline and deltas show it. */
export const BoardOpRecord = Schema.Struct({
  version: Schema.Int,
  kind: Schema.Literal("add", "update", "delete", "import"),
  /** "*" for an import */
  elementId: Schema.String,
  /** The op's props (an import: its strategy and counts) */
  props: Schema.NullOr(Schema.Record({ key: Schema.String, value: Schema.Unknown })),
  authorId: UserId,
  authorName: Schema.String,
  clientOpId: Schema.NullOr(Schema.String),
  at: Schema.DateTimeUtc
}).annotations({ identifier: "BoardOpRecord" })
/** @see BoardOpRecord */
export type BoardOpRecord = typeof BoardOpRecord.Type

/** Ops after a version, oldest first. */
export const BoardOps = Schema.Struct({
  ops: Schema.Array(BoardOpRecord),
  /** Pass as `sinceVersion` for the next page (or to poll later) */
  nextSinceVersion: Schema.Int,
  hasMore: Schema.Boolean,
  /** True when a snapshot import happened after `sinceVersion`: reload the snapshot instead (ops is then empty) */
  snapshotRequired: Schema.Boolean
}).annotations({ identifier: "BoardOps" })
/** @see BoardOps */
export type BoardOps = typeof BoardOps.Type

/** Query of `GET …/board/ops`. */
export const BoardOpsParams = RequestFields({
  sinceVersion: Schema.NumberFromString.pipe(Schema.int(), Schema.nonNegative()).annotations({
    description: "Room seq the client's board is at (0 = from the beginning)",
    message: () => ({ message: "expected a whole number ≥ 0", override: true })
  }),
  limit: Schema.optional(Limit)
})
/** @see BoardOpsParams */
export type BoardOpsParams = typeof BoardOpsParams.Type

/** Paging of the timeline (newest first). */
export const BoardTimelineParams = RequestFields({ cursor: Schema.optional(Cursor), limit: Schema.optional(Limit) })
/** @see BoardTimelineParams */
export type BoardTimelineParams = typeof BoardTimelineParams.Type

/** A page of the timeline, newest first. */
export const BoardTimelinePage = Page(BoardOpRecord).annotations({ identifier: "BoardTimelinePage" })

/** One element of an import. */
export const ImportElement = Schema.Struct({
  id: ElementId,
  props: Props,
  version: Schema.optional(Schema.Int.pipe(Schema.nonNegative())).annotations({
    description: "The version it had in the exported snapshot (merge keeps a server element changed after it)"
  })
})

/** How an import combines with the board. */
export const ImportStrategy = Schema.Literal("replace", "merge").annotations({
  description: "replace: the board becomes exactly the import; merge: per element, last writer wins"
})

/** Import a snapshot. */
export const ImportSnapshotRequest = RequestFields({
  strategy: ImportStrategy,
  elements: Schema.Array(ImportElement).pipe(
    Schema.maxItems(maxImportElements, { message: () => `at most ${maxImportElements} elements` })
  )
}).annotations({ identifier: "ImportSnapshotRequest" })
/** @see ImportSnapshotRequest */
export type ImportSnapshotRequest = typeof ImportSnapshotRequest.Type

/** What an import changed. */
export const ImportResult = Schema.Struct({
  /** The import's room seq (the version of every element it wrote) */
  version: Schema.Int,
  written: Schema.Int,
  removed: Schema.Int,
  /** merge: imported elements skipped because the server's were newer */
  kept: Schema.Int
}).annotations({ identifier: "BoardImportResult" })
/** @see ImportResult */
export type ImportResult = typeof ImportResult.Type

/** The board holds `limit` live elements: no more can be added. */
export class BoardFull extends Schema.TaggedError<BoardFull>()("BoardFull", {
  limit: Schema.optional(Schema.Int)
}) {
  readonly code = "BOARD_FULL" as const
  override get message() {
    return `The board is full (at most ${this.limit ?? "the maximum number of"} elements); delete some first`
  }
}

/** The import cannot be used as a board (duplicate element ids). */
export class BoardSnapshotInvalid extends Schema.TaggedError<BoardSnapshotInvalid>()("BoardSnapshotInvalid", {
  fields: Schema.optionalWith(Schema.Record({ key: Schema.String, value: Schema.String }), { default: () => ({}) })
}) {
  readonly code = "BOARD_SNAPSHOT_INVALID" as const
  override get message() {
    return "The board snapshot cannot be imported"
  }
}
