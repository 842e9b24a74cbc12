/** The contract of `/health/*`: liveness and readiness (unversioned, unauthenticated). */
import { HttpApiEndpoint, HttpApiGroup, OpenApi } from "@effect/platform"
import { Liveness, ReadinessReport } from "../../schemas/Health.ts"

/** Liveness and readiness probes (unversioned, unauthenticated). */
export class HealthApi extends HttpApiGroup.make("health")
  .add(
    HttpApiEndpoint.get("live", "/health/live")
      .addSuccess(Liveness)
      .annotate(OpenApi.Summary, "Liveness: the process is up")
  )
  .add(
    HttpApiEndpoint.get("ready", "/health/ready")
      .addSuccess(ReadinessReport)
      .addError(ReadinessReport, { status: 503 })
      .annotate(OpenApi.Summary, "Readiness: every required component answers")
      .annotate(
        OpenApi.Description,
        "Checks the database, the migrations and Redis (when configured), each bounded by a timeout. " +
          "503 with the same report when a required component is down."
      )
  )
  .annotate(OpenApi.Title, "Health")
{}
