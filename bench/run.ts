// `npm run bench [-- --quick] [-- --parallel N]`: figures for kubeflow-irsa at scale. Prints a
// report and writes it as JSON to bench/results.json. Not a test: it asserts nothing about time.
//
//  1. Program evaluation under Pulumi mocks (cli/evaluate runProgram) for 100, 1,000 and 5,000
//     profiles (--quick: 100 and 1,000), each in a fresh child process: wall time of the evaluation
//     and the child's peak RSS.
//  2. IAM traffic of the real TrustSubjects dynamic provider against the local IAM endpoint for
//     1,000 profiles at a 4,096-character quota: first up, unchanged up, one-profile change.
//  3. Trust-policy capacity: subjects per role at 2,048, 4,096 and 8,192 characters (IAM's
//     default quota, the old and the 2026 maximum), checked against real documents, and the
//     kf-user shards 5,000 profiles need.
//  4. kf-user placement at those quotas for 5,000 profiles with names of 8–20 characters: roles
//     used by userRoleShards auto and by an explicit count against the perfect packing, placement
//     time, moves per single-profile change (mean and max over 100 seeded changes; --quick: 20),
//     growth by one role, the first profile of several service accounts, switching an explicit
//     count to auto; the same for a mix of larger profiles; and seeded changes of smaller stacks
//     that count roles over their room while the moves drain (bench/placement.ts).
//
// The report goes to stdout, every line within REPORT_COLUMNS (bench/report.ts); progress of the
// long sections (each evaluation, each IAM phase, each quota) goes to stderr.

import { fork } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ANCHOR_SUBJECTS, managedPolicySize, providerArnForSizing } from "../components/placement";
import { applySubjectChange, buildTrustPolicy, DEFAULT_MAX_POLICY_CHARS, LIST_ITEM_OVERHEAD, MAX_POLICY_CHARS_LIMIT, policySize, subjectsThatFit } from "../domain/trustPolicy";
import { subjectOf } from "../domain/subjects";
import {
    configValues,
    parseValues,
    pickShards,
    profiles,
    since,
    type EvalJob,
    type EvalResult,
    type IamResult,
    type Job,
    type WorkerMessage,
} from "./common";
import { drainStress, PLACEMENT_CHANGES, placementRow } from "./placement";
import { capacityTable, evaluationTable, fmt, iamTable, placementTable, wrap, type CapacityRow } from "./report";

const ROOT = path.resolve(__dirname, "..");
const RESULTS = path.join(__dirname, "results.json");
const PROVIDER_ARN = "arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
/** IAM's default quota, the maximum before 2026, and the 2026 maximum (what trustPolicyMaxChars accepts). */
const QUOTAS = [DEFAULT_MAX_POLICY_CHARS, 4096, MAX_POLICY_CHARS_LIMIT];
const EVAL_MAX_CHARS = 2048;
const IAM_PROFILES = 1000;
const IAM_MAX_CHARS = 4096;
const CAPACITY_PROFILES = 5000;

// ---- arguments ----

const argv = process.argv.slice(2);
const quick = argv.includes("--quick");
const parallelAt = argv.indexOf("--parallel");
const parallel = parallelAt >= 0 ? Number(argv[parallelAt + 1]) : 0;
if (!Number.isInteger(parallel) || parallel < 0) {
    console.error("usage: npm run bench -- [--quick] [--parallel N]   (N: provider operations at once; 0 = unbounded, pulumi up's default)");
    process.exit(2);
}
const SIZES = quick ? [100, 1000] : [100, 1000, 5000];

// ---- helpers ----

const benchStarted = process.hrtime.bigint();
/** A progress line on stderr (the report on stdout stays clean), with the time since the start. */
function progress(text: string): void {
    process.stderr.write(`bench [${fmt(since(benchStarted) / 1000, 1)} s] ${text}\n`);
}

/** Runs a worker in a fresh Node process (ts-node, transpile-only) and returns its result; its progress goes to stderr. */
function runWorker<T>(script: string, job: Job): Promise<T> {
    return new Promise((resolve, reject) => {
        const child = fork(path.join(__dirname, script), [JSON.stringify(job)], {
            cwd: ROOT,
            execArgv: ["-r", require.resolve("ts-node/register/transpile-only")],
            stdio: ["ignore", "pipe", "pipe", "ipc"],
        });
        let output = "";
        child.stdout!.on("data", (d: Buffer) => (output += d.toString()));
        child.stderr!.on("data", (d: Buffer) => (output += d.toString()));
        let message: T | undefined;
        child.on("message", (m) => {
            const sent = m as WorkerMessage<T>;
            if (sent.kind === "progress") progress(sent.text);
            else message = sent.result;
        });
        child.on("error", reject);
        child.on("exit", (code, signal) => {
            if (code === 0 && message !== undefined) resolve(message);
            else reject(new Error(`${script} ${JSON.stringify(job)} exited with ${signal ?? code}:\n${output.trim().split("\n").slice(-30).join("\n")}`));
        });
    });
}

