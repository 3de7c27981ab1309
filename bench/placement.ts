// Section 4 of `npm run bench`: kf-user placement at scale. For 5,000 profiles with namespace
// names of 8–20 characters (seeded, the same every run) at each quota: the roles `auto` uses
// against the perfect-packing count and rendezvous hashing's, the time placement takes, the
// profiles a single-profile change moves (100 seeded changes), what growing the count by one
// moves, and what switching an explicit count to `auto` moves. A move is make-before-break: the
// old role keeps trusting the moved profile until finishMoves, so each move is also checked for
// every role's document during it (old and new subjects together) against the quota.
// Pure and in-process: no Pulumi, no IAM.

import { createHash } from "crypto";
import { parseStackConfig, type StackConfig } from "../components/config";
import { reservedNamespaceProblem } from "../components/names";
import { ANCHOR_SUBJECTS, managedPolicySize, planTrust, providerArnForSizing, shardsNeeded, userShards, type TrustPlan } from "../components/placement";
import { buildTrustPolicy, LIST_ITEM_OVERHEAD, policySize } from "../domain/trustPolicy";
import { subjectOf } from "../domain/subjects";
import { CLUSTER, REGION, since } from "./common";

export const PLACEMENT_PROFILES = 5000;
export const PLACEMENT_CHANGES = 100;
const NAME_SEED = 20;
const CHANGE_SEED = 7;

/** Bytes that depend only on the seed and the index: the same names and changes on every run and machine. */
function bytesOf(seed: number, index: number): Buffer {
    return createHash("sha256").update(`${seed}:${index}`).digest();
}

/** `count` distinct RFC 1123 labels of 8–20 characters, every length as likely, none a namespace Kubernetes or Kubeflow owns. */
export function namespaceNames(count: number, seed = NAME_SEED): string[] {
    const letters = "abcdefghijklmnopqrstuvwxyz";
    const middle = `${letters}0123456789-`;
    const names = new Set<string>();
    for (let i = 0; names.size < count; i++) {
        const bytes = bytesOf(seed, i);
        const length = 8 + (bytes[0] % 13);
        let name = letters[bytes[1] % letters.length];
        for (let k = 2; k < length; k++) name += middle[bytes[k] % middle.length];
        name += letters[bytes[length] % letters.length];
        if (reservedNamespaceProblem(name) === undefined) names.add(name);
    }
    return [...names];
}

function stackConfig(names: readonly string[], maxChars: number, shards: number | "auto"): StackConfig {
    const values: Record<string, string> = {
        "aws:region": REGION,
        "kubeflow-irsa:clusterName": CLUSTER,
        "kubeflow-irsa:kubeflowInstalled": "true",
        "kubeflow-irsa:trustPolicyMaxChars": String(maxChars),
        "kubeflow-irsa:userRoleShards": String(shards),
        "kubeflow-irsa:profiles": JSON.stringify(names.map((name, i) => ({ name, owner: `user${i}@example.com` }))),
    };
    return parseStackConfig((key) => values[key]);
}

/** What a change from `before` to `after` moves: profiles in both whose role differs, and roles over `maxChars` while the moves drain. */
export function movesBetween(before: TrustPlan, after: TrustPlan, config: StackConfig): { moved: number; intoNew: number; overDuringMove: number } {
    const providerArn = providerArnForSizing(config);
    const draining = new Map<string, string[]>();
    const oldRoles = new Set(before.names.users);
    let moved = 0;
    let intoNew = 0;
    for (const [profile, role] of after.profileRoles) {
        const old = before.profileRoles.get(profile);
        if (old === undefined || old.roleName === role.roleName) continue;
        moved++;
        if (!oldRoles.has(role.roleName)) intoNew++;
        draining.set(old.roleName, [...(draining.get(old.roleName) ?? []), subjectOf(profile)]);
    }
    let overDuringMove = 0;
    for (const g of after.groups.filter((g) => g.managed && after.names.users.includes(g.roleName))) {
        const during = { anchor: g.anchor, subjects: [...new Set([...g.subjects, ...(draining.get(g.roleName) ?? [])])] };
        if (managedPolicySize(providerArn, during) > config.trustPolicyMaxChars) overDuringMove++;
    }
    return { moved, intoNew, overDuringMove };
}

