/**
 * Retention of the call signaling log: the `calls.prune-log` job, hourly, deletes
 * entries older than `CALL_LOG_RETENTION` (sessions and participants stay; they
 * are small and lessons refer to them).
 */
import { Effect, Schema } from "effect"
import { CallLog } from "./CallLog.ts"
import { Jobs } from "./Jobs.ts"

/** The log retention job and its schedule. */
export class CallLogRetention extends Effect.Service<CallLogRetention>()("lectern/CallLogRetention", {
  effect: Effect.gen(function*() {
    const jobs = yield* Jobs
    const log = yield* CallLog
    const prune = log.prune.pipe(
      Effect.tap((deleted) =>
        deleted > 0 ? Effect.logInfo("pruned call signaling log").pipe(Effect.annotateLogs({ deleted })) : Effect.void
      )
    )
    const job = yield* jobs.registerJob("calls.prune-log", Schema.Struct({}), () => prune, {
      queue: "maintenance",
      maxAttempts: 3,
      timeout: "10 minutes"
    })
    yield* jobs.schedule("calls.prune-log", "23 * * * *", job, {})
    return { prune } as const
  })
}) {}
