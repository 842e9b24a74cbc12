/** Entry point of the `lectern` command (`npm start` runs `lectern serve`). */
import { NodeContext, NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Option } from "effect"
import { describeFailure, run } from "./cli/Cli.ts"

// A last resort if shutdown hangs: the drain deadline (SHUTDOWN_TIMEOUT) is shorter than this.
for (const signal of ["SIGTERM", "SIGINT"] as const) {
  process.once(signal, () => setTimeout(() => process.exit(1), 9_500).unref())
}

run(process.argv).pipe(
  Effect.tapErrorCause((cause) => {
    const line = Option.flatMap(Cause.failureOption(cause), (e) => Option.fromNullable(describeFailure(e)))
    return Option.match(line, {
      onSome: (text) => Console.error(`lectern: ${text}`),
      onNone: () => Cause.isInterruptedOnly(cause) ? Effect.void : Console.error(Cause.pretty(cause))
    })
  }),
  Effect.provide(NodeContext.layer),
  NodeRuntime.runMain({ disableErrorReporting: true, disablePrettyLogger: true })
)
