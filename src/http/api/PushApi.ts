/** The contract of web push registration (`/api/v1/push/*`). */
import { HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "@effect/platform"
import {
  PushSubscription,
  PushSubscriptionId,
  PushSubscriptionList,
  PushSubscriptionNotFound,
  PushTestResult,
  RegisterPushSubscriptionRequest,
  VapidPublicKey
} from "../../schemas/Push.ts"
import { Authentication } from "../Authentication.ts"
import { httpError } from "../HttpErrors.ts"

const SubscriptionIdPath = HttpApiSchema.param("id", PushSubscriptionId)

/** Web push: the server key, my devices' subscriptions, a test push. */
export class PushApi extends HttpApiGroup.make("push")
  .add(
    HttpApiEndpoint.get("vapidPublicKey", "/vapid-public-key")
      .addSuccess(VapidPublicKey)
      .annotate(OpenApi.Summary, "The applicationServerKey to subscribe with (PushManager.subscribe)")
  )
  .add(
    HttpApiEndpoint.post("register", "/subscriptions")
      .setPayload(RegisterPushSubscriptionRequest)
      .addSuccess(PushSubscription, { status: 201 })
      .annotate(OpenApi.Summary, "Register this device's push subscription (the PushSubscription JSON)")
      .annotate(
        OpenApi.Description,
        "Registering an endpoint again refreshes its keys, re-enables it and moves it to the caller."
      )
  )
  .add(
    HttpApiEndpoint.get("list", "/subscriptions")
      .addSuccess(PushSubscriptionList)
      .annotate(OpenApi.Summary, "My devices' push subscriptions")
  )
  .add(
    HttpApiEndpoint.del("unregister")`/subscriptions/${SubscriptionIdPath}`
      .addSuccess(HttpApiSchema.NoContent)
      .addError(httpError(PushSubscriptionNotFound, "PUSH_SUBSCRIPTION_NOT_FOUND"))
      .annotate(OpenApi.Summary, "Unregister a device")
  )
  .add(
    HttpApiEndpoint.post("test", "/test")
      .addSuccess(PushTestResult, { status: 202 })
      .annotate(OpenApi.Summary, "Queue a test push to each of my enabled devices")
  )
  .middleware(Authentication)
  .prefix("/api/v1/push")
  .annotate(OpenApi.Title, "Web push")
{}
