// Role placement: sticky sharding of kf-user, grouping per role, capacity at preview time.
import { strict as assert } from "assert";
import { parseStackConfig, type StackConfig } from "../../components/config";
import { planStack } from "../../components/kubeflowIrsa";
import { ANCHOR_SUBJECTS, capacityProblems, managedPolicySize, planTrust, providerArnForSizing, shardsNeeded } from "../../components/placement";
import { shardOf } from "../../components/shardPlacement";
import { applySubjectChange, buildTrustPolicy, policySize } from "../../domain/trustPolicy";

const WORDS = ["vision", "nlp", "speech", "recsys", "fraud", "search", "ads", "risk", "maps", "ml-infra"];
const names = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `team-${WORDS[(i + from) % WORDS.length]}-${i + from}`);

function config(profileNames: string[], extra: Record<string, string> = {}): StackConfig {
    const values: Record<string, string> = {
        "aws:region": "us-west-2",
        "kubeflow-irsa:clusterName": "kf-prod",
        "kubeflow-irsa:kubeflowInstalled": "false",
        "kubeflow-irsa:profiles": JSON.stringify(profileNames.map((name, i) => ({ name, owner: `user${i}@example.com` }))),
        ...extra,
    };
    return parseStackConfig((key) => values[key]);
}

const assignment = (c: StackConfig) => new Map([...planTrust(c).profileRoles].map(([p, r]) => [p, r.roleName]));

describe("placement: which role each profile uses", () => {
    it("GIVEN 8 shards WHEN other profiles are added or removed THEN no existing profile moves", () => {
        const before = assignment(config(names(300), { "kubeflow-irsa:userRoleShards": "8" }));
        const grown = assignment(config([...names(300), ...names(200, 300)], { "kubeflow-irsa:userRoleShards": "8" }));
        const shrunk = assignment(config(names(300).filter((_, i) => i % 3 !== 0), { "kubeflow-irsa:userRoleShards": "8" }));
        for (const [profile, role] of before) {
            assert.equal(grown.get(profile), role, `${profile} moved when profiles were added`);
            if (shrunk.has(profile)) assert.equal(shrunk.get(profile), role, `${profile} moved when profiles were removed`);
        }
    });

    it("GIVEN 2,000 profiles WHEN shards grow from 4 to 5 THEN only the new shard's share moves, and only into the new shard", () => {
        const profiles = names(2000);
        let moved = 0;
        for (const p of profiles) {
            const from = shardOf(p, 4);
            const to = shardOf(p, 5);
            if (from !== to) {
                moved++;
                assert.equal(to, 4, `${p} moved between old shards`);
            }
        }
        // Expected 2000/5 = 400; a hash this size stays well within ±25%.
        assert.ok(moved > 300 && moved < 500, `moved ${moved}`);
    });

    it("GIVEN 5,000 profiles over 10 shards THEN each shard holds 500 ± 20%", () => {
        const counts = new Array(10).fill(0);
        for (const p of names(5000)) counts[shardOf(p, 10)]++;
        for (const c of counts) assert.ok(c > 400 && c < 600, `shard sizes ${counts}`);
    });

    it("GIVEN a managed role's plan THEN its predicted size is exactly what the provider will write", () => {
        const c = config(names(25));
        const plan = planTrust(c);
        const providerArn = providerArnForSizing(c);
        const user = plan.groups.find((g) => g.roleName === "kf-user-us-west-2-kf-prod")!;
        const initial = buildTrustPolicy(providerArn, [ANCHOR_SUBJECTS.user]);
        const after = applySubjectChange(initial, { providerArn, add: user.subjects, remove: [] }).document;
        assert.equal(managedPolicySize(providerArn, user), policySize(after));
    });

    it("GIVEN a region of each partition THEN the provider ARN sized at preview is in that partition (the SDK's partition table, as every other ARN)", () => {
        for (const [region, partition] of [["us-west-2", "aws"], ["cn-northwest-1", "aws-cn"], ["us-gov-east-1", "aws-us-gov"], ["us-iso-east-1", "aws-iso"], ["us-isob-east-1", "aws-iso-b"]]) {
            assert.match(providerArnForSizing(config(names(1), { "aws:region": region })), new RegExp(`^arn:${partition}:iam::000000000000:oidc-provider/oidc\\.eks\\.${region}\\.`), region);
        }
    });

    it("GIVEN 60 profiles on one kf-user role at 2048 WHEN planned THEN preview fails naming the role, size, limit and the shard count that fits", () => {
        const c = config(names(60));
        const needed = shardsNeeded(c, 2048)!;
        assert.ok(needed >= 2);
        assert.throws(
            () => planStack(c),
            (err: Error) => {
                assert.match(err.message, /role "kf-user-us-west-2-kf-prod": its trust policy would be \d{4} characters with 61 subjects, over kubeflow-irsa:trustPolicyMaxChars \(2048\)/);
                assert.match(err.message, new RegExp(`set kubeflow-irsa:userRoleShards to ${needed}`));
                assert.match(err.message, /raise the account's "Role trust policy length" quota \(Service Quotas, IAM, code L-C07B4B0D\) to 8192 and set kubeflow-irsa:trustPolicyMaxChars: 8192 \(then 1 shard fit\)/);
                return true;
            },
        );
        const fixed = config(names(60), { "kubeflow-irsa:userRoleShards": String(needed) });
        assert.deepEqual(capacityProblems(fixed, planTrust(fixed)), []);
        assert.ok(planStack(fixed).groups.length >= needed + 1);
    });

    it("GIVEN 5,000 profiles THEN the shard counts that fit are what the benchmark reports, and every shard fits", () => {
        for (const limit of [2048, 4096, 8192]) {
            const c = config(names(5000), { "kubeflow-irsa:trustPolicyMaxChars": String(limit) });
            const shards = shardsNeeded(c, limit)!;
            const withShards = config(names(5000), { "kubeflow-irsa:trustPolicyMaxChars": String(limit), "kubeflow-irsa:userRoleShards": String(shards) });
            assert.deepEqual(capacityProblems(withShards, planTrust(withShards)), []);
            const fewer = config(names(5000), { "kubeflow-irsa:trustPolicyMaxChars": String(limit), "kubeflow-irsa:userRoleShards": String(shards - 1) });
            assert.notDeepEqual(capacityProblems(fewer, planTrust(fewer)), [], `${shards - 1} shards must not fit at ${limit}`);
        }
    });

    it("GIVEN shards WHEN the longest shard name passes 64 characters THEN the error counts the suffix", () => {
        const c = config(names(1), { "kubeflow-irsa:clusterName": "a".repeat(44), "kubeflow-irsa:userRoleShards": "12" });
        assert.throws(() => planStack(c), /makes the role name "kf-user-us-west-2-a{44}-10" 65 characters, over IAM's limit of 64; use a cluster name of at most 43 characters in us-west-2 with 12 shards/);
    });
});
