// Which kf-user shard each profile without an awsIamRole gets, as pure functions of the profiles'
// names and costs (characters of their subjects in a trust policy) and the shard count: `npm run
// synth` computes the same placement offline as `pulumi up`, and two machines agree. Two ways:
//
// - An explicit `userRoleShards: N` — rendezvous (highest-random-weight) hashing, unchanged since
//   the first version (shardOf): a profile's shard depends on its name and N alone. Stable, but
//   balanced only statistically, so the fullest shard sets the count.
// - `userRoleShards: auto` — rendezvous with bounded loads (boundedPlacement): every profile
//   proposes to the shards in its own rendezvous order, and a shard keeps the proposals it ranks
//   highest while they fit its capacity (deferred acceptance, Gale–Shapley). It packs the shards
//   close to their capacity, and a change moves few profiles: see the README, "Scaling past one
//   role's quota", for what it guarantees and what it does not.

import { createHash } from "crypto";
import { MAX_USER_ROLE_SHARDS } from "./config";

/**
 * What `auto` leaves free on each shard for subjects that drain (a moved profile stays trusted by
 * its old role until finishMoves, see providers/moves.ts): a shard that both gains and loses
 * profiles in one `up` holds both until the move is finished. The chain of moves one change
 * starts brings a shard one profile (it may pass a shard twice, rarely), so the reserve is the
 * largest profile's subjects, and at least
 * DRAIN_RESERVE of the room; at most DRAIN_RESERVE_MAX of it, so that one profile with many
 * service accounts does not cost every shard its room (such a profile is better given an
 * awsIamRole of its own).
 */
export const DRAIN_RESERVE = 0.05;
export const DRAIN_RESERVE_MAX = 0.2;

/** How full `auto` packs its shards on average, as a share of their capacity (room less the drain reserve). */
export const AUTO_FILL = 0.9;

/** A profile to place: its name (the hash key) and the characters its subjects take in a trust policy. */
export interface ShardItem {
    name: string;
    cost: number;
}

/** Where each profile goes; `unplaced` profiles fitted no shard and sit on their first choice, over capacity. */
export interface ShardPlacement {
    shards: number;
    shardOf: Map<string, number>;
    unplaced: string[];
}

/** MurmurHash3's 32-bit finalizer: a cheap, well-mixed bijection on 32-bit integers. */
function fmix32(h: number): number {
    h ^= h >>> 16;
    h = Math.imul(h, 0x85ebca6b);
    h ^= h >>> 13;
    h = Math.imul(h, 0xc2b2ae35);
    h ^= h >>> 16;
    return h >>> 0;
}

/** A profile's hash seed: the first 64 bits of SHA-256 of its name. */
function seedOf(profile: string): [number, number] {
    const digest = createHash("sha256").update(profile).digest();
    return [digest.readUInt32BE(0), digest.readUInt32BE(4)];
}

/** The weight of a (profile, shard) pair. Part of the contract: changing it would move profiles. */
function weight(seed: [number, number], shard: number): number {
    return fmix32(seed[0] ^ fmix32((seed[1] + Math.imul(shard + 1, 0x9e3779b9)) >>> 0));
}

/** The shard of highest weight among `shards` (the first of equals), skipping `skip`; -1 when every shard is skipped. */
function bestShard(seed: [number, number], shards: number, skip?: ReadonlySet<number>): { shard: number; weight: number } {
    let best = -1;
    let bestWeight = -1;
    for (let shard = 0; shard < shards; shard++) {
        if (skip?.has(shard)) continue;
        const w = weight(seed, shard);
        if (w > bestWeight) {
            best = shard;
            bestWeight = w;
        }
    }
    return { shard: best, weight: bestWeight };
}

/**
 * The kf-user shard of a profile for an explicit count: rendezvous (highest-random-weight) hashing.
 * It depends only on the profile's name and the shard count, so adding or removing other profiles
 * never moves a profile, and growing from n to n+1 shards moves only the ~1/(n+1) of profiles the
 * new shard wins.
 */
export function shardOf(profile: string, shards: number): number {
    return bestShard(seedOf(profile), shards).shard;
}

