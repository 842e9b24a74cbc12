/**
 * The room event log on the wire and on the Bus: a durable event numbered by
 * its lesson's `seq` within an `epoch`, a position a client holds, and what a
 * recovery from a position yields (the missed events, or "reload").
 */
import { Schema } from "effect"
import { LessonId } from "./Ids.ts"

/** A place in a lesson's log: the last event seen. `seq` 0 = before the first event. */
export const RoomPosition = Schema.Struct({
  epoch: Schema.String.pipe(Schema.maxLength(64)),
  seq: Schema.Int.pipe(Schema.nonNegative())
}).annotations({ identifier: "RoomPosition" })
/** @see RoomPosition */
export type RoomPosition = typeof RoomPosition.Type

/**
 * One room event. Durable events have `seq` ≥ 1 and the log's epoch; ephemeral
 * ones (typing, presence) have `seq` 0 and epoch "". `data` is JSON-compatible.
 */
export interface RoomEvent {
  readonly lessonId: LessonId
  readonly epoch: string
  readonly seq: number
  readonly type: string
  readonly data: unknown
  readonly at: Date
  /**
   * W3C `traceparent` of the span that published the event, when it came over the
   * Bus: a room's fan-out on any process continues the publisher's trace.
   */
  readonly traceParent?: string | undefined
}

/** A room event as carried on the Bus (plain msgpack): `at` is epoch milliseconds. */
export const RoomEventWire = Schema.Struct({
  lessonId: LessonId,
  epoch: Schema.String,
  seq: Schema.Int.pipe(Schema.nonNegative()),
  type: Schema.String,
  data: Schema.Unknown,
  at: Schema.DateFromNumber,
  // Optional both ways: publishers and followers of older builds neither send nor expect it.
  traceParent: Schema.optional(Schema.String.pipe(Schema.maxLength(128)))
})

/** What a recovery from a position yields. */
export type Recovery =
  /** every durable event strictly after the position, in seq order (possibly none) */
  | { readonly _tag: "Events"; readonly events: ReadonlyArray<RoomEvent> }
  /** the gap cannot be replayed (other epoch, too far behind, ahead of the log): reload snapshot and history from here */
  | { readonly _tag: "Reset"; readonly epoch: string; readonly seq: number }

/** Bus channel (and realtime channel) of a lesson room. */
export const lessonChannel = (lessonId: LessonId) => `lesson:${lessonId}`
