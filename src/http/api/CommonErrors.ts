/** Errors any route may answer with, declared once on the whole API. */
import {
  Forbidden,
  MalformedBody,
  PayloadTooLarge,
  RateLimited,
  ServiceUnavailable,
  ValidationError
} from "../../schemas/Errors.ts"
import { httpError } from "../HttpErrors.ts"

/** Errors any route may answer with. */
export const CommonErrors = {
  validation: httpError(ValidationError, "VALIDATION_ERROR"),
  malformed: httpError(MalformedBody, "MALFORMED_BODY"),
  tooLarge: httpError(PayloadTooLarge, "PAYLOAD_TOO_LARGE"),
  rateLimited: httpError(RateLimited, "RATE_LIMITED"),
  unavailable: httpError(ServiceUnavailable, "SERVICE_UNAVAILABLE"),
  forbidden: httpError(Forbidden, "FORBIDDEN")
} as const
