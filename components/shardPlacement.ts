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
 * The share of a shard's room that `auto` leaves free for subjects that drain (a moved profile
 * stays trusted by its old role until finishMoves, see providers/moves.ts): a shard that both
 * gains and loses profiles in one `up` holds both until the move is finished.
 */
export const DRAIN_RESERVE = 0.05;

/** How full `auto` packs its shards on average, as a share of their capacity (room less DRAIN_RESERVE). */
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

/** One profile's proposal to a shard, and how the shard ranks it. */
interface Proposal {
    item: ShardItem;
    /** The shard is the profile's first choice (its rendezvous shard at this count). */
    own: boolean;
    /**
     * For its own shard: the lowest shard number beyond the count whose weight beats it — the
     * count at which rendezvous would hand the profile to another shard (MAX_USER_ROLE_SHARDS:
     * never). Independent of the count, since no shard below it beats the profile's own.
     */
    tenure: number;
    weight: number;
}

/**
 * How a shard ranks its proposals, best first: profiles whose first choice it is before profiles
 * pushed out of theirs; among the first, those it would keep longest as the count grows (tenure);
 * then by weight, then by name (code units, the same on every machine).
 */
function ranks(a: Proposal, b: Proposal): number {
    if (a.own !== b.own) return a.own ? -1 : 1;
    return b.tenure - a.tenure || b.weight - a.weight || (a.item.name < b.item.name ? -1 : a.item.name > b.item.name ? 1 : 0);
}

/**
 * Rendezvous hashing with bounded loads: each profile proposes to the shards in its rendezvous
 * order (highest weight first); a shard keeps the longest run of its best-ranked proposals (see
 * ranks) that fits its `capacity` — a single proposal alone may use up to `limit` — and turns the
 * rest away, who propose to their next shard. The result is the same whatever order the proposals
 * come in only up to ties of size; the order here is fixed (by name), so it is a pure function.
 *
 * Why this ranking: a shard never gives up a profile it holds as its own for a newcomer that ranks
 * it lower, so growing the count moves a profile that sits on its own shard only to the new shard,
 * and lowering it (or switching from an explicit count to auto) never pushes a shard's own
 * profiles out for the ones the dropped shards leave.
 */
export function boundedPlacement(items: readonly ShardItem[], shards: number, capacity: readonly number[], limit: readonly number[]): ShardPlacement {
    const ordered = [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const seeds = new Map(ordered.map((item) => [item, seedOf(item.name)]));
    const refused = new Map<ShardItem, Set<number>>();
    const held: Proposal[][] = Array.from({ length: shards }, () => []);
    const used = new Array<number>(shards).fill(0);
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
        const own = skip.size === 0;
        skip.add(shard);
        const proposal: Proposal = { item, own, tenure: own ? tenureOf(seed, w, shards) : 0, weight: w };
        const list = held[shard];
        let at = list.length;
        while (at > 0 && ranks(list[at - 1], proposal) > 0) at--;
        list.splice(at, 0, proposal);
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
        pending.push(...list.splice(kept).map((p) => p.item).reverse());
    }
    const placement = new Map<string, number>();
    held.forEach((list, shard) => list.forEach((p) => placement.set(p.item.name, shard)));
    // What no shard could take stays on its first choice, so that the capacity check names that shard.
    for (const item of unplaced) placement.set(item.name, bestShard(seeds.get(item)!, shards).shard);
    return { shards, shardOf: placement, unplaced: unplaced.map((item) => item.name) };
}

/** The lowest shard number from `from` on whose weight beats `w`; MAX_USER_ROLE_SHARDS when none does. */
function tenureOf(seed: [number, number], w: number, from: number): number {
    for (let shard = from; shard < MAX_USER_ROLE_SHARDS; shard++) if (weight(seed, shard) > w) return shard;
    return MAX_USER_ROLE_SHARDS;
}

/**
 * `userRoleShards: auto`: the smallest count, one at a time, at which boundedPlacement places every
 * profile with the shards filled to AUTO_FILL of their capacity on average, the capacity being
 * `room` less DRAIN_RESERVE; and never fewer than the highest pinned shard needs. `pinned`:
 * characters already on a shard (profiles whose awsIamRole names it). When even
 * MAX_USER_ROLE_SHARDS do not fit, the placement at that count, with what did not fit unplaced.
 */
export function autoPlacement(items: readonly ShardItem[], pinned: ReadonlyMap<number, number>, room: number): ShardPlacement {
    const capacity = Math.floor(room * (1 - DRAIN_RESERVE));
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
