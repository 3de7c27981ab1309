// Which kf-user shard each profile without an awsIamRole gets, as pure functions of the profiles'
// names and costs (characters of their subjects in a trust policy) and the shard count: `npm run
// synth` computes the same placement offline as `pulumi up`, and two machines agree. Two ways:
//
// - An explicit `userRoleShards: N` — rendezvous (highest-random-weight) hashing, unchanged since
//   the first version (shardOf): a profile's shard depends on its name and N alone. Stable, but
//   balanced only statistically, so the fullest shard sets the count.
// - `userRoleShards: auto` — rendezvous with bounded loads (boundedPlacement): every profile
//   proposes to the shards in its own rendezvous order, and a shard keeps the proposals it ranks
//   highest while they fit its load (deferred acceptance, Gale–Shapley), at the count the load
//   comes to, the last shard taking only its share (autoCount, autoPlacement). It packs the shards
//   close to their capacity, and a change moves few profiles, also when it moves the count: see
//   the README, "Scaling past one role's quota", for what it guarantees and what it does not.

import { createHash } from "crypto";
import { MAX_USER_ROLE_SHARDS } from "./config";

/**
 * What `auto` leaves free on each shard for subjects that drain (a moved profile stays trusted by
 * its old role until finishMoves, see providers/moves.ts): a shard that both gains and loses
 * profiles in one `up` holds both until the move is finished. The chain of moves one change
 * starts brings a shard one profile, so a shard keeps free the largest profile it could gain or
 * lose in one: DRAIN_RESERVE of its room for a "small" profile (one whose subjects fit in that),
 * or its own largest "large" profile, if more — see boundedPlacement for why that suffices. A
 * fixed share, not the largest profile of the stack: a stack's first large profile changes only
 * the capacity of the shard that takes it, so it moves nobody else.
 */
export const DRAIN_RESERVE = 0.075;

/**
 * How full `auto` packs its shards on average, as a share of their capacity (room less the drain
 * reserve): 92%, kept as two integers so that the count and the last shard's share come out the
 * same on every machine (IEEE 754 rounds the quotient of two integers correctly everywhere).
 */
const AUTO_FILL_NUMERATOR = 92;
const AUTO_FILL_DENOMINATOR = 100;

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

/**
 * The shard of highest weight (the first of equals), skipping `skip`, among the first `open` shards
 * and, only when all of those are skipped, among the others below `shards`; -1 when every shard is
 * skipped. With `open` at `shards` (an explicit count): plain rendezvous order.
 */
