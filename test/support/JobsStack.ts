/**
 * Stacks for job, notification and push tests: the usual test stack plus a
 * worker pool (the one `lectern serve` runs in-process), optionally the HTTP
 * server, and either the recording push sender or real web push.
 */
import { Duration, Layer, Logger, LogLevel } from "effect"
import { DatabaseLive, MessagingLive, PushLive, servicesWith, WorkersLive } from "../../src/App.ts"
import type { AppConfig, AppConfigShape, JobsConfig } from "../../src/layers/AppConfig.ts"
import * as PushSender from "../../src/layers/PushSender.ts"
import { VapidKeys } from "../../src/layers/VapidKeys.ts"
import * as Server from "../../src/http/Server.ts"
import { testConfig } from "./TestStack.ts"

/** Job settings for tests: a small, quick pool. */
export const testJobsConfig = (overrides: Partial<JobsConfig> = {}): JobsConfig => ({
  inProcess: true,
  concurrency: 4,
  batchSize: 10,
  pollInterval: Duration.millis(500),
  lease: Duration.seconds(30),
  shutdownTimeout: Duration.seconds(2),
  retention: Duration.days(7),
  deadRetention: Duration.days(30),
  pruneCron: "*/15 * * * *",
  ...overrides
})

/** The recording push sender with fresh VAPID keys. */
export const recordingPush = Layer.merge(PushSender.layerRecording, VapidKeys.layerTest)

/** What a stack contains. */
export interface JobsStackOptions {
  readonly config?: Partial<AppConfigShape>
  /** Run the HTTP server on a random loopback port. */
  readonly server?: boolean
  /** Run an in-process worker pool (default true). */
  readonly workers?: boolean
}

/** Database, messaging, services over the `push` transport, and optionally workers and HTTP. */
export const jobsStackWith = <P, E>(
  push: Layer.Layer<P | PushSender.PushSender | VapidKeys, E, AppConfig>,
  options: JobsStackOptions = {}
) => {
  const core = servicesWith(push).pipe(
    Layer.provideMerge(Layer.mergeAll(DatabaseLive, MessagingLive)),
    Layer.provideMerge(testConfig({ jobs: testJobsConfig(), ...options.config }))
  )
  const top = Layer.mergeAll(
    options.server === true ? Server.layerTest : Layer.empty,
    options.workers === false ? Layer.empty : WorkersLive
  )
  return Layer.fresh(top.pipe(Layer.provideMerge(core), Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))))
}

/** {@link jobsStackWith} the recording push sender (`PushRecorder` tells what was sent). */
export const jobsStack = (options: JobsStackOptions = {}) => jobsStackWith(recordingPush, options)

/** {@link jobsStackWith} real web push. */
export const webPushStack = (options: JobsStackOptions = {}) => jobsStackWith(PushLive, options)
