/**
 * The composition root: builds the application for an environment from
 * `AppConfig` — embedded PGlite or Postgres, in-memory bus or Redis, OTLP
 * export or none. Only `main.ts`, the CLI and test stacks import this file.
 */
import { Effect, Layer, Option } from "effect"
import { ChannelKinds } from "./actors/ChannelKind.ts"
import * as JobQueue from "./actors/JobQueue.ts"
import * as LessonChannel from "./actors/LessonChannel.ts"
import { LessonRooms } from "./actors/LessonRooms.ts"
import { LessonSubscribers } from "./actors/LessonSubscribers.ts"
import { PresenceTracker } from "./actors/PresenceTracker.ts"
import * as RoomCommands from "./actors/RoomCommands.ts"
import * as UserChannel from "./actors/UserChannel.ts"
import * as CallChannel from "./actors/CallChannel.ts"
import { WebRtcSessions } from "./actors/WebRtcSession.ts"
import { AppConfig } from "./layers/AppConfig.ts"
import * as Bus from "./layers/Bus.ts"
import * as Database from "./layers/Database.ts"
import * as JobWake from "./layers/JobWake.ts"
import * as PushSender from "./layers/PushSender.ts"
import { VapidKeys } from "./layers/VapidKeys.ts"
import { JwtSecret } from "./layers/JwtSecret.ts"
import * as Logging from "./layers/Logging.ts"
import * as PresenceStore from "./layers/PresenceStore.ts"
import { Migrations } from "./layers/Migrations.ts"
import { Redis } from "./layers/Redis.ts"
import * as Telemetry from "./layers/Telemetry.ts"
import * as Server from "./http/Server.ts"
import { Auth } from "./services/Auth.ts"
import { CallEvents } from "./services/CallEvents.ts"
import { CallLog } from "./services/CallLog.ts"
import { CallLogRetention } from "./services/CallLogRetention.ts"
import { Calls } from "./services/Calls.ts"
import { IceServers } from "./services/IceServers.ts"
import { FeatureFlags } from "./services/FeatureFlags.ts"
import { LessonAccess } from "./services/LessonAccess.ts"
import { Lessons } from "./services/Lessons.ts"
import { Relations } from "./services/Relations.ts"
import { RoomLog } from "./services/RoomLog.ts"
import { Board } from "./services/Board.ts"
import { BoardSnapshots } from "./services/BoardSnapshots.ts"
import { Chat } from "./services/Chat.ts"
import { JobAdmin } from "./services/JobAdmin.ts"
import { LessonReminders } from "./services/LessonReminders.ts"
import { NotificationPreferences } from "./services/NotificationPreferences.ts"
import { Notifications } from "./services/Notifications.ts"
import { PushSubscriptions } from "./services/PushSubscriptions.ts"
import { WebPush } from "./services/WebPush.ts"
import { Sync } from "./services/Sync.ts"
import { SyncChatNotices } from "./services/SyncChatNotices.ts"
import { SyncCheckpoints } from "./services/SyncCheckpoints.ts"
import { SyncClients } from "./services/SyncClients.ts"
import { SyncLessons } from "./services/SyncLessons.ts"
import * as SyncRoomLog from "./services/SyncRoomLog.ts"
import { JobRetention } from "./services/JobRetention.ts"
import { RoomRetention } from "./services/RoomRetention.ts"
import { Jobs } from "./services/Jobs.ts"
import { JobStore } from "./services/JobStore.ts"
import { Tokens } from "./services/Tokens.ts"
import { UserEvents } from "./services/UserEvents.ts"
import { Users } from "./services/Users.ts"

/** Package version, reported to tracing. */
export const version = "0.1.0"

/** Logging and tracing as configured. */
export const ObservabilityLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Layer.mergeAll(
      Logging.layer({ level: config.logLevel, format: config.logFormat }),
      Telemetry.layer({ otlpEndpoint: config.otlpEndpoint, serviceName: config.serviceName, serviceVersion: version })
    ))
)

/** Redis (when `REDIS_URL` is set) with the Bus and presence on top of it, else both in memory. */
export const MessagingLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) =>
    Option.match(config.redisUrl, {
      onNone: () => Layer.merge(Bus.layerMemory, PresenceStore.layerMemory),
      onSome: (url) =>
        Layer.merge(Bus.layerRedis, PresenceStore.layerRedis).pipe(
          Layer.provideMerge(Redis.layer({ url, keyPrefix: config.redisKeyPrefix }))
        )
    }))
)

/** The database as configured, migrated. */
export const DatabaseLive = Migrations.layer.pipe(Layer.provideMerge(Database.layer))

