// Make before break, as a user runs it: whole `pulumi up`s of the program (under mocks) whose roles
// live in a local IAM and whose TrustSubjects run through the provider the host loads, configured
// with the stack config. A profile that moves to another role (more or fewer userRoleShards, a new
// awsIamRole) is trusted by the old role and the new one until kubeflow-irsa:finishMoves finishes
// the move; a removed profile loses its trust at once. Trust is judged by the evaluator.
import { strict as assert } from "assert";
import { cliValues } from "../support/program";
import { ACCOUNT } from "../support/fixtures";
import { localIamForSuite } from "../support/host";
import { StackLifecycle } from "../support/stackLifecycle";
import { evaluateTrustPolicy } from "../../analysis/trustEvaluation";
import { shardOf } from "../../components/shardPlacement";

const USER = "kf-user-us-west-2-kf-dev";
const shard = (n: number) => (n === 0 ? USER : `${USER}-${n}`);
const EXTERNAL = `arn:aws:iam::${ACCOUNT}:role/data-science`;
const sub = (ns: string) => `system:serviceaccount:${ns}:default-editor`;
const TEAMS = ["team-a", "team-b", "team-c", "team-d", "team-e", "team-f", "team-g", "team-h"];

type Profile = { name: string; owner: string; awsIamRole?: string };
const profile = (name: string, awsIamRole?: string): Profile => ({ name, owner: `${name}@example.com`, ...(awsIamRole ? { awsIamRole } : {}) });
const config = (profiles: Profile[], extra: Record<string, unknown> = {}) =>
    cliValues({ "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-dev", "kubeflow-irsa:kubeflowInstalled": "true", "kubeflow-irsa:profiles": profiles, ...extra });