/**
 * The smallest count from `from` on at which rendezvous hashing (shardOf) keeps every shard within
 * `room` characters, with `pinned` characters already on some shards (profiles whose awsIamRole
 * names a shard); undefined when none up to MAX_USER_ROLE_SHARDS does. Each profile's winner is
 * kept as the count grows, so the search costs one hash per profile and count.
 */
export function rendezvousShardsNeeded(items: readonly ShardItem[], pinned: ReadonlyMap<number, number>, room: number, from = 1): number | undefined {
    const free = items.map((item) => {
        const seed = seedOf(item.name);
        return { cost: item.cost, seed, shard: 0, weight: weight(seed, 0) };
    });
    for (let shards = 1; shards <= MAX_USER_ROLE_SHARDS; shards++) {
        if (shards > 1) {
            for (const p of free) {
                const w = weight(p.seed, shards - 1);
                if (w > p.weight) Object.assign(p, { shard: shards - 1, weight: w });
            }
        }
        if (shards < from) continue;
        const sizes = Array.from({ length: shards }, (_, i) => pinned.get(i) ?? 0);
        for (const p of free) sizes[p.shard] += p.cost;
        if (sizes.every((size) => size <= room)) return shards;
    }
    return undefined;
}

/** One profile's proposal to a shard, and how the shard ranks it: all of it independent of the count. */
interface Proposal {
    item: ShardItem;
    /** No lower-numbered shard outweighs this one for the profile: at some count it is the profile's rendezvous shard. */
    rising: boolean;
    /**
     * When rising: the lowest higher-numbered shard that outweighs it — the count at which
     * rendezvous hashing hands the profile on (MAX_USER_ROLE_SHARDS: never). At any count below
     * that and above the shard's number, the shard is the profile's first choice.
     */
    tenure: number;
    weight: number;
}

/**
 * How a shard ranks its proposals, best first: those for which rendezvous keeps it longest as the
 * count grows (rising, then tenure) — so profiles whose first choice it is come before profiles
 * turned away by theirs; then by weight, then by name (code units, the same on every machine).
 */
function ranks(a: Proposal, b: Proposal): number {
    if (a.rising !== b.rising) return a.rising ? -1 : 1;
    return b.tenure - a.tenure || b.weight - a.weight || (a.item.name < b.item.name ? -1 : a.item.name > b.item.name ? 1 : 0);
}

/**
 * A proposal's standing (see Proposal). `first`: the shard is the profile's first choice among
 * `shards`, so no other shard below the count outweighs it and the scan starts at the count.
 */
function proposal(item: ShardItem, seed: [number, number], shard: number, w: number, shards: number, first: boolean): Proposal {
    if (!first) {
        // A lower shard of equal weight wins too (rendezvous takes the first of equals).
        for (let lower = 0; lower < shard; lower++) if (weight(seed, lower) >= w) return { item, rising: false, tenure: 0, weight: w };
    }
    for (let higher = first ? shards : shard + 1; higher < MAX_USER_ROLE_SHARDS; higher++) {
        if (weight(seed, higher) > w) return { item, rising: true, tenure: higher, weight: w };
    }
    return { item, rising: true, tenure: MAX_USER_ROLE_SHARDS, weight: w };
}

/**
 * Rendezvous hashing with bounded loads: each profile proposes to the shards in its rendezvous
 * order (highest weight first); a shard keeps the longest run of its best-ranked proposals (see
 * ranks) that fits its `capacity` — the best one alone may use up to `limit` — and turns the rest
 * away, who propose to their next shard; once it has turned a proposal away it takes none ranked
 * below it (a smaller one would fit the gap, but then a shard's set would depend on the order the
 * proposals came in). The order is fixed anyway (by name), so it is a pure function.
 *
 * Why this ranking: a profile's rank at a shard does not depend on the count, and the profiles a
 * count change brings to a shard rank below those it keeps. Growing the count by one therefore
 * moves a profile that sits on its own shard only to the new shard (or, if the new shard turns it
 * away, back where it was); lowering it — or switching from an explicit count to auto — never
 * pushes a shard's own profiles out for those the dropped shards leave, so every shard then only
 * gains or only loses, and no trust policy holds more than its old or its new subjects while
 * moves drain.
 */
