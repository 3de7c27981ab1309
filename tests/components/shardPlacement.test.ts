// kf-user placement with `userRoleShards: auto` (rendezvous with bounded loads), through the
// planner the program uses (planTrust / planStack): every role within the quota, as the document
// TrustSubjects writes measures; a count near the perfect packing; few moves per change, also
// when the change moves the count or brings the first large profile; growth that moves a profile
// sitting on its own shard only into the growing role; a switch from an explicit count that never
// overfills a role while the moves drain; and a pure function of the config. Properties over seeded inputs (fast-check, fixed seeds): no timing is asserted.
import { strict as assert } from "assert";
import fc from "fast-check";
import { ConfigError, parseStackConfig, type StackConfig } from "../../components/config";
import { planStack } from "../../components/kubeflowIrsa";
import { reservedNamespaceProblem } from "../../components/names";
import { ANCHOR_SUBJECTS, planTrust, shardsNeeded, type TrustPlan } from "../../components/placement";
import { whileDraining } from "../../bench/placement";
import { autoPlacement, autoShards, boundedPlacement, shardOf } from "../../components/shardPlacement";
import { applySubjectChange, buildTrustPolicy, policySize } from "../../domain/trustPolicy";

const ACCOUNT = "210987654321";
const ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/5C3D7E1F0A2B4C6D8E9F0A1B2C3D4E5F";
const PROVIDER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${ISSUER}`;
const KF_USER = "kf-user-eu-west-1-kf-ml";
const QUOTAS = [2048, 4096, 8192];

interface Profile {
    name: string;
    serviceAccounts?: string[];
    awsIamRole?: string;
}

function config(profiles: readonly Profile[], maxChars: number, shards: number | "auto" = "auto"): StackConfig {
    const values: Record<string, unknown> = {
        "aws:region": "eu-west-1",
        "kubeflow-irsa:clusterName": "kf-ml",
        "kubeflow-irsa:kubeflowInstalled": "true",
        "kubeflow-irsa:existingCluster": { oidcIssuerUrl: `https://${ISSUER}`, oidcProviderArn: PROVIDER },
        "kubeflow-irsa:trustPolicyMaxChars": String(maxChars),
        "kubeflow-irsa:userRoleShards": String(shards),
        "kubeflow-irsa:profiles": profiles.map((p, i) => ({ owner: `owner${i}@example.com`, ...p })),
    };
    return parseStackConfig((key) => values[key] as string | object | undefined);
}

const subjectsOf = (p: Profile) => (p.serviceAccounts ?? ["default-editor"]).map((sa) => `system:serviceaccount:${p.name}:${sa}`);

/** As IAM measures it: the document a kf-user role holds after TrustSubjects adds these subjects to the anchor it was created with. */
function documentChars(subjects: readonly string[]): number {
    const created = buildTrustPolicy(PROVIDER, [ANCHOR_SUBJECTS.user]);
    return policySize(applySubjectChange(created, { providerArn: PROVIDER, add: [...subjects], remove: [] }).document);
}

/** The issue's perfect packing: ⌈Σ(subject + 3) / room⌉, room = the quota less the anchor-only document. */
function perfect(profiles: readonly Profile[], maxChars: number): number {
    const room = maxChars - policySize(buildTrustPolicy(PROVIDER, [ANCHOR_SUBJECTS.user]));
    return Math.ceil(profiles.flatMap(subjectsOf).reduce((sum, s) => sum + s.length + 3, 0) / room);
}

const kfUsers = (plan: TrustPlan) => plan.groups.filter((g) => plan.names.users.includes(g.roleName));
const roleOf = (plan: TrustPlan) => new Map([...plan.profileRoles].map(([p, r]) => [p, r.roleName]));

/** Every kf-user role's document while the moves from `before` to `after` drain: its new subjects and those that left it. */
function duringMoves(before: TrustPlan, after: TrustPlan, profiles: readonly Profile[]): Map<string, number> {
    const was = roleOf(before);
    const left = new Map<string, string[]>();
    for (const p of profiles) {
        const old = was.get(p.name);
        if (old !== undefined && old !== after.profileRoles.get(p.name)?.roleName) left.set(old, [...(left.get(old) ?? []), ...subjectsOf(p)]);
    }
    return new Map(kfUsers(after).map((g) => [g.roleName, documentChars([...new Set([...g.subjects, ...(left.get(g.roleName) ?? [])])])]));
}

