/**
 * The cron loop of a worker pool: one fiber per registered schedule sleeps (on
 * the Effect `Clock`) until the schedule's next tick, then tries to take the
 * tick. The compare-and-set in `JobStore.runTick` lets exactly one process
 * enqueue the tick's job, however many pools run schedules.
 */
import { Clock, Cron, DateTime, Duration, Effect } from "effect"
import { JobStore } from "../services/JobStore.ts"
import { type CronSchedule, Jobs } from "../services/Jobs.ts"

/** Ticks `schedule` forever, starting from the next tick after now. */
export const runSchedule = (schedule: CronSchedule) =>
  Effect.gen(function*() {
    const store = yield* JobStore
    let last = new Date(yield* Clock.currentTimeMillis)
    while (true) {
      const next = Cron.next(schedule.cron, last)
      const now = yield* Clock.currentTimeMillis
      yield* Effect.sleep(Duration.millis(Math.max(0, next.getTime() - now)))
      const tick = DateTime.unsafeMake(next)
      const won = yield* store.runTick(schedule, tick).pipe(
        Effect.tapError((e) => Effect.logWarning("cron tick not taken: database unavailable", e)),
        Effect.orElseSucceed(() => false)
      )
      if (won) {
        yield* Effect.logDebug("cron tick enqueued").pipe(
          Effect.annotateLogs({ schedule: schedule.name, tick: DateTime.formatIso(tick) })
        )
      }
      last = next
    }
  }).pipe(Effect.annotateLogs({ schedule: schedule.name }))

/** Every registered schedule, concurrently. */
export const runSchedules = Effect.gen(function*() {
  const jobs = yield* Jobs
  const schedules = yield* jobs.schedules
  yield* Effect.forEach(schedules, runSchedule, { concurrency: "unbounded", discard: true })
  return yield* Effect.never
})
