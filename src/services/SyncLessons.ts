/**
 * The lesson side of sync: the chat and board mutation handlers and the lesson
 * part of a pull. Lesson chat and board are served by the room event log, which
 * lands with the realtime data services; until then a pull carries no lessons.
 */
import { Effect } from "effect"
import type { LessonId } from "../schemas/Ids.ts"
import type { LessonChanges } from "../schemas/Sync.ts"
import type { LogPosition } from "./SyncCheckpoints.ts"
import type { MutationHandler, SyncActor } from "./SyncMutation.ts"

/** The lesson part of a pull. */
export interface LessonPart {
  readonly lessons: ReadonlyArray<typeof LessonChanges.Type>
  readonly removed: ReadonlyArray<LessonId>
  /** The positions to store in the new checkpoint. */
  readonly positions: Readonly<Record<string, LogPosition>>
  readonly more: boolean
}

/** Lesson chat and board for sync. */
export class SyncLessons extends Effect.Service<SyncLessons>()("lectern/SyncLessons", {
  succeed: {
    handlers: [] as ReadonlyArray<MutationHandler>,
    changes: (_actor: SyncActor, _since: Readonly<Record<string, LogPosition>> | undefined) =>
      Effect.succeed<LessonPart>({ lessons: [], removed: [], positions: {}, more: false })
  }
}) {}