function moved(before: TrustPlan, after: TrustPlan): string[] {
    const was = roleOf(before);
    return [...roleOf(after)].filter(([p, role]) => was.has(p) && was.get(p) !== role).map(([p]) => p);
}

// Namespaces of 8–20 characters (RFC 1123, none a namespace Kubernetes or Kubeflow owns); some
// profiles trust two or three service accounts.
const namespace = fc.stringMatching(/^[a-z][a-z0-9-]{6,18}[a-z0-9]$/).filter((n) => reservedNamespaceProblem(n) === undefined);
const accounts = fc.oneof(
    { weight: 6, arbitrary: fc.constant(undefined) },
    { weight: 1, arbitrary: fc.constantFrom(["default-editor", "default"], ["default-editor", "default", "ml-pipeline"]) },
);
const profilesOf = (min: number, max: number) =>
    fc.uniqueArray(fc.tuple(namespace, accounts), { minLength: min, maxLength: max, size: "max", selector: ([n]) => n }).map((list) => list.map(([name, sa]): Profile => (sa ? { name, serviceAccounts: [...sa] } : { name })));
const quota = fc.constantFrom(...QUOTAS);
const RUNS = { seed: 20, numRuns: 25, endOnFailure: true };

/** 5,000 profiles of 8–20 characters, the issue's figure: seeded, so every run places the same. */
function fiveThousand(): Profile[] {
    return fc.sample(fc.uniqueArray(namespace, { minLength: 5000, maxLength: 5000 }), { seed: 5000, numRuns: 1 })[0].map((name) => ({ name }));
}

