/** Offline sync variables (docs/sync.md): checkpoint age and how far a pull replays. */
import { Config, type Duration } from "effect"
import { duration, integerIn } from "./Variables.ts"

/** Offline sync settings. */
export interface SyncConfig {
  /** A pull checkpoint older than this gets a reset answer. */
  readonly checkpointMaxAge: Duration.Duration
  /** A lesson further behind than this many room events is reset (snapshot) instead of replayed (at most RoomLog's recovery cap). */
  readonly pullEventsLimit: number
}

export const syncConfig: Config.Config<SyncConfig> = Config.all({
  checkpointMaxAge: duration("SYNC_CHECKPOINT_MAX_AGE", "30 days"),
  pullEventsLimit: integerIn("SYNC_PULL_EVENTS_LIMIT", 10, 1_000, 500)
})