function bestShard(seed: [number, number], shards: number, skip?: ReadonlySet<number>, open = shards): { shard: number; weight: number } {
    const among = (from: number, to: number) => {
        let best = -1;
        let bestWeight = -1;
        for (let shard = from; shard < to; shard++) {
            if (skip?.has(shard)) continue;
            const w = weight(seed, shard);
            if (w > bestWeight) {
                best = shard;
                bestWeight = w;
            }
        }
        return { shard: best, weight: bestWeight };
    };
    const split = Math.min(open, shards);
    const first = among(0, split);
    return first.shard >= 0 ? first : among(split, shards);
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

/**
 * The count `auto` uses for `total` characters of subjects on shards that take `capacity` each (room
 * less the reserve): as many as that load fills to 92% on average, the last one only partly: it
 * may take `share` (0 ≤ share ≤ 1; 0 only with no load) of a full shard's capacity. Integers and
 * one division each, so every machine computes the same.
 *
 * The share is how `auto` grows by one profile's worth instead of by one role. Adding a profile
 * raises the last shard's load a little, so it keeps a few more of the profiles that propose to it
 * (they move into it, and the room they leave lets others back to their own shards); when the
 * share reaches 1, the next profile starts a new shard that takes almost nothing yet. Removing one
 * does the reverse.
 */
export function autoCount(total: number, capacity: number): { count: number; share: number } {
    const perShard = AUTO_FILL_NUMERATOR * capacity;
    const load = AUTO_FILL_DENOMINATOR * total;
    const count = Math.max(1, Math.ceil(load / perShard));
    return { count, share: Math.max(0, load - perShard * (count - 1)) / perShard };
}

/** One profile's proposal to a shard, and how the shard ranks it: all of it independent of the count. */
interface Proposal {
    item: ShardItem;
    /** Its subjects take more than the drain reserve: ranked below every small profile, smallest first. */
    large: boolean;
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
 * How a shard ranks its proposals, best first. Small profiles before large ones, and large ones
 * smallest first: what a shard turns away for a newcomer is then never smaller than the newcomer
 * unless it is small (see boundedPlacement). Then those for which rendezvous keeps the shard
 * longest as the count grows (rising, then tenure) — so profiles whose first choice it is come
 * before profiles turned away by theirs; then by weight, then by name (code units, the same on
 * every machine).
 */
function ranks(a: Proposal, b: Proposal): number {
    if (a.large !== b.large) return a.large ? 1 : -1;
    if (a.large && a.item.cost !== b.item.cost) return a.item.cost - b.item.cost;
    if (a.rising !== b.rising) return a.rising ? -1 : 1;
    return b.tenure - a.tenure || b.weight - a.weight || (a.item.name < b.item.name ? -1 : a.item.name > b.item.name ? 1 : 0);
}

/**
 * A proposal's standing (see Proposal). `first`: the shard is the best of the first `open` shards
 * for the profile (the others come after them in every profile's order, see boundedPlacement), so
 * no lower shard outweighs it and, of the higher ones, only those from `open` on may.
 */
function proposal(item: ShardItem, large: boolean, seed: [number, number], shard: number, w: number, open: number, first: boolean): Proposal {
    if (!first) {
        // A lower shard of equal weight wins too (rendezvous takes the first of equals).
        for (let lower = 0; lower < shard; lower++) if (weight(seed, lower) >= w) return { item, large, rising: false, tenure: 0, weight: w };
    }
    for (let higher = first && shard < open ? open : shard + 1; higher < MAX_USER_ROLE_SHARDS; higher++) {
        if (weight(seed, higher) > w) return { item, large, rising: true, tenure: higher, weight: w };
    }
    return { item, large, rising: true, tenure: MAX_USER_ROLE_SHARDS, weight: w };
}

/** What each shard may hold: `room` characters of subjects in all, `load` of them for profiles, the rest kept free for draining. */
export interface ShardLimits {
    room: readonly number[];
    /** At most room − reserve; less on a partly open shard (autoCount's last), which then also takes no lone profile beyond it. */
    load: readonly number[];
}

/**
 * Rendezvous hashing with bounded loads (`from`: only to shards from that number on; see
 * autoPlacement): each profile proposes to the first `open` shards in its
 * rendezvous order (highest weight first), and to the others, in that order too, only once all of
 * those have turned it away; a shard keeps the longest run of its best-ranked proposals (see ranks)
 * that fits its load with its drain reserve kept free — a lone profile on a fully open shard may
 * use all of its room — and turns the rest away, who propose to their next shard; once it has
 * turned a proposal away it takes none ranked below it (a smaller one would fit the gap, but then a
 * shard's set would depend on the order the proposals came in). The order is fixed anyway (by
 * name), so it is a pure function.
 *
 * A shard's reserve is `reserve` (DRAIN_RESERVE of the room), or its largest large profile's
 * subjects if more. While the moves of one change drain, a shard holds its old subjects plus what
 * it gained — equally, its new ones plus what it lost. What it gains for what it turns away ranks
 * above it: either small (within the reserve it kept before) or large and no larger than what it
 * turned away (within the reserve its largest profile set). What it takes back after losing
 * something ranks below that: the loss is small, or no larger than the newcomer that sets its new
 * reserve. A shard that only gains or only loses holds no more than its old or its new subjects.
 *
 * Why the rising/tenure ranking: a profile's rank at a shard does not depend on the count, and the
 * profiles a count change brings to a shard rank below those it keeps; lowering the count — or
 * switching from an explicit count to auto — therefore never pushes a shard's own small profiles
 * out for those the dropped shards leave.
 */
export function boundedPlacement(items: readonly ShardItem[], shards: number, limits: ShardLimits, reserve: number, open = shards, from = 0): ShardPlacement {
    const ordered = [...items].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    const seeds = new Map(ordered.map((item) => [item, seedOf(item.name)]));
    const refused = new Map<ShardItem, Set<number>>();
    const held: Proposal[][] = Array.from({ length: shards }, () => []);
    const used = new Array<number>(shards).fill(0);
    // The best-ranked proposal each shard has turned away: it takes nothing ranked below it since,
    // so that what a shard holds is always the longest run of its best proposals that fits.
    const cutoff: (Proposal | undefined)[] = new Array(shards).fill(undefined);
    const unplaced: ShardItem[] = [];
    /** Whether a run of proposals, `sum` characters in all and ending in `last`, fits `shard`. */
    const fits = (shard: number, sum: number, last: Proposal, alone: boolean) => {
        const room = limits.room[shard];
        if (alone && limits.load[shard] >= room - reserve) return sum <= room;
        return sum <= limits.load[shard] && sum + Math.max(reserve, last.large ? last.item.cost : 0) <= room;
    };
    // Profiles to (re)propose; the last is next, so the first name goes first.
    const pending = ordered.reverse();
    while (pending.length > 0) {
        const item = pending.pop()!;
        const seed = seeds.get(item)!;
        const skip = refused.get(item) ?? new Set<number>(Array.from({ length: from }, (_, shard) => shard));
        refused.set(item, skip);
        const { shard, weight: w } = bestShard(seed, shards, skip, open);
        if (shard < 0) {
            unplaced.push(item);
            continue;
        }
        const offer = proposal(item, item.cost > reserve, seed, shard, w, open, skip.size === 0);
        // (with `from`, no proposal is a first one: the scan for a lower shard of more weight runs)
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
        if (list.length > 1 && fits(shard, used[shard] + item.cost, list[list.length - 1], false)) {
            used[shard] += item.cost; // all still fit: nobody is turned away
            continue;
        }
        let sum = 0;
        let kept = 0;
        for (; kept < list.length; kept++) {
            if (!fits(shard, sum + list[kept].item.cost, list[kept], kept === 0)) break;
            sum += list[kept].item.cost;
        }
        used[shard] = sum;
        const turnedAway = list.splice(kept);
        if (turnedAway.length > 0) cutoff[shard] = turnedAway[0];
        pending.push(...turnedAway.map((p) => p.item).reverse());
    }
    const placement = new Map<string, number>();
    held.forEach((list, shard) => list.forEach((p) => placement.set(p.item.name, shard)));
    // What no shard could take stays on its first choice, so that the capacity check names that shard.
    for (const item of unplaced) placement.set(item.name, bestShard(seeds.get(item)!, shards, undefined, open).shard);
    return { shards, shardOf: placement, unplaced: unplaced.map((item) => item.name) };
}

/**
 * What large profiles take of the shards beyond their subjects, for the count: a shard that holds
 * one keeps its size free instead of `reserve` (see boundedPlacement), so each costs its excess
 * over the reserve — while there are fewer than two per shard. With more, each shard keeps free
 * only its largest, about twice their mean excess: the excess then counts for two per shard.
 * Without it the count would leave large profiles out and fall back on an extra shard for them, a
 * step of a whole role that a single change can take back, and leave less room for the moves of a
 * change to drain.
 */
function largeExcess(items: readonly ShardItem[], reserve: number, shards: number): number {
    const large = items.filter((item) => item.cost > reserve);
    if (large.length === 0) return 0;
    const excess = large.reduce((sum, item) => sum + item.cost - reserve, 0);
    return Math.floor((excess * Math.min(large.length, 2 * shards)) / large.length);
}

/**
 * The shards `auto` counts, and what each shard may hold at a given number of shards in all. The
 * count is what the load asks for (autoCount: the shards filled to 92% of their capacity on
 * average, the last one partly; largeExcess counted in), and never fewer than the highest pinned
 * shard needs (`pinned`: characters already on a shard, of profiles whose awsIamRole names it). A
 * profile over a quarter of a shard's capacity is not counted: with its own size kept free besides
 * it, it cannot share a shard with a full load, so counting it would only add shards it does not
 * use.
 */
export function autoShards(items: readonly ShardItem[], pinned: ReadonlyMap<number, number>, room: number): { open: number; reserve: number; limits: (shards: number) => ShardLimits } {
    const reserve = Math.ceil(room * DRAIN_RESERVE);
    const capacity = room - reserve;
    const counted = items.filter((item) => 4 * item.cost <= capacity);
    const total = counted.reduce((sum, item) => sum + item.cost, 0) + [...pinned.values()].reduce((a, b) => a + b, 0);
    const { count, share } = autoCount(total + largeExcess(counted, reserve, autoCount(total, capacity).count), capacity);
    const open = Math.min(Math.max(count, ...[...pinned.keys()].map((shard) => shard + 1)), MAX_USER_ROLE_SHARDS);
    const limits = (shards: number): ShardLimits => {
        const rooms = Array.from({ length: shards }, (_, i) => room - (pinned.get(i) ?? 0));
        // The last shard of a count above one takes its share of a full shard's load, pinned
        // profiles included; a lone shard (kf-user itself) is always there, whole.
        const partial = (i: number) => count > 1 && i === count - 1;
        return { room: rooms, load: rooms.map((r, i) => (partial(i) ? Math.min(r - reserve, share * capacity - (pinned.get(i) ?? 0)) : r - reserve)) };
    };
    return { open, reserve, limits };
}

/**
 * `userRoleShards: auto`: the shards autoShards counts, and beyond them the fewest extra shards
 * that take what the counted ones turn away (profiles over a quarter of a shard, mostly). Every
 * profile proposes to the counted shards first and to the extras, in its rendezvous order among
 * them, only once all the counted ones have refused it, so what the counted shards take does not
 * depend on the extras: they are placed once, and only the profiles left over are placed again on
 * 1, 2, 4, … extras, then on the fewest between the last two tries. When even
 * MAX_USER_ROLE_SHARDS do not fit, the placement at that count, with what did not fit unplaced.
 */
export function autoPlacement(items: readonly ShardItem[], pinned: ReadonlyMap<number, number>, room: number): ShardPlacement {
    const { open, reserve, limits } = autoShards(items, pinned, room);
    const placed = boundedPlacement(items, open, limits(open), reserve, open);
    // A profile whose subjects alone exceed a role's room fits no count: more shards would not help.
    const refused = new Set(placed.unplaced);
    const left = items.filter((item) => refused.has(item.name) && item.cost <= room);
    if (left.length === 0) return placed;
    const extraPlacement = (extras: number) => boundedPlacement(left, open + extras, limits(open + extras), reserve, open, open);
    const most = MAX_USER_ROLE_SHARDS - open;
    let [failed, fits] = [0, Math.min(1, most)];
    let extra = extraPlacement(fits);
    while (extra.unplaced.length > 0 && fits < most) {
        [failed, fits] = [fits, Math.min(2 * fits, most)];
        extra = extraPlacement(fits);
    }
    while (extra.unplaced.length === 0 && fits - failed > 1) {
        const middle = Math.floor((failed + fits) / 2);
        const tried = extraPlacement(middle);
        if (tried.unplaced.length === 0) [fits, extra] = [middle, tried];
        else failed = middle;
    }
    const stillLeft = new Set(extra.unplaced);
    const shardOf = new Map(placed.shardOf);
    for (const [name, shard] of extra.shardOf) if (!stillLeft.has(name)) shardOf.set(name, shard);
    const placedAgain = new Set(left.map((item) => item.name));
    const unplaced = [...placed.unplaced.filter((name) => !placedAgain.has(name)), ...extra.unplaced];
    return { shards: open + fits, shardOf, unplaced };
}
