/** The contract of offline sync (`/api/v1/sync/*`); the protocol is in docs/sync.md. */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import {
  DeviceListParams,
  InvalidCheckpoint,
  PullParams,
  PullResponse,
  PushRequest,
  PushResponse,
  SyncClientId,
  SyncClientNotFound,
  SyncClientRevoked,
  SyncClientTaken,
  SyncDevice,
  SyncDevices,
  SyncMutationOrder
} from "../../schemas/Sync.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"
import { ids, withExamples } from "./Examples.ts"

const ClientIdPath = HttpApiSchema.param("clientId", SyncClientId)

const revoked = httpError(SyncClientRevoked, "SYNC_CLIENT_REVOKED")
const taken = httpError(SyncClientTaken, "SYNC_CLIENT_TAKEN")

const clientId = "0e1f2a3b-4c5d-4e6f-8a9b-0c1d2e3f4a5b"
const device = {
  clientId,
  userId: ids.student,
  name: "Grace's phone",
  platform: "ios",
  lastMutationId: 43,
  createdAt: "2026-05-20T10:00:00.000Z",
  lastSeenAt: "2026-06-01T15:20:00.000Z",
  lastPushAt: "2026-06-01T15:20:00.000Z",
  lastPullAt: "2026-06-01T15:19:58.000Z",
  revokedAt: null
}

/** Offline sync: push queued mutations, pull changes since a checkpoint, and the device list. */
export class SyncApi extends HttpApiGroup.make("sync")
  .add(
    HttpApiEndpoint.post("push", "/push")
      .setPayload(PushRequest)
      .addSuccess(PushResponse)
      .addError(httpError(SyncMutationOrder, "SYNC_MUTATION_ORDER"))
      .addError(revoked)
      .addError(taken)
      .annotate(OpenApi.Summary, "Apply a device's queued mutations, in order, each exactly once")
      .annotate(
        OpenApi.Description,
        "Mutations (1–100) carry strictly increasing ids per client; each is applied in its own transaction " +
          "that also records its id, so a retried push answers `duplicate` for what was already processed. " +
          "Each result is `applied`, `duplicate`, `conflict` (with the server's version and value) or " +
          "`rejected` (with an error code; nothing of it was applied). A batch whose ids do not increase " +
          "answers 400 SYNC_MUTATION_ORDER and changes nothing. Entities: chat (create, edit, delete), " +
          "board (apply), notification (read) — see docs/sync.md."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          request: {
            clientId,
            device: { name: "Grace's phone", platform: "ios" },
            mutations: [
              { id: 42, entity: "chat", op: "create", args: { lessonId: ids.lesson, clientMessageId: "c-42", body: "Is (b) 3/4?" } },
              { id: 43, entity: "notification", op: "read", args: { notificationId: "3b8f6c1e-2d4a-4f5b-9c6d-7e8f9a0b1c2d" } }
            ]
          },
          responses: {
            200: {
              lastMutationId: 43,
              results: [{ id: 42, status: "applied", version: 18 }, { id: 43, status: "duplicate" }]
            }
          }
        })
      )
  )
  .add(
    HttpApiEndpoint.get("pull", "/pull")
      .setUrlParams(PullParams)
      .addSuccess(PullResponse)
      .addError(httpError(InvalidCheckpoint, "INVALID_CHECKPOINT"))
      .addError(revoked)
      .addError(taken)
      .annotate(OpenApi.Summary, "What changed for this device since its checkpoint")
      .annotate(
        OpenApi.Description,
        "Returns the room events of the caller's lessons after the checkpoint's positions, the caller's " +
          "notifications changed since it, the client's last processed mutation id and a new opaque checkpoint. " +
          "Without a checkpoint, or with one whose stored positions are gone or too old, the answer is a " +
          "`reset` (the whole state). A forged checkpoint or another device's answers 400 INVALID_CHECKPOINT."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          responses: {
            200: {
              checkpoint: "eyJ2IjoxLCJjIjoiMGUxZjJhM2IiLCJnIjo3fQ.k3Jx1Q",
              reset: false,
              lastMutationId: 43,
              lessons: [{
                lessonId: ids.lesson,
                epoch: "k2x9v1",
                seq: 18,
                reset: false,
                events: [{
                  seq: 18,
                  type: "chat.created",
                  data: { id: "c9a8b7d6-5e4f-4a3b-9c2d-1e0f9a8b7c6d", body: "Is (b) 3/4?" },
                  at: "2026-06-01T15:20:00.000Z"
                }]
              }],
              removedLessons: [],
              notifications: [],
              hasMore: false
            }
          }
        })
      )
  )
  .add(
    HttpApiEndpoint.get("devices", "/devices")
      .setUrlParams(DeviceListParams)
      .addSuccess(SyncDevices)
      .annotate(OpenApi.Summary, "My sync devices, most recently seen first")
      .annotate(
        OpenApi.Description,
        "Every client id that pushed or pulled for the caller, with its last-seen time and last mutation id. " +
          "Admins may pass `userId` to list another user's devices (anyone else: 403 FORBIDDEN)."
      )
      .annotate(OpenApi.Transform, withExamples({ responses: { 200: { items: [device] } } }))
  )
  .add(
    HttpApiEndpoint.del("revoke")`/devices/${ClientIdPath}`
      .addSuccess(SyncDevice)
      .addError(httpError(SyncClientNotFound, "SYNC_CLIENT_NOT_FOUND"))
      .annotate(OpenApi.Summary, "Revoke a sync device (its owner or an admin)")
      .annotate(
        OpenApi.Description,
        "From now on the device's pushes and pulls answer 403 SYNC_CLIENT_REVOKED and its queued mutations are " +
          "never applied; its stored checkpoints are deleted. Revoking again is harmless. A device that is not " +
          "the caller's (for non-admins) answers 404 SYNC_CLIENT_NOT_FOUND."
      )
      .annotate(
        OpenApi.Transform,
        withExamples({
          responses: { 200: { ...device, revokedAt: "2026-06-02T08:00:00.000Z" } }
        })
      )
  )
  .middleware(Authentication)
  .prefix("/api/v1/sync")
  .annotate(OpenApi.Title, "Sync")
{}