describe("kf-user placement with userRoleShards: auto", () => {
    it("GIVEN any profiles at any quota THEN every kf-user role's document is within the quota, and every profile is placed", () => {
        fc.assert(
            fc.property(profilesOf(1, 1500), quota, (profiles, maxChars) => {
                const plan = planStack(config(profiles, maxChars));
                for (const g of kfUsers(plan)) assert.ok(documentChars(g.subjects) <= maxChars, `${g.roleName}: ${documentChars(g.subjects)} > ${maxChars}`);
                // Every profile on one of the count's kf-user roles, none on a role that only drains.
                assert.equal(plan.profileRoles.size, profiles.length);
                assert.ok([...plan.profileRoles.values()].every((r) => plan.names.users.includes(r.roleName)));
                // A role that holds a profile over the drain reserve keeps that profile's size free instead.
                assert.ok(plan.names.users.length <= 1.2 * perfect(profiles, maxChars) + 1, `${plan.names.users.length} roles, perfect ${perfect(profiles, maxChars)}`);
            }),
            RUNS,
        );
    });

    it("GIVEN default-editor profiles of 8–20 characters, any number THEN the count is within 1.2× the perfect packing (plus one for rounding)", () => {
        fc.assert(
            fc.property(fc.uniqueArray(namespace, { minLength: 1, maxLength: 3000, size: "max" }), quota, (names, maxChars) => {
                const profiles = names.map((name) => ({ name }));
                const count = planStack(config(profiles, maxChars)).names.users.length;
                assert.ok(count <= 1.2 * perfect(profiles, maxChars) + 1, `${count} roles, perfect ${perfect(profiles, maxChars)}`);
            }),
            RUNS,
        );
    });

    it("GIVEN 5,000 profiles with names of 8–20 characters THEN auto uses at most 1.2× the perfect count at 2048, 4096 and 8192, each role within the quota", () => {
        const profiles = fiveThousand();
        for (const maxChars of QUOTAS) {
            const plan = planStack(config(profiles, maxChars));
            const best = perfect(profiles, maxChars);
            assert.ok(plan.names.users.length <= 1.2 * best, `${maxChars}: ${plan.names.users.length} roles, perfect ${best}`);
            for (const g of kfUsers(plan)) assert.ok(documentChars(g.subjects) <= maxChars, `${g.roleName} at ${maxChars}`);
        }
    });

    it("GIVEN a stack with auto WHEN one profile is added or removed THEN at most 1% of the others move, also when the count changes, and no role's document passes the quota while they drain", () => {
        fc.assert(
            fc.property(profilesOf(800, 2000), quota, fc.nat(), fc.boolean(), namespace, accounts, (profiles, maxChars, pick, add, extra, sa) => {
                fc.pre(!profiles.some((p) => p.name === extra));
                const changed = add ? [...profiles, sa ? { name: extra, serviceAccounts: [...sa] } : { name: extra }] : profiles.filter((_, i) => i !== pick % profiles.length);
                const before = planTrust(config(profiles, maxChars));
                const after = planTrust(config(changed, maxChars));
                assert.ok(moved(before, after).length <= 0.01 * profiles.length, `${moved(before, after).length} of ${profiles.length} moved`);
                for (const [role, chars] of duringMoves(before, after, changed)) assert.ok(chars <= maxChars, `${role}: ${chars} > ${maxChars} while moves drain`);
            }),
            RUNS,
        );
    });

    it("GIVEN 5,000 default-editor profiles WHEN the first profile of several service accounts arrives THEN at most 1% move and no role passes the quota while they drain: the stack is not re-packed", () => {
        const profiles = fiveThousand();
        const before = planTrust(config(profiles, 2048));
        for (const serviceAccounts of [["default-editor", "default"], ["default-editor", "default", "ml-pipeline", "katib-controller"], Array.from({ length: 12 }, (_, i) => `runner-${i}`)]) {
            const changed = [...profiles, { name: "team-multi-sa", serviceAccounts }];
            const after = planTrust(config(changed, 2048));
            assert.ok(moved(before, after).length <= 50, `${serviceAccounts.length} service accounts: ${moved(before, after).length} moved`);
            for (const [role, chars] of duringMoves(before, after, changed)) assert.ok(chars <= 2048, `${role}: ${chars} > 2048 while moves drain`);
        }
    });

    it("GIVEN 400 seeded changes of stacks with a fifth of their profiles over the drain reserve, up to 15% of a role THEN at most 1 in 100 leaves a shard over its room while the moves drain, by less than the profiles that moved", () => {
        // Sizes as shares of a role's room (per mille): 1–7.5% (within the reserve), or 7.5–15% (three to six service accounts at 2048).
        const item = fc.record({ name: namespace, size: fc.oneof({ weight: 4, arbitrary: fc.integer({ min: 10, max: 75 }) }, { weight: 1, arbitrary: fc.integer({ min: 76, max: 150 }) }) });
        const change = fc.tuple(fc.uniqueArray(item, { minLength: 50, maxLength: 600, size: "max", selector: (i) => i.name }), fc.integer({ min: 1500, max: 7700 }), fc.nat(), fc.boolean(), item);
        let over = 0;
        for (const [list, room, pick, add, more] of fc.sample(change, { seed: 22, numRuns: 400 })) {
            const sized = (i: { name: string; size: number }) => ({ name: i.name, cost: Math.floor((i.size * room) / 1000) });
            const [items, extra] = [list.map(sized), sized(more)];
            if (items.some((i) => i.name === extra.name)) continue;
            const changed = add ? [...items, extra] : items.filter((_, i) => i !== pick % items.length);
            const [before, after] = [autoPlacement(items, new Map(), room), autoPlacement(changed, new Map(), room)];
            assert.deepEqual([before.unplaced, after.unplaced], [[], []]);
            const { most: worst, movedChars } = whileDraining(changed, before, after);
            if (worst <= room) continue;
            over++;
            assert.ok(worst - room < movedChars, `${worst} > ${room} while moves drain, by more than the ${movedChars} characters that moved`);
        }
        assert.ok(over <= 4, `${over} of 400 changes left a shard over its room while moves drain`);
    });

    it("GIVEN the same profiles WHEN the last shard's load grows (more profiles came) THEN a profile on its own first-choice shard moves only into that shard, or stays", () => {
        const item = fc.record({ name: namespace, cost: fc.integer({ min: 48, max: 200 }) });
        const share = fc.integer({ min: 0, max: 1000 }).map((n) => n / 1000);
        fc.assert(
            fc.property(fc.uniqueArray(item, { minLength: 100, maxLength: 1500, size: "max", selector: (i) => i.name }), fc.integer({ min: 1500, max: 7700 }), share, share, (items, room, a, b) => {
                fc.pre(a !== b);
                const [from, to] = a < b ? [a, b] : [b, a];
                const reserve = Math.ceil(0.075 * room);
                const total = items.reduce((sum, i) => sum + i.cost, 0);
                const n = Math.max(2, Math.ceil(total / (0.92 * (room - reserve))));
                const last = n - 1;
                const at = (s: number) =>
                    boundedPlacement(items, n, { room: new Array(n).fill(room), load: Array.from({ length: n }, (_, i) => (i === last ? s : 1) * (room - reserve)) }, reserve);
                const [before, after] = [at(from), at(to)];
                fc.pre(before.unplaced.length === 0 && after.unplaced.length === 0);
                let intoLast = 0;
                for (const { name } of items) {
                    const [was, now] = [before.shardOf.get(name)!, after.shardOf.get(name)!];
                    if (was === now) continue;
                    // Its own shard: its rendezvous shard among all n — or among the others, when the last one turned it away.
                    if (was === shardOf(name, n) || was === shardOf(name, last)) assert.equal(now, last, `${name} left its own shard ${was} for shard ${now}, not the growing one`);
                    if (now === last) intoLast++;
                }
                assert.ok(to - from < 0.1 || intoLast > 0, "the growing shard takes profiles");
            }),
            RUNS,
        );
    });

    it("GIVEN profiles added one at a time WHEN the one that grows auto's count arrives THEN the count grows by one and at most 1% of the profiles move, the new role's included", () => {
        fc.assert(
            fc.property(profilesOf(300, 1500), quota, fc.uniqueArray(namespace, { minLength: 200, maxLength: 200 }), (profiles, maxChars, extras) => {
                let current = profiles;
                let plan = planTrust(config(current, maxChars));
                for (const name of extras.filter((n) => !profiles.some((p) => p.name === n))) {
                    const next = [...current, { name }];
                    const grown = planTrust(config(next, maxChars));
                    if (grown.names.users.length === plan.names.users.length) {
                        [current, plan] = [next, grown];
                        continue;
                    }
                    assert.equal(grown.names.users.length, plan.names.users.length + 1, "one role at a time");
                    // The new role starts nearly empty: the count grows by a profile's worth of load, not by a role's.
                    assert.ok(moved(plan, grown).length <= 0.01 * current.length, `${moved(plan, grown).length} of ${current.length} moved`);
                    for (const [role, chars] of duringMoves(plan, grown, next)) assert.ok(chars <= maxChars, `${role}: ${chars} > ${maxChars} while moves drain`);
                    return;
                }
                assert.fail(`200 added profiles never grew the count of ${plan.names.users.length}`);
            }),
            { seed: 21, numRuns: 12, endOnFailure: true },
        );
    });

    it("GIVEN profiles within the drain reserve at an explicit count no lower than auto's WHEN the stack switches to auto THEN each role either only gains or only loses, so no document passes the quota while the moves drain", () => {
        // Within the reserve (7.5% of a role's room): default-editor, or it and `default`, at any quota.
        const small = fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constant(["default-editor", "default"]) });
        const profilesWith = fc.uniqueArray(fc.tuple(namespace, small), { minLength: 300, maxLength: 1500, size: "max", selector: ([n]) => n });
        fc.assert(
            fc.property(profilesWith, quota, (list, maxChars) => {
                const profiles: Profile[] = list.map(([name, sa]) => (sa ? { name, serviceAccounts: [...sa] } : { name }));
                const auto = planTrust(config(profiles, maxChars));
                // The smallest explicit count that fits, as the capacity error tells a user to set.
                const explicit = shardsNeeded(config(profiles, maxChars, 1), maxChars)!;
                assert.ok(planStackFits(profiles, maxChars, explicit));
                fc.pre(explicit >= auto.names.users.length);
                const before = planTrust(config(profiles, maxChars, explicit));
                const was = new Map(kfUsers(before).map((g) => [g.roleName, new Set(g.subjects)]));
                for (const g of kfUsers(auto)) {
                    const old = was.get(g.roleName) ?? new Set<string>();
                    const now = new Set(g.subjects);
                    const gains = g.subjects.some((s) => !old.has(s));
                    const loses = [...old].some((s) => !now.has(s));
                    assert.ok(!(gains && loses), `${g.roleName} both gains and loses`);
                }
                for (const [role, chars] of duringMoves(before, auto, profiles)) assert.ok(chars <= maxChars, `${role}: ${chars} > ${maxChars}`);
            }),
            RUNS,
        );
    });

    it("GIVEN a small stack (50–800 profiles) WHEN one profile is added or removed THEN at most 1% of the others move, or 8 if that is more", () => {
        fc.assert(
            fc.property(profilesOf(50, 800), quota, fc.nat(), fc.boolean(), namespace, (profiles, maxChars, pick, add, extra) => {
                fc.pre(!profiles.some((p) => p.name === extra));
                const changed = add ? [...profiles, { name: extra }] : profiles.filter((_, i) => i !== pick % profiles.length);
                const count = moved(planTrust(config(profiles, maxChars)), planTrust(config(changed, maxChars))).length;
                assert.ok(count <= Math.max(8, 0.01 * profiles.length), `${count} of ${profiles.length} moved`);
            }),
            { seed: 23, numRuns: 60, endOnFailure: true },
        );
    });

    it("GIVEN profiles of many service accounts (over a quarter of a role) WHEN one is added THEN it takes a role beyond the count and no other profile moves; one that fills a role alone takes one role", () => {
        const profiles = fiveThousand().slice(0, 1500);
        const before = planTrust(config(profiles, 2048));
        const runners = Array.from({ length: 12 }, (_, i) => `runner-${i}`);
        const changed = [...profiles, { name: "team-many-runners", serviceAccounts: runners }];
        const after = planTrust(config(changed, 2048));
        assert.deepEqual(moved(before, after), []);
        assert.equal(after.names.users.length, before.names.users.length + 1);
        assert.equal(after.profileRoles.get("team-many-runners")!.roleName, after.names.users[after.names.users.length - 1]);
        // Alone, a profile as large as a role's room besides the anchor is one role, not one per share of its load.
        const room = 2048 - documentChars([]);
        const fill = (n: number) => Array.from({ length: n }, (_, i) => `sa-${String(i).padStart(3, "0")}`);
        let accounts = fill(1);
        while (documentChars(subjectsOf({ name: "team-huge", serviceAccounts: fill(accounts.length + 1) })) <= 2048) accounts = fill(accounts.length + 1);
        assert.ok(documentChars(subjectsOf({ name: "team-huge", serviceAccounts: accounts })) > 2048 - 60, `${room}`);
        assert.deepEqual(planTrust(config([{ name: "team-huge", serviceAccounts: accounts }], 2048)).names.users, [KF_USER]);
    });

    it("GIVEN several profiles over a quarter of a role THEN auto adds the fewest extra roles that take them all, as one placement over every role would", () => {
        // Sizes as shares of a role's room (per mille): most within the reserve, some of 25–70% of a role.
        const item = fc.record({ name: namespace, size: fc.oneof({ weight: 6, arbitrary: fc.integer({ min: 10, max: 75 }) }, { weight: 1, arbitrary: fc.integer({ min: 250, max: 700 }) }) });
        fc.assert(
            fc.property(fc.uniqueArray(item, { minLength: 20, maxLength: 300, size: "max", selector: (i) => i.name }), fc.integer({ min: 1500, max: 7700 }), (list, room) => {
                const items = list.map((i) => ({ name: i.name, cost: Math.floor((i.size * room) / 1000) }));
                const { open, reserve, limits } = autoShards(items, new Map(), room);
                // One placement over the counted roles and k extras, k = 0, 1, 2, … until nothing is left over.
                let k = 0;
                let whole = boundedPlacement(items, open, limits(open), reserve, open);
                while (whole.unplaced.length > 0) {
                    k++;
                    whole = boundedPlacement(items, open + k, limits(open + k), reserve, open);
                }
                const auto = autoPlacement(items, new Map(), room);
                assert.equal(auto.shards, open + k);
                assert.deepEqual(auto.unplaced, []);
                assert.deepEqual([...auto.shardOf].sort(), [...whole.shardOf].sort());
            }),
            { seed: 24, numRuns: 40, endOnFailure: true },
        );
    });

    it("GIVEN the same profiles in another order THEN the placement is the same: a pure function of the config", () => {
        fc.assert(
            fc.property(profilesOf(50, 800), quota, fc.nat(), (profiles, maxChars, seed) => {
                const shuffled = fc.sample(fc.shuffledSubarray(profiles, { minLength: profiles.length }), { seed, numRuns: 1 })[0];
                assert.deepEqual(roleOf(planTrust(config(shuffled, maxChars))), roleOf(planTrust(config(profiles, maxChars))));
            }),
            RUNS,
        );
    });

    it("GIVEN few profiles THEN auto is one role, the plan the default (unset) makes: a new stack starts as before", () => {
        const profiles = ["team-vision", "team-nlp", "data-eng"].map((name) => ({ name }));
        const unset = config(profiles, 2048, 1);
        assert.deepEqual(planTrust(config(profiles, 2048)).groups, planTrust(unset).groups);
        assert.deepEqual(planTrust(config(profiles, 2048)).names.users, [KF_USER]);
    });

    it("GIVEN an awsIamRole that names kf-user shard 3 in the deploying account THEN auto keeps at least 4 roles and counts that profile on shard 3", () => {
        const profiles: Profile[] = [{ name: "team-pinned", awsIamRole: `arn:aws:iam::${ACCOUNT}:role/${KF_USER}-3`, serviceAccounts: ["default-editor", "default"] }, { name: "team-a" }];
        const plan = planStack(config(profiles, 2048), ACCOUNT);
        assert.equal(plan.names.users.length, 4);
        const shard3 = kfUsers(plan).find((g) => g.roleName === `${KF_USER}-3`)!;
        assert.ok(shard3.profiles.includes("team-pinned"));
        assert.ok(documentChars(shard3.subjects) <= 2048);
    });

    it("GIVEN a profile whose service accounts alone exceed a role WHEN planned with auto THEN preview fails naming the role, its size and the profile", () => {
        const many = Array.from({ length: 40 }, (_, i) => `runner-${String(i).padStart(2, "0")}`);
        const profiles: Profile[] = [{ name: "team-huge", serviceAccounts: many }, { name: "team-a" }];
        assert.throws(
            () => planStack(config(profiles, 2048)),
            (err: Error) => {
                assert.ok(err instanceof ConfigError);
                assert.match(err.message, new RegExp(`role "${KF_USER}(-\\d+)?": its trust policy would be \\d{4} characters with \\d+ subjects, over kubeflow-irsa:trustPolicyMaxChars \\(2048\\)`));
                assert.match(err.message, /profile "team-huge" alone needs \d{4} characters of subjects, more than a role holds besides its anchor \(\d{4}\); give it an awsIamRole of its own, or fewer serviceAccounts/);
                assert.match(err.message, /raise the account's "Role trust policy length" quota .* to 8192 .*\(then 1 shard fit\)/);
                return true;
            },
        );
    });

    it("GIVEN an explicit count too small THEN preview names the role, its size, the explicit count that fits and the count auto would use", () => {
        const profiles = fiveThousand().slice(0, 400);
        assert.throws(
            () => planStack(config(profiles, 2048, 2)),
            (err: Error) => {
                const auto = planStack(config(profiles, 2048)).names.users.length;
                let explicit = 3;
                while (planStackFits(profiles, 2048, explicit) === false) explicit++;
                assert.match(err.message, new RegExp(`role "${KF_USER}(-1)?": its trust policy would be \\d{4,5} characters with \\d+ subjects, over kubeflow-irsa:trustPolicyMaxChars \\(2048\\)`));
                assert.match(err.message, new RegExp(`set kubeflow-irsa:userRoleShards to ${explicit}, or to auto \\(${auto} shards fit now, and the stack picks the count as profiles come and go`));
                return true;
            },
        );
    });
});

