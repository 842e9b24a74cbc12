/**
 * Every migration, in order. Imported statically (not read from disk) so the same
 * list works under tsx, the compiled `dist/` and Deno. Append only.
 */
import accounts from "./0001_accounts.ts"
import lessonsFlags from "./0002_lessons_flags.ts"
import jobsNotifications from "./0005_jobs_notifications.ts"
import realtime from "./0006_realtime.ts"
import calls from "./0007_calls.ts"
import sync from "./0008_sync.ts"
import callEndLessonCancelled from "./0009_call_end_lesson_cancelled.ts"

/** Migration name (`<id>_<name>`) → migration. */
export const migrations = {
  "0001_accounts": accounts,
  "0002_lessons_flags": lessonsFlags,
  "0005_jobs_notifications": jobsNotifications,
  "0006_realtime": realtime,
  "0007_calls": calls,
  "0008_sync": sync,
  "0009_call_end_lesson_cancelled": callEndLessonCancelled
}