export interface PlacementRow {
    maxChars: number;
    profiles: number;
    /** A kf-user role's room besides its anchor: the quota less the anchor-only document (policySize). */
    room: number;
    /** ⌈Σ(subject + 3) / room⌉. */
    perfect: number;
    /** shardsNeeded(): the explicit count rendezvous hashing needs. */
    rendezvous: number;
    rendezvousMs: number;
    /** userRoleShards: auto — the count it picks, and userShards() time (count and placement). */
    auto: number;
    autoMs: number;
    /** The fullest kf-user role under auto, in characters. */
    largest: number;
    /** Single-profile changes (adds and removes alternate): moves at the same count, mean and max. */
    changes: number;
    movesMean: number;
    movesMax: number;
    /** The changes that moved auto's count by one (growth or shrink, counted apart): how many, and the most they moved. */
    countChanged: number;
    countChangeMovesMax: number;
    /** Roles over the quota while any of the changes' moves drain. */
    overDuringChanges: number;
    /** Profiles added one at a time until auto grows by one role: what that change moves. */
    growthAdded: number;
    growthTo: number;
    growthMoved: number;
    growthIntoNew: number;
    growthOverDuringMove: number;
    /** userRoleShards from the rendezvous count to auto: what the first `up` moves. */
    switchMoved: number;
    switchOverDuringMove: number;
}

/** Section 4 for one quota. `progress` reports long steps. */
export function placementRow(maxChars: number, progress: (text: string) => void, changes = PLACEMENT_CHANGES): PlacementRow {
    const pool = namespaceNames(PLACEMENT_PROFILES + changes + 200);
    const names = pool.slice(0, PLACEMENT_PROFILES);
    const spare = pool.slice(PLACEMENT_PROFILES);
    const config = stackConfig(names, maxChars, "auto");
    const providerArn = providerArnForSizing(config);
    const room = maxChars - policySize(buildTrustPolicy(providerArn, [ANCHOR_SUBJECTS.user]));
    const perfect = Math.ceil(names.reduce((sum, n) => sum + subjectOf(n).length + LIST_ITEM_OVERHEAD, 0) / room);

    let started = process.hrtime.bigint();
    const rendezvous = shardsNeeded(config, maxChars)!;
    const rendezvousMs = since(started);
    started = process.hrtime.bigint();
    const placed = userShards(config);
    const autoMs = since(started);
    const plan = planTrust(config, placed);
    const largest = Math.max(...plan.groups.filter((g) => plan.names.users.includes(g.roleName)).map((g) => managedPolicySize(providerArn, g)));

    progress(`placement at quota ${maxChars}: ${changes} single-profile changes at ${placed.shards} roles…`);
    const removed = Array.from({ length: changes }, (_, c) => bytesOf(CHANGE_SEED, c).readUInt32BE(0) % names.length);
    const moves: number[] = [];
    const countChangeMoves: number[] = [];
    let overDuringChanges = 0;
    for (let c = 0; c < changes; c++) {
        const changed = c % 2 === 0 ? [...names, spare[c]] : names.filter((_, i) => i !== removed[c]);
        const after = planTrust(stackConfig(changed, maxChars, "auto"));
        const m = movesBetween(plan, after, config);
        (after.names.users.length === placed.shards ? moves : countChangeMoves).push(m.moved);
        overDuringChanges += m.overDuringMove;
    }

    progress(`placement at quota ${maxChars}: adding profiles until auto grows by one role…`);
    let grown = [...names];
    let previous = plan;
    let growth = { moved: 0, intoNew: 0, overDuringMove: 0 };
    let added = 0;
    for (const extra of spare.slice(changes)) {
        const next = planTrust(stackConfig([...grown, extra], maxChars, "auto"));
        added++;
        grown = [...grown, extra];
        if (next.names.users.length > previous.names.users.length) {
            growth = movesBetween(previous, next, config);
            previous = next;
            break;
        }
        previous = next;
    }

    progress(`placement at quota ${maxChars}: switching userRoleShards ${rendezvous} → auto…`);
    const explicit = planTrust(stackConfig(names, maxChars, rendezvous));
    const switched = movesBetween(explicit, plan, config);

    return {
        maxChars,
        profiles: names.length,
        room,
        perfect,
        rendezvous,
        rendezvousMs,
        auto: placed.shards,
        autoMs,
        largest,
        changes,
        movesMean: moves.reduce((a, b) => a + b, 0) / Math.max(moves.length, 1),
        movesMax: Math.max(0, ...moves),
        countChanged: countChangeMoves.length,
        countChangeMovesMax: Math.max(0, ...countChangeMoves),
        overDuringChanges,
        growthAdded: added,
        growthTo: previous.names.users.length,
        growthMoved: growth.moved,
        growthIntoNew: growth.intoNew,
        growthOverDuringMove: growth.overDuringMove,
        switchMoved: switched.moved,
        switchOverDuringMove: switched.overDuringMove,
    };
}