const shardCache = new Map<string, { shards: number; ms: number }>();
/** shardsNeeded for the first `count` bench profiles at `maxChars`, timed, computed once. */
function shardsFor(count: number, maxChars: number): { shards: number; ms: number } {
    const key = `${count}@${maxChars}`;
    let hit = shardCache.get(key);
    if (!hit) {
        const start = process.hrtime.bigint();
        const shards = pickShards(profiles(count), maxChars);
        hit = { shards, ms: since(start) };
        shardCache.set(key, hit);
    }
    return hit;
}

// ---- 3. capacity (pure) ----

function namespaceAt(i: number): string {
    return `ns${String(i).padStart(6, "0")}`; // 8 characters
}

function capacity(maxChars: number): CapacityRow {
    progress(`capacity at quota ${maxChars}: subjects per policy, shardsNeeded() for ${fmt(CAPACITY_PROFILES)} profiles…`);
    const subjects = (n: number) => Array.from({ length: n }, (_, i) => subjectOf(namespaceAt(i)));
    const subjectLength = subjects(1)[0].length;
    const formula = subjectsThatFit(PROVIDER_ARN, subjectLength, maxChars);
    const builtN = policySize(buildTrustPolicy(PROVIDER_ARN, subjects(formula)));
    const builtN1 = policySize(buildTrustPolicy(PROVIDER_ARN, subjects(formula + 1)));

    // A managed role after `up`: created with the anchor, then TrustSubjects adds the profiles.
    const anchorDoc = buildTrustPolicy(PROVIDER_ARN, [ANCHOR_SUBJECTS.user]);
    const managedSize = (n: number) => managedPolicySize(PROVIDER_ARN, { anchor: ANCHOR_SUBJECTS.user, subjects: subjects(n) });
    const managedBuilt = (n: number) => policySize(applySubjectChange(anchorDoc, { providerArn: PROVIDER_ARN, add: subjects(n), remove: [] }).document);
    let managedMax = 0;
    while (managedSize(managedMax + 1) <= maxChars) managedMax++;

    const { shards, ms } = shardsFor(CAPACITY_PROFILES, maxChars);
    const config = parseValues(configValues(profiles(CAPACITY_PROFILES), 1, maxChars));
    const base = managedPolicySize(providerArnForSizing(config), { anchor: ANCHOR_SUBJECTS.user, subjects: [] });
    const total = config.profiles.reduce((sum, p) => sum + subjectOf(p.name).length + LIST_ITEM_OVERHEAD, 0);
    const lowerBound = Math.ceil(total / (maxChars - base));

    return {
        maxChars,
        subjectLength,
        formula,
        builtN,
        builtN1,
        formulaExact: builtN <= maxChars && builtN1 > maxChars,
        managedMax,
        managedSizeAtMax: managedSize(managedMax),
        managedBuiltAtMax: managedBuilt(managedMax),
        managedBuiltAtMax1: managedBuilt(managedMax + 1),
        managedExact: managedBuilt(managedMax) === managedSize(managedMax) && managedBuilt(managedMax) <= maxChars && managedBuilt(managedMax + 1) > maxChars,
        shards5000: shards,
        shards5000LowerBound: lowerBound,
        shards5000Ms: ms,
    };
}

// ---- main ----

