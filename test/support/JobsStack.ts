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
  /** Run an in-process worker pool (default true). */
  readonly workers?: boolean
}

const quiet = Layer.provide(Logger.minimumLogLevel(LogLevel.Warning))

const coreWith = <P, E>(push: Layer.Layer<P | PushSender.PushSender | VapidKeys, E, AppConfig>, options: JobsStackOptions) =>
  servicesWith(push).pipe(
    Layer.provideMerge(Layer.mergeAll(DatabaseLive, MessagingLive)),
    Layer.provideMerge(testConfig({ jobs: testJobsConfig(), ...options.config }))
  )

const workers = (options: JobsStackOptions) => (options.workers === false ? Layer.empty : WorkersLive)

/** Database, messaging, services with the recording push sender (`PushRecorder` tells what was sent), workers. */
export const jobsStack = (options: JobsStackOptions = {}) =>
  Layer.fresh(quiet(workers(options).pipe(Layer.provideMerge(coreWith(recordingPush, options)))))

/** The same with the HTTP server on a random loopback port. */
export const jobsServerStack = (options: JobsStackOptions = {}) =>
  Layer.fresh(quiet(Layer.mergeAll(Server.layerTest, workers(options)).pipe(
    Layer.provideMerge(coreWith(recordingPush, options))
  )))

/** The HTTP server and workers over real web push. */
export const webPushServerStack = (options: JobsStackOptions = {}) =>
  Layer.fresh(quiet(Layer.mergeAll(Server.layerTest, workers(options)).pipe(Layer.provideMerge(coreWith(PushLive, options)))))