describe("kf-user placement with an explicit userRoleShards (unchanged, so no stack moves a profile on upgrade)", () => {
    // Computed by the placement of the versions before `auto` (rendezvous hashing of the name).
    const EARLIER: Record<string, number[]> = {
        "team-vision": [1, 2, 4, 38, 742],
        "team-nlp": [0, 0, 5, 33, 640],
        "team-speech": [0, 0, 0, 16, 695],
        "team-recsys": [1, 2, 2, 7, 147],
        "data-eng": [1, 1, 3, 8, 659],
        "ml-prod": [0, 2, 6, 38, 337],
        "fraud-detection": [0, 0, 0, 12, 827],
        "a1b2c3d4": [1, 1, 3, 3, 210],
        "search-ranking-2025x": [1, 2, 6, 8, 705],
        "kubeflow-user-example-com": [0, 2, 5, 22, 741],
    };
    const COUNTS = [2, 3, 7, 50, 1000];

    it("GIVEN the profiles and counts an earlier version placed THEN each is on the same shard", () => {
        for (const [name, shards] of Object.entries(EARLIER)) assert.deepEqual(COUNTS.map((n) => shardOf(name, n)), shards, name);
    });

    it("GIVEN userRoleShards 7 THEN the plan puts every profile on its rendezvous shard, however full the others are", () => {
        const profiles = Object.keys(EARLIER).map((name) => ({ name }));
        const plan = planTrust(config(profiles, 2048, 7));
        for (const [name, shards] of Object.entries(EARLIER)) {
            const expected = shards[2] === 0 ? KF_USER : `${KF_USER}-${shards[2]}`;
            assert.equal(plan.profileRoles.get(name)!.roleName, expected, name);
        }
    });
});

/** Whether an explicit count fits (planStack refuses one that does not). */
function planStackFits(profiles: readonly Profile[], maxChars: number, shards: number): boolean {
    try {
        planStack(config(profiles, maxChars, shards));
        return true;
    } catch (err) {
        if (err instanceof ConfigError) return false;
        throw err;
    }
}
