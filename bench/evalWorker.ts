// One program evaluation in a fresh process, so that maxRSS belongs to this run alone.
// Forked by bench/run.ts: `node -r ts-node/register/transpile-only bench/evalWorker.ts '<EvalJob>'`.

import * as os from "os";
import { configValues, maxRssMB, mb, profiles, since, type EvalJob, type EvalResult, type WorkerMessage } from "./common";

async function main(): Promise<void> {
    const job = JSON.parse(process.argv[2]) as EvalJob;
    const identityMode = job.identityMode ?? "irsa";
    const values = configValues(profiles(job.profiles), job.shards, job.maxChars, identityMode);

    // Load the program's modules first (what index.ts imports), so evalMs is the evaluation alone.
    const loadStart = process.hrtime.bigint();
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { runProgram, TRUST_SUBJECTS_TYPE } = require("../cli/evaluate") as typeof import("../cli/evaluate");
    require("../components/kubeflowIrsa");
    const loadMs = since(loadStart);
    const maxRssAfterLoadMB = maxRssMB();
    if (job.sourceMappedStacks) {
        // Pin the formatter ts-node installed: runProgram()'s own reset becomes a no-op.
        const formatter = Error.prepareStackTrace;
        Object.defineProperty(Error, "prepareStackTrace", { configurable: true, get: () => formatter, set: () => undefined });
    }
    const loadAvg1 = os.loadavg()[0];

    const start = process.hrtime.bigint();
    const run = await runProgram(values, "bench");
    const evalMs = since(start);

    const result: EvalResult = {
        profiles: job.profiles,
        identityMode,
        shards: job.shards,
        sourceMappedStacks: job.sourceMappedStacks === true,
        loadAvg1,
        resources: run.resources.length,
        trustSubjects: run.resources.filter((r) => r.type === TRUST_SUBJECTS_TYPE).length,
        loadMs,
        evalMs,
        maxRssAfterLoadMB,
        maxRssMB: maxRssMB(),
        heapUsedMB: mb(process.memoryUsage().heapUsed),
    };
    const message: WorkerMessage<typeof result> = { kind: "result", result };
    process.send!(message, () => process.exit(0));
}

main().catch((err) => {
    console.error(err instanceof Error ? err.stack ?? err.message : err);
    process.exit(1);
});
