/**
 * The HTTP contract (no handlers here): every group under `/api/v1`, plus
 * `/health/*`, with the errors any route may answer. Each group's contract lives
 * in `src/http/api/`; the OpenAPI document at `/openapi.json` is generated from this.
 */
import { HttpApi, OpenApi } from "@effect/platform"
import { AuthApi, MeApi } from "./api/AuthApi.ts"
import { CallsApi } from "./api/CallsApi.ts"
import { CommonErrors } from "./api/CommonErrors.ts"
import { FeatureFlagsApi } from "./api/FeatureFlagsApi.ts"
import { HealthApi } from "./api/HealthApi.ts"
import { LessonsApi } from "./api/LessonsApi.ts"
import { RelationsApi } from "./api/RelationsApi.ts"
import { JobsApi } from "./api/JobsApi.ts"
import { NotificationsApi } from "./api/NotificationsApi.ts"
import { PushApi } from "./api/PushApi.ts"
import { RoomApi } from "./api/RoomApi.ts"
import { SyncApi } from "./api/SyncApi.ts"
import { UsersApi } from "./api/UsersApi.ts"
import { cleanOpenApi } from "./OpenApiDoc.ts"

/** The whole Lectern HTTP API. */
export class Api extends HttpApi.make("lectern")
  .add(HealthApi)
  .add(AuthApi)
  .add(MeApi)
  .add(UsersApi)
  .add(RelationsApi)
  .add(LessonsApi)
  .add(FeatureFlagsApi)
  .add(JobsApi)
  .add(NotificationsApi)
  .add(PushApi)
  .add(RoomApi)
  .add(SyncApi)
  .add(CallsApi)
  .addError(CommonErrors.validation)
  .addError(CommonErrors.malformed)
  .addError(CommonErrors.tooLarge)
  .addError(CommonErrors.rateLimited)
  .addError(CommonErrors.unavailable)
  .addError(CommonErrors.forbidden)
  .annotate(OpenApi.Title, "Lectern API")
  .annotate(OpenApi.Version, "1.0.0")
  .annotate(
    OpenApi.Description,
    "REST API of Lectern, the realtime backend for live lessons. Every error answers " +
      "`{\"error\":{\"code\",\"detail\",\"fields\"}}`; codes are listed in docs/api/errors.md."
  )
  .annotate(OpenApi.Transform, cleanOpenApi)
{}