export function boundedPlacement(items: readonly ShardItem[], shards: number, capacity: readonly number[], limit: readonly number[]): ShardPlacement {
    const ordered = [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const seeds = new Map(ordered.map((item) => [item, seedOf(item.name)]));
    const refused = new Map<ShardItem, Set<number>>();
    const held: Proposal[][] = Array.from({ length: shards }, () => []);
    const used = new Array<number>(shards).fill(0);
    // The best-ranked proposal each shard has turned away: it takes nothing ranked below it since,
    // so that what a shard holds is always the longest run of its best proposals that fits.
    const cutoff: (Proposal | undefined)[] = new Array(shards).fill(undefined);
    const unplaced: ShardItem[] = [];
    // Profiles to (re)propose; the last is next, so the first name goes first.
    const pending = ordered.reverse();
    while (pending.length > 0) {
        const item = pending.pop()!;
        const seed = seeds.get(item)!;
        const skip = refused.get(item) ?? new Set<number>();
        refused.set(item, skip);
        const { shard, weight: w } = bestShard(seed, shards, skip);
        if (shard < 0) {
            unplaced.push(item);
            continue;
        }
        const offer = proposal(item, seed, shard, w, shards, skip.size === 0);
        skip.add(shard);
        const below = cutoff[shard];
        if (below !== undefined && ranks(below, offer) < 0) {
            pending.push(item);
            continue;
        }
        const list = held[shard];
        let at = list.length;
        while (at > 0 && ranks(list[at - 1], offer) > 0) at--;
        list.splice(at, 0, offer);
        if (list.length > 1 && used[shard] + item.cost <= capacity[shard]) {
            used[shard] += item.cost; // all still fit: nobody is turned away
            continue;
        }
        let sum = 0;
        let kept = 0;
        for (; kept < list.length; kept++) {
            const cost = list[kept].item.cost;
            if (kept === 0 ? cost > limit[shard] : sum + cost > capacity[shard]) break;
            sum += cost;
        }
        used[shard] = sum;
        const turnedAway = list.splice(kept);
        if (turnedAway.length > 0) cutoff[shard] = turnedAway[0];
        pending.push(...turnedAway.map((p) => p.item).reverse());
    }
    const placement = new Map<string, number>();
    held.forEach((list, shard) => list.forEach((p) => placement.set(p.item.name, shard)));
    // What no shard could take stays on its first choice, so that the capacity check names that shard.
    for (const item of unplaced) placement.set(item.name, bestShard(seeds.get(item)!, shards).shard);
    return { shards, shardOf: placement, unplaced: unplaced.map((item) => item.name) };
}

/**
 * `userRoleShards: auto`: the smallest count, one at a time, at which boundedPlacement places every
 * profile with the shards filled to AUTO_FILL of their capacity on average, the capacity being
 * `room` less the drain reserve; and never fewer than the highest pinned shard needs. `pinned`:
 * characters already on a shard (profiles whose awsIamRole names it). When even
 * MAX_USER_ROLE_SHARDS do not fit, the placement at that count, with what did not fit unplaced.
 */
export function autoPlacement(items: readonly ShardItem[], pinned: ReadonlyMap<number, number>, room: number): ShardPlacement {
    const largest = items.reduce((most, item) => Math.max(most, item.cost), 0);
    const capacity = room - Math.min(Math.max(Math.ceil(room * DRAIN_RESERVE), largest), Math.floor(room * DRAIN_RESERVE_MAX));
    const total = items.reduce((sum, item) => sum + item.cost, 0) + [...pinned.values()].reduce((a, b) => a + b, 0);
    const least = Math.max(1, Math.ceil(total / (AUTO_FILL * capacity)), ...[...pinned.keys()].map((shard) => shard + 1));
    // A profile whose subjects alone exceed a role's room fits no count: more shards would not help.
    const oversized = new Set(items.filter((item) => item.cost > room).map((item) => item.name));
    let placement: ShardPlacement | undefined;
    for (let shards = Math.min(least, MAX_USER_ROLE_SHARDS); shards <= MAX_USER_ROLE_SHARDS; shards++) {
        const free = (cap: number) => Array.from({ length: shards }, (_, i) => cap - (pinned.get(i) ?? 0));
        placement = boundedPlacement(items, shards, free(capacity), free(room));
        if (placement.unplaced.every((name) => oversized.has(name))) return placement;
    }
    return placement!;
}
