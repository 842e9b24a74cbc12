/**
 * Retention of the queue's history: the `jobs.prune` job, on the `JOBS_PRUNE_CRON`
 * schedule, deletes completed and cancelled jobs after `JOBS_RETENTION` and dead
 * ones after `JOBS_DEAD_RETENTION` (their run logs go with them), in bounded
 * chunks so no statement holds locks for long.
 */
import { SqlClient } from "@effect/sql"
import { Duration, Effect, Schema } from "effect"
import { AppConfig } from "../layers/AppConfig.ts"
import { storeCall } from "../layers/SqlErrors.ts"
import { Jobs } from "./Jobs.ts"

const chunk = 5_000

/** The retention job and its schedule. */
export class JobRetention extends Effect.Service<JobRetention>()("lectern/JobRetention", {
  effect: Effect.gen(function*() {
    const sql = yield* SqlClient.SqlClient
    const jobs = yield* Jobs
    const config = yield* AppConfig
    const retentionMs = Duration.toMillis(config.jobs.retention)
    const deadMs = Duration.toMillis(config.jobs.deadRetention)

    const pruneChunk = sql<{ readonly id: string }>`
      WITH doomed AS (
        SELECT id FROM jobs
        WHERE finished_at IS NOT NULL AND (
          (state IN ('completed', 'cancelled') AND finished_at < now() - ${retentionMs} * interval '1 millisecond')
          OR (state = 'dead' AND finished_at < now() - ${deadMs} * interval '1 millisecond'))
        ORDER BY finished_at
        LIMIT ${chunk}
        FOR UPDATE SKIP LOCKED
      ), runs AS (
        DELETE FROM job_runs USING doomed WHERE job_runs.job_id = doomed.id
      )
      DELETE FROM jobs USING doomed WHERE jobs.id = doomed.id
      RETURNING jobs.id`.pipe(Effect.map((rows) => rows.length), storeCall)

    /** Deletes finished jobs past their retention; returns how many. */
    const prune = Effect.gen(function*() {
      let total = 0
      while (true) {
        const deleted = yield* pruneChunk
        total += deleted
        if (deleted < chunk) break
      }
      if (total > 0) yield* Effect.logInfo("pruned finished jobs").pipe(Effect.annotateLogs({ deleted: total }))
      return total
    }).pipe(Effect.withSpan("JobRetention.prune"))

    const job = yield* jobs.registerJob("jobs.prune", Schema.Struct({}), () => prune, {
      queue: "maintenance",
      maxAttempts: 3,
      timeout: "10 minutes"
    })
    yield* jobs.schedule("jobs.prune", config.jobs.pruneCron, job, {})
    return { prune } as const
  })
}) {}
