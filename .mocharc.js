// Mocha's configuration for `npm test`. The test files run in parallel, 4 at a time, each file in
// one worker, started in the order of `spec`: the slowest files first (longest processing time
// first), so none of them starts late and runs on alone at the end while the other workers idle.
// The rest follow in path order. A test file not named here still runs (every tests/**/*.test.ts
// does); name a new slow one here. Durations are of a full run on a 2-core machine.
// tests/support/transpileCache.js is required before ts-node: see there.
"use strict";
const fs = require("fs");
const path = require("path");

const SLOWEST_FIRST = [
    "tests/lifecycle/moves.test.ts", // ~50 s: a Pulumi host process per `up`
    "tests/cli/firstRun.test.ts", // ~50 s: 17 CLI processes
    "tests/providers/failurePaths.test.ts", // ~45 s, mostly waits on IAM's eventual consistency
    "tests/providers/realHost.test.ts", // ~30 s: host processes
    "tests/lifecycle/modeSwitch.test.ts", // ~30 s
    "tests/components/shardPlacement.test.ts", // ~30 s of placement properties
    "tests/providers/trustSubjectsFaults.test.ts", // ~20 s, mostly waits
    "tests/components/permissionBudget.test.ts", // ~17 s
    "tests/cli/output.test.ts", // ~15 s: npx and npm processes
    "tests/lifecycle/anchors.test.ts", // ~14 s
];

/** Every test file under `dir`, in path order. */
function testFiles(dir) {
    return fs
        .readdirSync(dir, { withFileTypes: true })
        .sort((a, b) => a.name.localeCompare(b.name))
        .flatMap((e) => (e.isDirectory() ? testFiles(path.join(dir, e.name)) : e.name.endsWith(".test.ts") ? [path.join(dir, e.name)] : []));
}

const files = testFiles(path.join(__dirname, "tests")).map((f) => path.relative(__dirname, f).split(path.sep).join("/"));
const slowest = SLOWEST_FIRST.filter((f) => files.includes(f));
const ordered = [...slowest, ...files.filter((f) => !slowest.includes(f))];

module.exports = {
    require: [path.join(__dirname, "tests", "support", "transpileCache.js"), "ts-node/register/transpile-only"],
    extension: ["ts"],
    spec: ordered.map((f) => path.join(__dirname, f)),
    timeout: 30000,
    exit: true,
    parallel: true,
    jobs: 4,
};
