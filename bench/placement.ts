// Section 4 of `npm run bench`: kf-user placement at scale. For 5,000 profiles with namespace
// names of 8–20 characters (seeded, the same every run) at each quota: the roles `auto` uses
// against the perfect-packing count and rendezvous hashing's, the time placement takes, the
// profiles a single-profile change moves (100 seeded changes), what growing the count by one
// moves, what the first profile of several service accounts moves, and what switching an
// explicit count to `auto` moves; then the same for a mix in which every seventh profile trusts
// two or three service accounts. A move is make-before-break: the old role keeps trusting the
// moved profile until finishMoves, so each move is also checked for every role's document during
// it (old and new subjects together) against the quota.
// Pure and in-process: no Pulumi, no IAM.

import { createHash } from "crypto";
import { parseStackConfig, type StackConfig } from "../components/config";
import { reservedNamespaceProblem } from "../components/names";
import { ANCHOR_SUBJECTS, managedPolicySize, planTrust, providerArnForSizing, shardsNeeded, userShards, type TrustPlan } from "../components/placement";
import { autoPlacement, type ShardItem, type ShardPlacement } from "../components/shardPlacement";
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

/** A profile of the bench: its namespace and, when not only default-editor, its service accounts. */
interface BenchProfile {
    name: string;
    serviceAccounts?: string[];
}

function stackConfig(profiles: readonly BenchProfile[], maxChars: number, shards: number | "auto"): StackConfig {
    const values: Record<string, string> = {
        "aws:region": REGION,
        "kubeflow-irsa:clusterName": CLUSTER,
        "kubeflow-irsa:kubeflowInstalled": "true",
        "kubeflow-irsa:trustPolicyMaxChars": String(maxChars),
        "kubeflow-irsa:userRoleShards": String(shards),
        "kubeflow-irsa:profiles": JSON.stringify(profiles.map((p, i) => ({ ...p, owner: `user${i}@example.com` }))),
    };
    return parseStackConfig((key) => values[key]);
}

/** Every seventh profile trusts two or three service accounts: more than 5% of a role at 2048. */
function mixed(names: readonly string[]): BenchProfile[] {
    return names.map((name, i) => (i % 7 === 0 ? { name, serviceAccounts: i % 14 === 0 ? ["default-editor", "default"] : ["default-editor", "default", "ml-pipeline"] } : { name }));
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
        draining.set(old.roleName, [...(draining.get(old.roleName) ?? []), ...subjectsOf(config, profile)]);
    }
    let overDuringMove = 0;
    for (const g of after.groups.filter((g) => g.managed && after.names.users.includes(g.roleName))) {
        const during = { anchor: g.anchor, subjects: [...new Set([...g.subjects, ...(draining.get(g.roleName) ?? [])])] };
        if (managedPolicySize(providerArn, during) > config.trustPolicyMaxChars) overDuringMove++;
    }
    return { moved, intoNew, overDuringMove };
}

/** The subjects of a profile of `config`. */
function subjectsOf(config: StackConfig, name: string): string[] {
    const profile = config.profiles.find((p) => p.name === name);
    return (profile?.serviceAccounts ?? ["default-editor"]).map((sa) => subjectOf(name, sa));
}

/** Single-profile changes (adds and removes alternate, seeded) of a stack with auto: what each moves. */
interface ChangeFigures {
    changes: number;
    /** Moves per change, the count changes included: mean and max. */
    movesMean: number;
    movesMax: number;
    /** The changes that moved auto's count, and the most any of them moved. */
    countChanged: number;
    countChangeMovesMax: number;
    /** Changes after which some role's document passes the quota while the moves drain, and such roles in all. */
    changesOver: number;
    overDuringChanges: number;
}