/** The job queue's registry, storage and administration, with its wake-up signals. */
export const QueueLive = Layer.mergeAll(Jobs.Default, JobStore.Default, JobAdmin.Default).pipe(
  Layer.provideMerge(JobWake.layer)
)

/** Web push to real push services, signed with the configured (or generated) VAPID keys. */
export const PushLive = PushSender.layerWebPush.pipe(Layer.provideMerge(VapidKeys.layer))

/** Notifications (in-app, live, web push), push subscriptions and lesson reminders. */
export const NotificationsLive = LessonReminders.Default.pipe(
  Layer.provideMerge(Notifications.Default),
  Layer.provideMerge(Layer.mergeAll(NotificationPreferences.Default, WebPush.Default.pipe(Layer.provideMerge(PushSubscriptions.Default)))),
  Layer.provide(UserEvents.Default)
)

/** Lesson rooms' durable side: the event log, chat and whiteboard. */
export const RoomsLive = Layer.mergeAll(Chat.Default, Board.Default).pipe(
  Layer.provideMerge(Layer.mergeAll(RoomLog.Default, BoardSnapshots.Default)),
  Layer.provide(LessonAccess.Default)
)

/** Offline sync: push/pull over the domain services, devices and stored checkpoints. */
export const SyncLive = Sync.Default.pipe(
  Layer.provideMerge(Layer.mergeAll(SyncClients.Default, SyncCheckpoints.Default, SyncLessons.Default)),
  Layer.provide(SyncChatNotices.Default),
  // Sync's own Chat and Board: their room events wait for the commit of the mutation (see SyncRoomLog).
  Layer.provide(
    Layer.mergeAll(Layer.fresh(Chat.Default), Layer.fresh(Board.Default)).pipe(
      Layer.provide(SyncRoomLog.layerHolding)
    )
  ),
  Layer.provide(Layer.mergeAll(RoomLog.Default, BoardSnapshots.Default, LessonAccess.Default, NotificationsLive))
)

/** The realtime channel kinds the gateway routes to (`user:`, `lesson:`; `call:` joins here). */
export const ChannelKindsLive = ChannelKinds.layer([UserChannel.make, LessonChannel.make(RoomCommands.handlers), CallChannel.make]).pipe(
  Layer.provideMerge(Layer.mergeAll(LessonRooms.Default, PresenceTracker.Default, LessonSubscribers.Default))
)

/** Lesson calls: rules and storage, ICE servers, the per-call actors, log retention. */
export const CallsLive = WebRtcSessions.Default.pipe(
  Layer.provideMerge(CallLogRetention.Default),
  Layer.provideMerge(Layer.mergeAll(Calls.Default, CallLog.Default, IceServers.Default, CallEvents.Default)),
  Layer.provide(LessonAccess.Default)
)

/** Domain services over the infrastructure, with `push` as the web push transport. */
export const servicesWith = <P, E, R>(push: Layer.Layer<P | PushSender.PushSender | VapidKeys, E, R>) =>
  ChannelKindsLive.pipe(Layer.provideMerge(Layer.mergeAll(
    Auth.Default,
    Users.Default,
    Tokens.Default,
    UserEvents.Default,
    LessonAccess.Default,
    Relations.Default,
    RoomsLive,
    // Cancelling a lesson ends its call: the same CallsLive (memoized) as below.
    Lessons.Default.pipe(Layer.provide(Layer.merge(NotificationsLive, CallsLive))),
    FeatureFlags.Default,
    JobRetention.Default,
    RoomRetention.Default,
    NotificationsLive,
    SyncLive,
    CallsLive
  ).pipe(
    Layer.provide(JwtSecret.layer),
    Layer.provideMerge(push),
    Layer.provideMerge(QueueLive)
  )))

/** Domain services over the infrastructure. */
export const ServicesLive = servicesWith(PushLive)

/** A worker pool inside this process when `WORKERS_IN_PROCESS` is on (the default). */
export const WorkersLive = Layer.unwrapEffect(
  Effect.map(AppConfig, (config) => config.jobs.inProcess ? JobQueue.layer(JobQueue.optionsFrom(config.jobs)) : Layer.empty)
)

/** Everything but the HTTP server. */
export const CoreLive = ServicesLive.pipe(
  Layer.provideMerge(Layer.mergeAll(DatabaseLive, MessagingLive))
)

/** The whole server, for `lectern serve`: HTTP and, by default, a worker pool. */
export const ServerLive = Layer.mergeAll(Server.layer, WorkersLive).pipe(
  Layer.provide(CoreLive),
  Layer.provide(ObservabilityLive),
  Layer.provide(AppConfig.layer)
)
