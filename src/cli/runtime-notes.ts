// What the single executable's entry (src/cli/sea-runtime.ts) found missing at start-up, logged as
// warnings by the exporter once its logger exists; empty when run as `node dist/...`.
export const runtimeNotes: string[] = [];