function changeFigures(profiles: readonly BenchProfile[], spare: readonly BenchProfile[], maxChars: number, changes: number): ChangeFigures {
    const config = stackConfig(profiles, maxChars, "auto");
    const plan = planTrust(config);
    const removed = Array.from({ length: changes }, (_, c) => bytesOf(CHANGE_SEED, c).readUInt32BE(0) % profiles.length);
    const moves: number[] = [];
    const countChangeMoves: number[] = [];
    let [changesOver, overDuringChanges] = [0, 0];
    for (let c = 0; c < changes; c++) {
        const changed = c % 2 === 0 ? [...profiles, spare[c]] : profiles.filter((_, i) => i !== removed[c]);
        const after = planTrust(stackConfig(changed, maxChars, "auto"));
        const m = movesBetween(plan, after, stackConfig(changed, maxChars, "auto"));
        moves.push(m.moved);
        if (after.names.users.length !== plan.names.users.length) countChangeMoves.push(m.moved);
        if (m.overDuringMove > 0) changesOver++;
        overDuringChanges += m.overDuringMove;
    }
    return {
        changes,
        movesMean: moves.reduce((a, b) => a + b, 0) / Math.max(moves.length, 1),
        movesMax: Math.max(0, ...moves),
        countChanged: countChangeMoves.length,
        countChangeMovesMax: Math.max(0, ...countChangeMoves),
        changesOver,
        overDuringChanges,
    };
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
    /** Single-profile changes of default-editor profiles. */
    changes: ChangeFigures;
    /** Profiles added one at a time until auto grows by one role: what that change moves. */
    growthAdded: number;
    growthTo: number;
    growthMoved: number;
    growthIntoNew: number;
    growthOverDuringMove: number;
    /** The first profile of two, then of three service accounts, added to the default-editor ones: what it moves. */
    firstLarge: { moved: number; overDuringMove: number }[];
    /** userRoleShards from the rendezvous count to auto: what the first `up` moves. */
    switchMoved: number;
    switchOverDuringMove: number;
    /** The mix (every seventh profile of two or three service accounts): perfect, auto, its changes, and the switch. */
    mixedPerfect: number;
    mixedAuto: number;
    mixedChanges: ChangeFigures;
    mixedSwitchFrom: number;
    mixedSwitchMoved: number;
    mixedSwitchOverDuringMove: number;
}

/** ⌈Σ(subject + 3) / room⌉ of the profiles' subjects. */
function perfectOf(config: StackConfig, room: number): number {
    return Math.ceil(config.profiles.flatMap((p) => subjectsOf(config, p.name)).reduce((sum, s) => sum + s.length + LIST_ITEM_OVERHEAD, 0) / room);
}

/** Section 4 for one quota. `progress` reports long steps. */
export function placementRow(maxChars: number, progress: (text: string) => void, changes = PLACEMENT_CHANGES): PlacementRow {
    const pool = namespaceNames(PLACEMENT_PROFILES + changes + 200);
    const names = pool.slice(0, PLACEMENT_PROFILES);
    const profiles: BenchProfile[] = names.map((name) => ({ name }));
    const spare: BenchProfile[] = pool.slice(PLACEMENT_PROFILES).map((name) => ({ name }));
    const config = stackConfig(profiles, maxChars, "auto");
    const providerArn = providerArnForSizing(config);
    const room = maxChars - policySize(buildTrustPolicy(providerArn, [ANCHOR_SUBJECTS.user]));

    let started = process.hrtime.bigint();
    const rendezvous = shardsNeeded(config, maxChars)!;
    const rendezvousMs = since(started);
    started = process.hrtime.bigint();
    const placed = userShards(config);
    const autoMs = since(started);
    const plan = planTrust(config, placed);
    const largest = Math.max(...plan.groups.filter((g) => plan.names.users.includes(g.roleName)).map((g) => managedPolicySize(providerArn, g)));

    progress(`placement at quota ${maxChars}: ${changes} single-profile changes at ${placed.shards} roles…`);
    const changeRow = changeFigures(profiles, spare, maxChars, changes);

    progress(`placement at quota ${maxChars}: adding profiles until auto grows by one role…`);
    let grown = [...profiles];
    let previous = plan;
    let growth = { moved: 0, intoNew: 0, overDuringMove: 0 };
    let added = 0;
    for (const extra of spare.slice(changes)) {
        grown = [...grown, extra];
        const next = planTrust(stackConfig(grown, maxChars, "auto"));
        added++;
        if (next.names.users.length > previous.names.users.length) {
            growth = movesBetween(previous, next, config);
            previous = next;
            break;
        }
        previous = next;
    }

    const firstLarge = [["default-editor", "default"], ["default-editor", "default", "ml-pipeline"]].map((serviceAccounts) => {
        const withLarge = [...profiles, { name: spare[spare.length - 1].name, serviceAccounts }];
        const m = movesBetween(plan, planTrust(stackConfig(withLarge, maxChars, "auto")), stackConfig(withLarge, maxChars, "auto"));
        return { moved: m.moved, overDuringMove: m.overDuringMove };
    });

    progress(`placement at quota ${maxChars}: switching userRoleShards ${rendezvous} → auto…`);
    const switched = movesBetween(planTrust(stackConfig(profiles, maxChars, rendezvous)), plan, config);

    progress(`placement at quota ${maxChars}: the same with every seventh profile of two or three service accounts…`);
    const mix = mixed(names);
    const mixConfig = stackConfig(mix, maxChars, "auto");
    const mixPlan = planTrust(mixConfig);
    const mixChanges = changeFigures(mix, mixed(pool.slice(PLACEMENT_PROFILES)), maxChars, changes);
    const mixFrom = shardsNeeded(mixConfig, maxChars)!;
    const mixSwitched = movesBetween(planTrust(stackConfig(mix, maxChars, mixFrom)), mixPlan, mixConfig);

    return {
        maxChars,
        profiles: names.length,
        room,
        perfect: perfectOf(config, room),
        rendezvous,
        rendezvousMs,
        auto: placed.shards,
        autoMs,
        largest,
        changes: changeRow,
        growthAdded: added,
        growthTo: previous.names.users.length,
        growthMoved: growth.moved,
        growthIntoNew: growth.intoNew,
        growthOverDuringMove: growth.overDuringMove,
        firstLarge,
        switchMoved: switched.moved,
        switchOverDuringMove: switched.overDuringMove,
        mixedPerfect: perfectOf(mixConfig, room),
        mixedAuto: mixPlan.names.users.length,
        mixedChanges: mixChanges,
        mixedSwitchFrom: mixFrom,
        mixedSwitchMoved: mixSwitched.moved,
        mixedSwitchOverDuringMove: mixSwitched.overDuringMove,
    };
}

