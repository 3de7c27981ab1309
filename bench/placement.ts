// Section 4 of `npm run bench`: kf-user placement at scale. For 5,000 profiles with namespace
// names of 8–20 characters (seeded, the same every run) at each quota: the roles `auto` uses
// against the perfect-packing count and rendezvous hashing's, the time placement takes, the
// profiles a single-profile change moves (100 seeded changes), what growing the count by one
// moves, and what switching an explicit count to `auto` moves. A move is make-before-break: the
// old role keeps trusting the moved profile until finishMoves, so each move is also checked for
// every role's document during it (old and new subjects together) against the quota.
// Pure and in-process: no Pulumi, no IAM.

import { parseStackConfig, type StackConfig } from "../components/config";
import { ANCHOR_SUBJECTS, managedPolicySize, planTrust, providerArnForSizing, shardsNeeded, userShards, type TrustPlan } from "../components/placement";
import { buildTrustPolicy, LIST_ITEM_OVERHEAD, policySize } from "../providers/trustPolicy";
import { subjectOf } from "../providers/subjects";
import { CLUSTER, REGION, since } from "./common";

export const PLACEMENT_PROFILES = 5000;
export const PLACEMENT_CHANGES = 100;
const NAME_SEED = 20;
const CHANGE_SEED = 7;

/** mulberry32: a small seeded generator, so every run measures the same profiles and changes. */
export function seeded(seed: number): () => number {
    let s = seed >>> 0;
    return () => {
        s = (s + 0x6d2b79f5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** `count` distinct RFC 1123 labels of 8–20 characters (a letter first, letters or digits last, some hyphens), from `seed`. */
export function namespaceNames(count: number, seed = NAME_SEED): string[] {
    const random = seeded(seed);
    const letters = "abcdefghijklmnopqrstuvwxyz";
    const alnum = `${letters}0123456789`;
    const pick = (from: string) => from[Math.floor(random() * from.length)];
    const names = new Set<string>();
    while (names.size < count) {
        const length = 8 + Math.floor(random() * 13);
        let name = pick(letters);
        for (let i = 1; i < length - 1; i++) name += random() < 0.1 && !name.endsWith("-") ? "-" : pick(alnum);
        names.add(name + pick(alnum));
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
    /** Single-profile changes at the auto count (adds and removes alternate); those that changed the count are left out of the means. */
    changes: number;
    countChanged: number;
    movesMean: number;
    movesMax: number;
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
    const random = seeded(CHANGE_SEED);
    const moves: number[] = [];
    let countChanged = 0;
    let overDuringChanges = 0;
    for (let c = 0; c < changes; c++) {
        const gone = Math.floor(random() * names.length);
        const changed = c % 2 === 0 ? [...names, spare[c]] : names.filter((_, i) => i !== gone);
        const after = planTrust(stackConfig(changed, maxChars, "auto"));
        if (after.names.users.length !== placed.shards) {
            countChanged++;
            continue;
        }
        const m = movesBetween(plan, after, config);
        moves.push(m.moved);
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
        countChanged,
        movesMean: moves.reduce((a, b) => a + b, 0) / Math.max(moves.length, 1),
        movesMax: Math.max(0, ...moves),
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
