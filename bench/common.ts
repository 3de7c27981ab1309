// Shared by the benchmark's orchestrator (bench/run.ts) and its workers: realistic profiles, the
// config values the CLI would pass, shard selection, and the worker protocol.

import type { ConfigValues } from "../cli/evaluate";
import { parseStackConfig, type IdentityMode, type ProfileConfig, type StackConfig } from "../components/config";
import { shardsNeeded } from "../components/placement";
import { DEFAULT_EDITOR } from "../domain/subjects";

export const REGION = "us-west-2";
export const CLUSTER = "kf-bench";

const WORDS = [
    "nlp", "vision", "ranking", "search", "ads", "fraud", "speech", "infra", "risk", "growth",
    "pricing", "maps", "health", "robotics", "recsys", "forecast", "genai", "ocr", "quant", "data",
];

/** Profile i: `team-<word>-<i>` (10–18 characters for i < 100,000), owner `user<i>@example.com`. */
export function profileAt(i: number): ProfileConfig {
    return { name: `team-${WORDS[i % WORDS.length]}-${i}`, owner: `user${i}@example.com`, serviceAccounts: [DEFAULT_EDITOR] };
}

export function profiles(count: number, start = 0): ProfileConfig[] {
    return Array.from({ length: count }, (_, k) => profileAt(start + k));
}

/** Stack config as the CLI hands it to the program: strings, structured values as JSON. */
export function configValues(list: ProfileConfig[], shards: number, maxChars: number, identityMode: IdentityMode = "irsa"): ConfigValues {
    return {
        "aws:region": REGION,
        "kubeflow-irsa:clusterName": CLUSTER,
        "kubeflow-irsa:profiles": JSON.stringify(list),
        "kubeflow-irsa:userRoleShards": String(shards),
        "kubeflow-irsa:trustPolicyMaxChars": String(maxChars),
        // The whole program, Profiles included (the second phase of a new cluster's first up).
        "kubeflow-irsa:kubeflowInstalled": "true",
        "kubeflow-irsa:identityMode": identityMode,
    };
}

export function parseValues(values: ConfigValues): StackConfig {
    return parseStackConfig((key) => values[key]);
}

/** The smallest kf-user shard count at which every role fits `maxChars` (the program's own rule). */
export function pickShards(list: ProfileConfig[], maxChars: number): number {
    const shards = shardsNeeded(parseValues(configValues(list, 1, maxChars)), maxChars);
    if (shards === undefined) throw new Error(`${list.length} profiles do not fit ${maxChars} characters in any shard count`);
    return shards;
}

// ---- worker protocol: the parent forks a worker with a JSON job in argv[2]; the worker answers
// with one process.send() message and exits. ----

export interface EvalJob {
    kind: "eval";
    profiles: number;
    shards: number;
    maxChars: number;
    /**
     * Diagnostic: keep ts-node's source-map-support formatter for the whole run (runProgram() turns
     * it off while it evaluates), so the stack traces the Pulumi SDK takes for every resource and
     * promise are source-mapped frame by frame — as under the Pulumi CLI, which registers ts-node
     * with source maps for a real `pulumi preview`/`up`.
     */
    sourceMappedStacks?: boolean;
    /** @default "irsa" */
    identityMode?: IdentityMode;
}

export interface EvalResult {
    profiles: number;
    identityMode: IdentityMode;
    shards: number;
    sourceMappedStacks: boolean;
    /** 1-minute load average of the machine when the run started (other work on the host). */
    loadAvg1: number;
    resources: number;
    trustSubjects: number;
    /** Importing the program's modules (@pulumi/aws, /eks, /kubernetes, components), before the timed run. */
    loadMs: number;
    /** runProgram(): the program under mocks, through disconnect (all registrations settled). */
    evalMs: number;
    maxRssAfterLoadMB: number;
    maxRssMB: number;
    heapUsedMB: number;
}

export interface IamJob {
    kind: "iam";
    profiles: number;
    shards: number;
    maxChars: number;
    /** Provider operations in flight at once (the engine's --parallel; 0 = unbounded, its default). */
    parallel: number;
}

export interface PhaseResult {
    phase: string;
    /** runProgram() for this phase's config (not part of wallMs). */
    programMs: number;
    /** check/diff/create/update calls of every TrustSubjects resource, with their IAM traffic. */
    wallMs: number;
    trustSubjects: number;
    checks: number;
    diffs: number;
    diffsWithChanges: number;
    creates: number;
    updates: number;
    getRole: number;
    updateAssumeRolePolicy: number;
    /** Distinct roles written. */
    rolesTouched: number;
    /** Distinct roles read. */
    rolesRead: number;
    /** GetRole calls per role written, and those on roles not written (diffs of unchanged roles). */
    readsPerTouchedRole: number;
    writesPerTouchedRole: number;
    otherCalls: Record<string, number>;
    note?: string;
}

export interface IamResult {
    profiles: number;
    shards: number;
    maxChars: number;
    parallel: number;
    managedRoles: number;
    externalRoles: number;
    providerTexts: number;
    providerChars: number;
    phases: PhaseResult[];
    largestPolicyChars: number;
}

export type Job = EvalJob | IamJob;

/** What a worker sends: progress lines while it runs (the parent prints them on stderr), then its one result. */
export type WorkerMessage<T> = { kind: "progress"; text: string } | { kind: "result"; result: T };

export const mb = (bytes: number) => Math.round((bytes / (1024 * 1024)) * 10) / 10;
/** process.resourceUsage().maxRSS is in kilobytes. */
export const maxRssMB = () => Math.round((process.resourceUsage().maxRSS / 1024) * 10) / 10;
export const since = (start: bigint) => Number(process.hrtime.bigint() - start) / 1e6;