/**
 * While the moves from `before` to `after` drain: the most characters any shard holds (what it now
 * has plus what left it, still trusted until finishMoves; a removed profile goes at once), and the
 * characters that moved. `items`: the profiles after the change.
 */
export function whileDraining(items: readonly ShardItem[], before: ShardPlacement, after: ShardPlacement): { most: number; movedChars: number } {
    const holds = new Map<number, number>();
    let movedChars = 0;
    for (const i of items) {
        const [was, now] = [before.shardOf.get(i.name), after.shardOf.get(i.name)!];
        holds.set(now, (holds.get(now) ?? 0) + i.cost);
        if (was === undefined || was === now) continue;
        holds.set(was, (holds.get(was) ?? 0) + i.cost);
        movedChars += i.cost;
    }
    return { most: Math.max(...holds.values()), movedChars };
}

/** Seeded single-profile changes of smaller stacks, placed as `auto` does: how many leave a role over its room while the moves drain. */
export interface DrainStressRow {
    label: string;
    changes: number;
    /** Changes after which some role holds more than its room: its new subjects and those that left it. */
    over: number;
    /** The most such a role went over, as a share of the characters that moved. */
    worstShareOfMoved: number;
}

/**
 * `changes` seeded changes (half added, half removed) of stacks of 50–600 profiles on roles of
 * 1,500–7,700 characters of room; each profile takes 1–7.5% of a role (within the drain reserve),
 * or, with `largeShare`, 7.5–15% for that share of them. Costs are drawn directly (no names to
 * measure), so the stacks differ in shape more than the 5,000-profile ones above.
 */
export function drainStress(label: string, changes: number, largeShare: number, seed: number): DrainStressRow {
    let counter = 0;
    const next = () => bytesOf(seed, counter++).readUInt32BE(0) / 2 ** 32;
    const size = () => (next() < largeShare ? 75 + Math.floor(next() * 76) : 10 + Math.floor(next() * 66)); // per mille of the room
    let [over, worst] = [0, 0];
    for (let c = 0; c < changes; c++) {
        const room = 1500 + Math.floor(next() * 6201);
        const count = 50 + Math.floor(next() * 551);
        const item = (i: number) => ({ name: `p${c}-${i}`, cost: Math.floor((size() * room) / 1000) });
        const items = Array.from({ length: count }, (_, i) => item(i));
        const gone = Math.floor(next() * count);
        const changed = c % 2 === 0 ? [...items, item(count)] : items.filter((_, i) => i !== gone);
        const { most, movedChars } = whileDraining(changed, autoPlacement(items, new Map(), room), autoPlacement(changed, new Map(), room));
        if (most <= room) continue;
        over++;
        worst = Math.max(worst, (most - room) / movedChars);
    }
    return { label, changes, over, worstShareOfMoved: worst };
}