async function main(): Promise<void> {
    const started = process.hrtime.bigint();
    const lines: string[] = [];
    /** A report line (or lines); prose longer than the report's width is folded at words. */
    const say = (text = "") => {
        const folded = wrap(text);
        lines.push(folded);
        console.log(folded);
    };
    const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";
    say(`kubeflow-irsa bench${quick ? " (--quick)" : ""} — Node ${process.version}, ${os.cpus().length} × ${cpu}, ${os.platform()}/${os.arch()}, load average ${fmt(os.loadavg()[0], 1)}`);
    say();

    // ---- 1. program evaluation ----
    const evaluations: (EvalResult & { shardsMs: number })[] = [];
    const evalJob = (n: number, sourceMappedStacks = false): EvalJob => ({ kind: "eval", profiles: n, shards: shardsFor(n, EVAL_MAX_CHARS).shards, maxChars: EVAL_MAX_CHARS, sourceMappedStacks });
    // podIdentity: one association per profile instead of the trust subjects, no shards. Each runs
    // right after its IRSA size, so a pair shares the machine's load.
    const podRuns: EvalResult[] = [];
    for (const n of SIZES) {
        const job = evalJob(n);
        progress(`evaluation: ${fmt(n)} profiles, ${job.shards} shards, in a fresh process…`);
        evaluations.push({ ...(await runWorker<EvalResult>("evalWorker.ts", job)), shardsMs: shardsFor(n, EVAL_MAX_CHARS).ms });
        if (n < 1000) continue;
        progress(`evaluation: ${fmt(n)} profiles in podIdentity mode, in a fresh process…`);
        podRuns.push(await runWorker<EvalResult>("evalWorker.ts", { kind: "eval", profiles: n, shards: 1, maxChars: EVAL_MAX_CHARS, identityMode: "podIdentity" }));
    }
    progress("evaluation: 1,000 profiles with source-mapped stack traces (diagnostic)…");
    const diagnostic = await runWorker<EvalResult>("evalWorker.ts", evalJob(1000, true));
    const t = (n: number) => evaluations.find((e) => e.profiles === n)?.evalMs;
    const t100 = t(100)!;
    const t1000 = t(1000)!;
    const t5000 = t(5000);
    const ratio = t5000 !== undefined ? t5000 / t1000 : undefined;

    say(`1. Program evaluation under mocks — runProgram(index.ts), one fresh process per size, trustPolicyMaxChars ${EVAL_MAX_CHARS}, userRoleShards = shardsNeeded()`);
    say(evaluationTable([...evaluations, ...podRuns, diagnostic]));
    say(`  t(1000) = ${fmt(t1000 / 1000, 2)} s — goal < 5 s: ${t1000 < 5000 ? "met" : "NOT met"}.`);
    const podRatios = podRuns.map((p) => ({ profiles: p.profiles, ratio: p.evalMs / t(p.profiles)! }));
    if (podRatios.length > 0) {
        say(
            `  podIdentity / irsa: ${podRatios.map((r) => `${fmt(r.ratio, 2)} at ${fmt(r.profiles)}`).join(", ")} — goal ≤ 1.2: ` +
                `${podRatios.every((r) => r.ratio <= 1.2) ? "met" : "NOT met"} (one association per profile vs. one TrustSubjects per shard; Profiles in both).`,
        );
    }
    if (ratio !== undefined && t5000 !== undefined) {
        say(
            `  t(5000)/t(1000) = ${fmt(ratio, 2)} (linear: 5.00). Marginal cost per added profile: ${fmt((t1000 - t100) / 900, 2)} ms (100→1,000), ` +
                `${fmt((t5000 - t1000) / 4000, 2)} ms (1,000→5,000): ${ratio <= 5.5 ? "within 10% of linear" : "super-linear (over 10% above linear)"}.`,
        );
    } else {
        say(`  t(5000)/t(1000): not measured with --quick. Marginal cost per added profile 100→1,000: ${fmt((t1000 - t100) / 900, 2)} ms.`);
    }
    say(
        `  (†) diagnostic: the 1,000-profile run with ts-node's source-mapped stack formatting left on, the way the Pulumi CLI's own ts-node registration ` +
            `(sourceMap: true) leaves it for a real preview/up; the SDK takes a stack trace per resource and promise — ${fmt(diagnostic.evalMs / 1000, 2)} s, ` +
            `${fmt(diagnostic.evalMs / t1000, 2)}× the mock evaluation.`,
    );
    say(`  mode pod = identityMode podIdentity. load ms = importing the program's modules before the timed run; eval ms = runProgram() through disconnect. shardsNeeded(): ${SIZES.map((n) => `${fmt(shardsFor(n, EVAL_MAX_CHARS).ms)} ms @${n}`).join(", ")} (not in eval ms).`);
    say(`  Timings on a shared host vary with its load (load avg column); memory figures are stable.`);
    say();

    // ---- 2. IAM traffic ----
    const iamShards = shardsFor(IAM_PROFILES, IAM_MAX_CHARS).shards;
    progress(`IAM: ${fmt(IAM_PROFILES)} profiles, ${iamShards} shards, quota ${IAM_MAX_CHARS}, in a fresh process against the local IAM endpoint…`);
    const iam = await runWorker<IamResult>("iamWorker.ts", { kind: "iam", profiles: IAM_PROFILES, shards: iamShards, maxChars: IAM_MAX_CHARS, parallel });
    say(
        `2. IAM calls — real TrustSubjects provider (from __provider, require-from-string + configure) → local IAM endpoint; ${iam.profiles} profiles, ` +
            `quota ${iam.maxChars}, ${iam.shards} kf-user shards, ${iam.managedRoles} managed roles (${iam.phases[0].trustSubjects} TrustSubjects), ${iam.externalRoles} external; operations in flight: ${iam.parallel || "unbounded"}`,
    );
    say(iamTable(iam));
    const notes = [...new Set(iam.phases.filter((p) => p.note).map((p) => p.note))];
    const other = iam.phases.flatMap((p) => Object.entries(p.otherCalls).map(([a, n]) => `${p.phase}: ${a} ×${n}`));
    say(`  UpdateARP = UpdateAssumeRolePolicy; reads/role, writes/role = calls per touched (written) role. Other IAM calls: ${other.length ? other.join(", ") : "none"}.`);
    say(`  One-profile change: ${notes.join("; ")}; preview = the check+diff pass \`pulumi up\` runs before updating (skipped with --skip-preview).`);
    say(
        `  Goal: 0 writes unchanged, 1 read + 1 write per touched role. Measured: create = check's quota-check read + read + write + verifying read; ` +
            `update = diff's quota-check read + read + write + verifying read (+1 read in the preview pass). Largest trust policy after first up: ${iam.largestPolicyChars} of ${iam.maxChars} chars.`,
    );
    say(`  provider ms = the engine pass (check/diff/create/update with their IAM round trips), program ms = runProgram() for that phase's config.`);
    say();

    // ---- 3. capacity ----
    const rows = QUOTAS.map(capacity);
    say(`3. Trust-policy capacity (minified JSON) — subject system:serviceaccount:<8-char ns>:default-editor (${rows[0].subjectLength} chars), provider ARN ${PROVIDER_ARN.length} chars`);
    say(capacityTable(rows, CAPACITY_PROFILES));
    say(`  Real document at M = the anchor trust policy the program creates, then applySubjectChange adding M subjects (what TrustSubjects writes).`);
    say(
        `  Shards use the bench's names (team-<word>-<n>, 10–18 chars); lower bound = ⌈Σ(subject + 3) / room per role⌉. Rendezvous hashing keeps ` +
            `placement stable when profiles come and go, but balances only statistically: the fullest shard sets the count.`,
    );
    say();

    // ---- 4. placement ----
    const placements = QUOTAS.map((q) => placementRow(q, progress, quick ? 20 : PLACEMENT_CHANGES));
    say(`4. kf-user placement — ${fmt(placements[0].profiles)} profiles, seeded names of 8–20 characters, default-editor each; planTrust() as the program plans`);
    say(placementTable(placements));
    say(
        `  A move is make-before-break: the old role keeps the moved subjects until finishMoves, so "over the quota while moves drain" counts roles whose ` +
            `old and new subjects together would pass it. One-profile changes alternate an added and a removed profile; those that moved auto's count are in the mean and max, and also counted apart; growth adds ` +
            `profiles one at a time until auto's count grows, and counts what that change moves; the switch is from the explicit count above to auto.`,
    );
    progress("placement: seeded changes of smaller stacks…");
    for (const row of [drainStress("profiles within the 7.5% reserve", quick ? 100 : 1000, 0, 31), drainStress("a fifth of the profiles at 7.5–15% of a role", quick ? 40 : 400, 0.2, 32)]) {
        say(
            `  ${fmt(row.changes)} seeded one-profile changes of stacks of 50–600 profiles, ${row.label}: ${row.over} left a role over its room while ` +
                `the moves drained` + (row.over > 0 ? `, by at most ${fmt(100 * row.worstShareOfMoved, 1)}% of the characters that moved.` : "."),
        );
    }
    say();
    const totalMs = since(started);
    progress("done");
    say(`Total bench time ${fmt(totalMs / 1000, 1)} s. JSON: ${RESULTS}`);

    const results = {
        generatedAt: new Date().toISOString(),
        environment: { node: process.version, platform: `${os.platform()}/${os.arch()}`, cpus: os.cpus().length, cpuModel: cpu },
        quick,
        evaluation: {
            maxChars: EVAL_MAX_CHARS,
            runs: evaluations,
            podIdentityRuns: podRuns,
            podIdentityRatios: podRatios,
            sourceMappedStacksDiagnostic: diagnostic,
            ratio5000to1000: ratio ?? null,
            goal1000Under5s: t1000 < 5000,
        },
        iam,
        capacity: { providerArn: PROVIDER_ARN, anchor: ANCHOR_SUBJECTS.user, rows },
        placement: placements,
        totalMs,
        report: lines.join("\n"),
    };
    fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + "\n");
}

main().catch((err) => {
    console.error(err instanceof Error ? err.message : err);
    process.exit(1);
});