describe("moves: make before break (program + host-loaded provider + local IAM)", function () {
    this.timeout(120_000);
    const local = localIamForSuite();
    let provider: string;
    beforeEach(() => {
        for (const name of local().roleNames()) local().removeRole(name);
        // A role managed elsewhere, trusted by EC2 as well (so it never runs empty).
        local().putRole("data-science", { Version: "2012-10-17", Statement: [{ Sid: "Ec2", Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }] });
    });

    /** Whether the role's live trust policy lets the namespace's default-editor assume it. */
    const trusts = (role: string, ns: string) => {
        const doc = local().role(role) ? local().trustPolicy(role) : { Statement: [] };
        return evaluateTrustPolicy(doc, { providerArn: provider, sub: sub(ns), aud: "sts.amazonaws.com" }).allowed;
    };
    const movedBetween = (from: number, to: number) => TEAMS.filter((t) => shardOf(t, from) !== shardOf(t, to));

    it("GIVEN userRoleShards 1 → 3 THEN each moved profile is trusted by kf-user and its new shard until finishMoves; then only by the new one, in one write on kf-user", async () => {
        const stack = new StackLifecycle(local(), "real");
        provider = (await stack.up(config(TEAMS.map((t) => profile(t))))).run.outputs.oidcProviderArn as string;
        const moved = movedBetween(1, 3);
        assert.ok(moved.length > 0 && moved.length < TEAMS.length, `the fixture moves some profiles: ${moved.join(", ")}`);

        const grown = await stack.up(config(TEAMS.map((t) => profile(t)), { "kubeflow-irsa:userRoleShards": "3" }));
        for (const team of TEAMS) {
            const target = shard(shardOf(team, 3));
            assert.ok(trusts(target, team), `${team} is trusted by its new role ${target}`);
            assert.equal(trusts(USER, team), true, `${team}: kf-user keeps trusting it (moved or not) while running pods may hold its ARN`);
        }
        assert.deepEqual(stack.trust.get(`trust-${USER}`)!.state.outs.draining, moved.map(sub).sort(), "state owns what drains");
        for (const [role, n] of Object.entries(grown.writes)) assert.ok(n <= 1, `${role}: ${n} writes`);

        const finished = await stack.up(config(TEAMS.map((t) => profile(t)), { "kubeflow-irsa:userRoleShards": "3", "kubeflow-irsa:finishMoves": "true" }));
        assert.deepEqual(finished.writes, { [USER]: 1 }, "finishing is one write on the old role, none elsewhere");
        for (const team of TEAMS) {
            assert.equal(trusts(USER, team), !moved.includes(team), `${team} after finishMoves`);
            assert.ok(trusts(shard(shardOf(team, 3)), team));
        }
        const settled = await stack.up(config(TEAMS.map((t) => profile(t)), { "kubeflow-irsa:userRoleShards": "3" }));
        assert.deepEqual(settled.writes, {}, "removing the key afterwards writes nothing");
    });

    it("GIVEN userRoleShards auto WHEN added profiles make it grow from one role to two THEN each moved profile is trusted by kf-user and its new role until finishMoves", async () => {
        const stack = new StackLifecycle(local(), "real");
        const teams = Array.from({ length: 32 }, (_, i) => `team-${String(i).padStart(2, "0")}`);
        const auto = (names: string[], extra: Record<string, unknown> = {}) => config(names.map((t) => profile(t)), { "kubeflow-irsa:userRoleShards": "auto", ...extra });
        const first = await stack.up(auto(teams.slice(0, 24)));
        provider = first.run.outputs.oidcProviderArn as string;
        assert.deepEqual(first.run.outputs.kfUserRoleArns, [`arn:aws:iam::${ACCOUNT}:role/${USER}`], "24 profiles: one role");

        const grown = await stack.up(auto(teams));
        assert.deepEqual(grown.run.outputs.kfUserRoleArns, [USER, shard(1)].map((r) => `arn:aws:iam::${ACCOUNT}:role/${r}`), "32 profiles: the count grew by one");
        const roleOf = grown.run.outputs.profileRoleArns as Record<string, string>;
        const moved = teams.slice(0, 24).filter((t) => roleOf[t].endsWith(`/${shard(1)}`));
        assert.ok(moved.length > 0, "the new role takes some of the earlier profiles");
        for (const team of teams) {
            assert.ok(trusts(roleOf[team].split("/").pop()!, team), `${team} is trusted by the role its Profile now names`);
            if (moved.includes(team)) assert.ok(trusts(USER, team), `${team}: kf-user keeps trusting it while running pods may hold its ARN`);
        }
        for (const [role, n] of Object.entries(grown.writes)) assert.ok(n <= 1, `${role}: ${n} writes`);

        await stack.up(auto(teams, { "kubeflow-irsa:finishMoves": "true" }));
        for (const team of moved) assert.equal(trusts(USER, team), false, `${team}'s move is finished`);
        for (const team of teams) assert.ok(trusts(roleOf[team].split("/").pop()!, team), `${team} keeps its new role`);
    });

    it("GIVEN userRoleShards 3 → 1 THEN the shards beyond 1 stay (the program finds them in IAM) and keep trusting their moved profiles until finishMoves deletes them", async () => {
        const stack = new StackLifecycle(local(), "real");
        const all = TEAMS.map((t) => profile(t));
        provider = (await stack.up(config(all, { "kubeflow-irsa:userRoleShards": "3" }))).run.outputs.oidcProviderArn as string;
        const lowered = await stack.up(config(all));
        assert.ok(local().role(shard(1)) && local().role(shard(2)), "no role a moved profile's pods may use is deleted");
        assert.equal(lowered.ops[`trust-${shard(2)}`], "update");
        for (const team of TEAMS) {
            assert.ok(trusts(USER, team), `${team} on kf-user`);
            const before = shardOf(team, 3);
            if (before > 0) assert.ok(trusts(shard(before), team), `${team} still trusted by ${shard(before)}, where its running pods point`);
        }
        assert.deepEqual(lowered.run.outputs.kfUserRoleArns, [`arn:aws:iam::${ACCOUNT}:role/${USER}`], "only kf-user takes profiles");

        const finished = await stack.up(config(all, { "kubeflow-irsa:finishMoves": "true" }));
        assert.equal(local().role(shard(1)), undefined, "finishMoves deletes the drained shards");
        assert.equal(local().role(shard(2)), undefined);
        assert.deepEqual([finished.ops[`trust-${shard(1)}`], finished.ops[`trust-${shard(2)}`]], ["delete", "delete"]);
        for (const team of TEAMS) assert.ok(trusts(USER, team));
    });

    it("GIVEN userRoleShards 3 → 1 and every move of the dropped shards finished by a finishMoves list THEN the next up deletes those shards; a same-named role without the stack's tags that trusts a team stops the up", async () => {
        const stack = new StackLifecycle(local(), "real");
        const all = TEAMS.map((t) => profile(t));
        provider = (await stack.up(config(all, { "kubeflow-irsa:userRoleShards": "3" }))).run.outputs.oidcProviderArn as string;
        await stack.up(config(all));
        const moved = movedBetween(3, 1);
        await stack.up(config(all, { "kubeflow-irsa:finishMoves": moved }));
        for (const team of moved) assert.equal(trusts(shard(shardOf(team, 3)), team), false, `${team}'s move is finished`);
        const after = await stack.up(config(all));
        assert.equal(local().role(shard(1)), undefined, "a shard that trusts nothing but its anchor drains nothing: it goes");
        assert.equal(local().role(shard(2)), undefined);
        assert.deepEqual([after.ops[`trust-${shard(1)}`], after.ops[`trust-${shard(2)}`]], ["delete", "delete"]);

        // A role of someone else's with a shard's name (no kubeflow-irsa tags), trusting a team: not the stack's.
        local().putRole(shard(2), { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Federated: provider }, Action: "sts:AssumeRoleWithWebIdentity", Condition: { StringEquals: { [`${provider.split("oidc-provider/")[1]}:sub`]: sub("team-a") } } }] });
        const foreign = await stack.up(config(all)).then(
            () => undefined,
            (e: Error) => e,
        );
        assert.ok(foreign, "neither taken as the stack's nor left for the engine to delete");
        assert.match(foreign.message, new RegExp(`role "${shard(2)}" is named like a kf-user shard .*does not carry this stack's tags \\(kubeflow-irsa/cluster: kf-dev, managed-by: kubeflow-irsa\\).*restore its tags.*rename it`));
        assert.ok(local().role(shard(2)) && trusts(shard(2), "team-a"), "and it is left as it is");
        local().removeRole(shard(2));
        assert.deepEqual((await stack.up(config(all))).writes, {}, "once it is gone, nothing is left to do");
    });

    it("GIVEN an awsIamRole naming a kf-user shard beyond userRoleShards THEN the config is refused before anything is registered", async () => {
        const stack = new StackLifecycle(local(), "real");
        const err = await stack.up(config([profile("team-a", `arn:aws:iam::${ACCOUNT}:role/${shard(3)}`)], { "kubeflow-irsa:userRoleShards": "2" })).then(
            () => undefined,
            (e: Error) => e,
        );
        assert.ok(err);
        assert.match(err.message, /kubeflow-irsa:profiles\[0\]\.awsIamRole: .*kf-user shard 3, which this stack creates only while kubeflow-irsa:userRoleShards is above 3 \(it is 2\).*set userRoleShards to 4/);
        assert.deepEqual(local().roleNames(), ["data-science"]);
    });

    it("GIVEN a profile moved to an awsIamRole and back THEN both roles trust it after each move; finishMoves [team-a] finishes it; the role it leaves last refuses to drop it until the move is finished", async () => {
        const stack = new StackLifecycle(local(), "real");
        provider = (await stack.up(config([profile("team-a"), profile("team-b")]))).run.outputs.oidcProviderArn as string;

        await stack.up(config([profile("team-a", EXTERNAL), profile("team-b"), profile("team-c", EXTERNAL)]));
        assert.ok(trusts("data-science", "team-a") && trusts(USER, "team-a"), "after the move both roles trust team-a");
        const done = await stack.up(config([profile("team-a", EXTERNAL), profile("team-b"), profile("team-c", EXTERNAL)], { "kubeflow-irsa:finishMoves": ["team-a"] }));
        assert.deepEqual(done.writes, { [USER]: 1 });
        assert.ok(trusts("data-science", "team-a") && !trusts(USER, "team-a") && trusts(USER, "team-b"));

        // Back to kf-user, and team-c removed: data-science keeps no profile, so the program stops registering its TrustSubjects.
        const back = await stack.up(config([profile("team-a"), profile("team-b")])).then(
            () => undefined,
            (err: Error) => err,
        );
        assert.ok(back, "the delete that would cut team-a's running pods off refuses");
        assert.match(back.message, /data-science.*still trusts system:serviceaccount:team-a:default-editor.*Only these stay.*finishMoves/s);
        assert.ok(trusts("data-science", "team-a") && trusts(USER, "team-a"), "both trust it while it drains");
        assert.equal(trusts("data-science", "team-c"), false, "team-c, removed from the config, lost its trust in the same up although the delete refused");
        assert.ok(stack.trust.has("trust-123456789012-data-science"), "the state still owns what data-science holds");

        await stack.up(config([profile("team-a"), profile("team-b")], { "kubeflow-irsa:finishMoves": "true" }));
        assert.ok(!trusts("data-science", "team-a") && trusts(USER, "team-a"));
        assert.deepEqual(local().trustPolicy("data-science").Statement.map((s: { Sid?: string }) => s.Sid), ["Ec2"], "what the stack did not write stays");
    });

    it("GIVEN a profile draining on an awsIamRole that other profiles still use WHEN the stack is destroyed THEN nothing refuses, and nothing the stack wrote stays", async () => {
        const stack = new StackLifecycle(local(), "real");
        provider = (await stack.up(config([profile("team-a", EXTERNAL), profile("team-b", EXTERNAL)]))).run.outputs.oidcProviderArn as string;
        await stack.up(config([profile("team-a"), profile("team-b", EXTERNAL)]));
        assert.deepEqual(stack.trust.get("trust-123456789012-data-science")!.state.outs.draining, [sub("team-a")], "team-a drains on data-science");
        await stack.destroy();
        assert.deepEqual(local().roleNames(), ["data-science"], "the stack's roles are gone");
        assert.deepEqual(local().trustPolicy("data-science").Statement.map((s: { Sid?: string }) => s.Sid), ["Ec2"], "data-science holds only what the stack did not write");
    });

    it("GIVEN a moved profile's old awsIamRole that someone deleted WHEN the stack lets it go THEN the delete completes: no pod can use a role that is gone", async () => {
        const stack = new StackLifecycle(local(), "real");
        provider = (await stack.up(config([profile("team-a", EXTERNAL), profile("team-b")]))).run.outputs.oidcProviderArn as string;
        local().removeRole("data-science");
        const back = await stack.up(config([profile("team-a"), profile("team-b")]));
        assert.equal(back.ops["trust-123456789012-data-science"], "delete");
        assert.ok(!stack.trust.has("trust-123456789012-data-science"));
        assert.ok(trusts(USER, "team-a"));
    });

    it("GIVEN a profile removed from the config THEN its trust goes in that same up: only moves drain", async () => {
        const stack = new StackLifecycle(local(), "real");
        provider = (await stack.up(config([profile("team-a"), profile("team-b")]))).run.outputs.oidcProviderArn as string;
        const removed = await stack.up(config([profile("team-b")]));
        assert.deepEqual(removed.writes, { [USER]: 1 });
        assert.ok(!trusts(USER, "team-a") && trusts(USER, "team-b"));
        assert.deepEqual(stack.trust.get(`trust-${USER}`)!.state.outs.draining, []);
    });

    it("GIVEN finishMoves naming a profile the stack does not have THEN the config is refused before anything is registered", async () => {
        const stack = new StackLifecycle(local(), "real");
        const err = await stack.up(config([profile("team-a")], { "kubeflow-irsa:finishMoves": ["team-z"] })).then(
            () => undefined,
            (e: Error) => e,
        );
        assert.ok(err);
        assert.match(err.message, /kubeflow-irsa:finishMoves\[0\]: "team-z" is not a profile of this stack/);
        assert.deepEqual(local().roleNames(), ["data-science"]);
    });
});
