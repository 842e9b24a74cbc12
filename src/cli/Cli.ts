/**
 * The `lectern` command: `serve`, `migrate`, `users create`, `worker`, `jobs …`. Each command builds
 * only the layers it needs from `App`; failures that a user can fix (bad config,
 * unreachable database, invalid input) end as one line naming the cause.
 */
import { Command, Options } from "@effect/cli"
import { ConfigError, Console, Effect, Layer, Option, ParseResult, Redacted, Schema } from "effect"
import { CoreLive, ObservabilityLive, ServerLive, version } from "../App.ts"
import { AppConfig, describeConfigError } from "../layers/AppConfig.ts"
import * as Database from "../layers/Database.ts"
import * as Migrations from "../layers/Migrations.ts"
import { isCodedError } from "../schemas/ErrorCode.ts"
import { ValidationError } from "../schemas/Errors.ts"
import { DisplayName, Email, Password, Role } from "../schemas/Users.ts"
import { Users } from "../services/Users.ts"
import { fieldsFromIssues } from "../http/HttpErrors.ts"
import { jobsCommand } from "./JobsCommand.ts"
import { workerCommand } from "./WorkerCommand.ts"

const serve = Command.make("serve", {}, () => Layer.launch(ServerLive)).pipe(
  Command.withDescription("Run the HTTP/WebSocket server (migrates the database first)")
)

const migrate = Command.make("migrate", {}, () =>
  Effect.gen(function*() {
    const applied = yield* Migrations.run
    yield* Console.log(
      applied.length === 0 ? "Database schema is up to date" : `Applied ${applied.map(([id, n]) => `${id}_${n}`).join(", ")}`
    )
  }).pipe(Effect.provide(Database.layer.pipe(Layer.provide(ObservabilityLive), Layer.provide(AppConfig.layer))))).pipe(
  Command.withDescription("Apply pending database migrations and exit")
)

const NewUserInput = Schema.Struct({
  email: Email,
  password: Password,
  role: Role,
  displayName: Schema.optional(DisplayName)
})

const usersCreate = Command.make("create", {
  email: Options.text("email").pipe(Options.withDescription("Email address (unique)")),
  password: Options.redacted("password").pipe(Options.withDescription("Password, 10+ characters")),
  role: Options.choice("role", ["admin", "tutor", "student"]).pipe(Options.withDescription("Account role")),
  name: Options.optional(Options.text("name")).pipe(Options.withDescription("Display name (default: from email)"))
}, (args) =>
  Effect.gen(function*() {
    const input = yield* Schema.decodeUnknown(NewUserInput, { errors: "all" })({
      email: args.email,
      password: Redacted.value(args.password),
      role: args.role,
      displayName: Option.getOrUndefined(args.name)
    }).pipe(
      Effect.mapError((e) => new ValidationError({ fields: fieldsFromIssues(ParseResult.ArrayFormatter.formatErrorSync(e)) }))
    )
    const users = yield* Users
    const user = yield* users.create(input)
    yield* Console.log(`Created ${user.role} ${user.email} (id ${user.id})`)
  }).pipe(Effect.provide(CoreLive.pipe(Layer.provide(ObservabilityLive), Layer.provide(AppConfig.layer))))).pipe(
  Command.withDescription("Create an account (e.g. the first admin)")
)

const users = Command.make("users").pipe(
  Command.withDescription("Manage accounts"),
  Command.withSubcommands([usersCreate])
)

const lectern = Command.make("lectern").pipe(
  Command.withDescription("Lectern: realtime backend for live lessons"),
  Command.withSubcommands([serve, migrate, users, workerCommand, jobsCommand])
)

/** Parses `argv` and runs the chosen command. */
export const run = Command.run(lectern, { name: "lectern", version })

/** One line for a failure the user can act on, or undefined for a bug. */
export const describeFailure = (error: unknown): string | undefined => {
  if (ConfigError.isConfigError(error)) return `invalid configuration: ${describeConfigError(error)}`
  if (error instanceof ValidationError) {
    return `invalid input: ${Object.entries(error.fields).map(([k, v]) => `--${k}: ${v}`).join("; ")}`
  }
  if (typeof error === "object" && error !== null && "_tag" in error && error._tag === "ServiceUnavailable") {
    const reason = "reason" in error && typeof error.reason === "string" ? error.reason : ""
    return `cannot start: ${"service" in error ? String(error.service) : "a service"} unavailable (${reason})`
  }
  if (isCodedError(error)) return `${error.code}: ${error.message}`
  return undefined
}

