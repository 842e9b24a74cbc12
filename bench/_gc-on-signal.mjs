// Preloaded into bench:fanout's server processes (started with --expose-gc): SIGUSR2 runs a full GC, so the
// RSS-per-idle-connection figure compares retained memory, not where each server's GC happened to be.
if (typeof globalThis.gc === "function") process.on("SIGUSR2", () => globalThis.gc())
