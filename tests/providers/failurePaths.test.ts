// A platform engineer's bad day, against the local IAM endpoint through the provider as the host
// loads it, with the engine's partial-state handling modelled (tests/support/host.ts): writes
// that land and then fail, cluster moves under IAM's lagging and non-monotonic reads, repeated
// cluster replacements, and a switch to Pod Identity.
import { strict as assert } from "assert";
import { FakeIam } from "../support/fakeIam";
import { ACCOUNT, DEV, DEV_SUB, KF_USER, PROD, sa, sharedRolePolicy } from "../support/fixtures";
import { Engine, loadAsHost, registeredTrustSubjects, useLocalIam } from "../support/host";
import { evaluatePermissions } from "../../analysis/permissionEvaluation";
import { applySubjectChange, buildTrustPolicy, policySize, presentSubjects, statementsOf, type PolicyDocument } from "../../domain/trustPolicy";

const denied = { kind: "error" as const, code: "AccessDenied", status: 403, message: "User is not authorized to perform: iam:GetRole" };
const throttled = { kind: "error" as const, code: "Throttling", status: 400, message: "Rate exceeded" };
const KF_USER_ANCHOR = KF_USER;
/** The foreign StringLike pattern of sharedRolePolicy's dev cluster. */
const CI_RUNNERS = "system:serviceaccount:ci-*:runner";
/** An EKS cluster's provider ARN by issuer id (32 hex characters, like EKS's). */
const eksProvider = (n: number) => `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/${n.toString(16).toUpperCase().padStart(32, "0")}`;
const team = (i: number) => sa(`team-${String(i).padStart(3, "0")}`);

describe("TrustSubjects failure paths (local IAM, host-loaded provider, engine partial state)", function () {
    this.timeout(120_000);
    let fake: FakeIam;
    let engine: Engine;
    let restoreEnv: () => void;
    const trusts = (role: string, provider: string) => presentSubjects(fake.trustPolicy(role), provider);

    before(async () => {
        fake = await FakeIam.start({ accountId: ACCOUNT, quota: 4096 });
        restoreEnv = useLocalIam(fake);
        const text = (await registeredTrustSubjects()).__provider as string;
        engine = new Engine(await loadAsHost(text), text, { maxPolicyChars: 4096 });
    });
    after(async () => {
        restoreEnv();
        await fake.close();
    });
    afterEach(() => fake.staleReads(undefined));

    describe("1. a write that lands and then an error", () => {
        it("GIVEN an update adding carol whose verifying read is denied WHEN the config is reverted THEN the next up removes carol; WHEN kept THEN it completes", async () => {
            fake.putRole("kf-strand", sharedRolePolicy());
            const args = { role: "kf-strand", providerArn: DEV };
            const { state } = await engine.up(undefined, { ...args, subjects: [sa("alice")] });
            fake.after("UpdateAssumeRolePolicy", () => fake.failNext("GetRole", denied));
            const failed = await engine.failingUp(state, { ...args, subjects: [sa("alice"), sa("carol")] });
            assert.match(failed.message, /iam:GetRole on kf-strand failed: AccessDenied.*a write was sent.*next `pulumi up` finishes the change/);
            assert.ok(trusts("kf-strand", DEV).includes(sa("carol")), "the write landed");
            const partial = failed.state!;
            assert.equal(partial.initFailed, true);
            assert.deepEqual(partial.outs.subjects, [sa("alice"), sa("carol")], "state owns what IAM may hold");

            // the engine runs an update next time even with no config change; here carol is taken out again
            const reverted = await engine.up(partial, { ...args, subjects: [sa("alice")] });
            assert.equal(reverted.op, "update");
            assert.ok(!trusts("kf-strand", DEV).includes(sa("carol")), "a reverted config removes what the failed write added");
            assert.deepEqual(reverted.state.outs.subjects, [sa("alice")]);

            // the same failure, then an unchanged config: the forced update completes with no write
            fake.after("UpdateAssumeRolePolicy", () => fake.failNext("GetRole", denied));
            const again = await engine.failingUp(reverted.state, { ...args, subjects: [sa("alice"), sa("carol")] });
            fake.resetCalls();
            const completed = await engine.up(again.state, { ...args, subjects: [sa("alice"), sa("carol")] });
            assert.equal(completed.op, "update");
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 0, "IAM already holds it: the forced update only verifies");
            assert.equal(completed.state.initFailed, undefined);
        });

        it("GIVEN a create whose verifying reads stay throttled past the SDK's retries WHEN the stack is destroyed THEN alice is no longer trusted", async () => {
            fake.putRole("kf-create-throttled", sharedRolePolicy());
            fake.after("UpdateAssumeRolePolicy", () => fake.failNext("GetRole", throttled, 5));
            const failed = await engine.failingUp(undefined, { role: "kf-create-throttled", providerArn: DEV, subjects: [sa("alice")] });
            assert.match(failed.message, /Throttling/);
            assert.ok(failed.state, "a create that may have written leaves a resource in state");
            assert.equal(failed.state!.id, `arn:aws:iam::${ACCOUNT}:role/kf-create-throttled`);
            assert.ok(trusts("kf-create-throttled", DEV).includes(sa("alice")));
            await engine.destroy(failed.state!);
            assert.deepEqual(trusts("kf-create-throttled", DEV), [KF_USER, CI_RUNNERS], "only the foreign subjects are left");
        });

        it("GIVEN a writer that keeps replacing our write WHEN the lost-update rounds run out THEN the state still owns bob, and a destroy removes him without touching theirs", async () => {
            const initial = sharedRolePolicy();
            fake.putRole("kf-fight", initial);
            // Each of their writes is new (a read identical to the one we replaced would look like
            // IAM's lag and be waited out); the last one is the ml-pipeline subject.
            const theirs = (round = 5): PolicyDocument => {
                const doc = JSON.parse(JSON.stringify(initial));
                doc.Statement[0].Condition.StringEquals[DEV_SUB] = [KF_USER, sa("kubeflow", round < 5 ? `ml-pipeline-${round}` : "ml-pipeline")];
                return doc;
            };
            // after each of our writes, theirs (hooks fire once each: re-arm for the next write)
            let rounds = 0;
            const overwrite = () => {
                fake.putRole("kf-fight", theirs(++rounds));
                if (rounds < 5) fake.after("UpdateAssumeRolePolicy", overwrite);
            };
            fake.after("UpdateAssumeRolePolicy", overwrite);
            const failed = await engine.failingUp(undefined, { role: "kf-fight", providerArn: DEV, subjects: [sa("bob")] });
            assert.match(failed.message, /another writer kept replacing the trust policy \(5 rounds\)/);
            assert.deepEqual(failed.state!.outs.subjects, [sa("bob")]);
            // IAM may still apply one of our writes late, after theirs: the state covers it either way
            fake.putRole("kf-fight", applySubjectChange(theirs(), { providerArn: DEV, add: [sa("bob")], remove: [] }).document);
            await engine.destroy(failed.state!);
            assert.deepEqual(trusts("kf-fight", DEV), [KF_USER, sa("kubeflow", "ml-pipeline"), CI_RUNNERS]);
        });

        it("GIVEN a write IAM refused (AccessDenied) WHEN the up fails THEN the old state is kept as it was: nothing may have landed", async () => {
            fake.putRole("kf-refused", sharedRolePolicy());
            const { state } = await engine.up(undefined, { role: "kf-refused", providerArn: DEV, subjects: [sa("alice")] });
            fake.failNext("UpdateAssumeRolePolicy", { kind: "error", code: "AccessDenied", status: 403 });
            const failed = await engine.failingUp(state, { role: "kf-refused", providerArn: DEV, subjects: [sa("alice"), sa("carol")] });
            assert.deepEqual(failed.state, state);
        });
    });

    describe("2. a cluster move under lagging, non-monotonic reads", () => {
        it("GIVEN six seeded trials of stale reads WHEN a shared role moves from the dev to a new cluster THEN the new cluster is always trusted and the old never", async () => {
            const initial = sharedRolePolicy();
            const users = [sa("alice"), sa("bob"), sa("carol")];
            const measured: { reads: number; writes: number; stale: number }[] = [];
            for (let seed = 1; seed <= 6; seed++) {
                const role = `kf-move-${seed}`;
                fake.putRole(role, initial);
                fake.staleReads({ windowMs: 1500, probability: 0.5, seed });
                const created = await engine.up(undefined, { role, providerArn: DEV, subjects: users, anchors: [KF_USER_ANCHOR] });
                fake.resetCalls();
                const moved = await engine.up(created.state, { role, providerArn: PROD, subjects: users, anchors: [KF_USER_ANCHOR] });
                measured.push({ reads: fake.count("GetRole"), writes: fake.count("UpdateAssumeRolePolicy"), stale: fake.staleAnswers });
                assert.equal(moved.op, "update", "one resource, one read-modify-write: not a create plus a delete");
                fake.staleReads(undefined);
                const prodSubjects = presentSubjects(fake.trustPolicy(role), PROD);
                for (const s of [...users, KF_USER_ANCHOR]) assert.ok(prodSubjects.includes(s), `trial ${seed}: the new cluster must trust ${s}`);
                const devSubjects = presentSubjects(fake.trustPolicy(role), DEV);
                for (const s of users) assert.ok(!devSubjects.includes(s), `trial ${seed}: the old cluster must not trust ${s}`);
                assert.deepEqual(devSubjects, [CI_RUNNERS], `trial ${seed}: kfctl's kf-user was our anchor and moved too; the foreign pattern stays`);
            }
            assert.ok(measured.some((m) => m.stale > 0), "the trials did see stale reads");
            assert.ok(measured.every((m) => m.writes === 1), `one write per move: ${JSON.stringify(measured)}`);
            console.log(`      cluster move on a shared role (per trial): ${measured.map((m) => `${m.reads} reads/${m.writes} write (${m.stale} stale)`).join(", ")}`);
        });
    });

    describe("2b. lagging reads around our own write", () => {
        it("GIVEN another writer replaces our write and a lagging read then shows ours again WHEN created THEN that read is not taken for success: both changes end up in the role", async () => {
            fake.putRole("kf-replica", buildTrustPolicy(DEV, [KF_USER, sa("team-b")]));
            fake.after("UpdateAssumeRolePolicy", () => {
                const ours = fake.role("kf-replica")!.document;
                fake.putRole("kf-replica", buildTrustPolicy(DEV, [KF_USER, sa("team-b"), sa("team-c")])); // built on the document before ours
                const theirs = fake.role("kf-replica")!.document;
                fake.answerNextReads("kf-replica", [theirs, ours, theirs, ours]); // replicas disagree for a while
            });
            await engine.up(undefined, { role: "kf-replica", providerArn: DEV, subjects: [sa("team-a")] });
            assert.deepEqual(trusts("kf-replica", DEV).sort(), [KF_USER, sa("team-a"), sa("team-b"), sa("team-c")].sort());
        });

        it("GIVEN a verifying read older than the document we replaced (another stack's change) WHEN created THEN it is waited out, not written over: one write, their subject stays", async () => {
            const older = buildTrustPolicy(DEV, [KF_USER]);
            fake.putRole("kf-older", older);
            fake.putRole("kf-older", buildTrustPolicy(DEV, [KF_USER, sa("team-b")])); // the other stack, just before us
            fake.after("UpdateAssumeRolePolicy", () => fake.answerNextReads("kf-older", [older, older, older]));
            fake.resetCalls();
            await engine.up(undefined, { role: "kf-older", providerArn: DEV, subjects: [sa("team-a")] });
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 1);
            assert.deepEqual(trusts("kf-older", DEV).sort(), [KF_USER, sa("team-a"), sa("team-b")].sort());
        });

        it("GIVEN a role that vanishes from reads after our write WHEN created THEN the error carries the state: nothing is stranded", async function () {
            this.timeout(60_000);
            fake.putRole("kf-vanishing", buildTrustPolicy(DEV, [KF_USER]));
            fake.after("UpdateAssumeRolePolicy", () => fake.failNext("GetRole", { kind: "error", code: "NoSuchEntity", status: 404, message: "The role with name kf-vanishing cannot be found." }, 1000, "kf-vanishing"));
            const failed = await engine.failingUp(undefined, { role: "kf-vanishing", providerArn: DEV, subjects: [sa("team-a")] });
            assert.match(failed.message, /the role disappeared .* after it was read and written/);
            assert.deepEqual(failed.state!.outs.subjects, [sa("team-a")]);
        });

        it("GIVEN a refresh right after a failed write, whose read lags WHEN the config is then reverted THEN the subject the read did not show is still removed", async () => {
            fake.putRole("kf-refresh-lag", buildTrustPolicy(DEV, [KF_USER]));
            const args = { role: "kf-refresh-lag", providerArn: DEV };
            const { state } = await engine.up(undefined, { ...args, subjects: [sa("alice")] });
            const before = fake.role("kf-refresh-lag")!.document;
            fake.after("UpdateAssumeRolePolicy", () => fake.failNext("GetRole", denied));
            const failed = await engine.failingUp(state, { ...args, subjects: [sa("alice"), sa("carol")] });
            fake.answerNextReads("kf-refresh-lag", [before]); // `pulumi refresh` seconds later
            const refreshed = await engine.provider.read!(failed.state!.id, failed.state!.outs);
            assert.deepEqual(refreshed.props!.subjects, [sa("alice")], "refresh reports what it read");
            assert.deepEqual(refreshed.props!.leftovers, [{ providerArn: DEV, subjects: [sa("carol")] }], "… and keeps owning what it did not see");
            await engine.up({ id: failed.state!.id, outs: { ...refreshed.props!, __provider: engine.providerText } }, { ...args, subjects: [sa("alice")] });
            assert.deepEqual(trusts("kf-refresh-lag", DEV).sort(), [KF_USER, sa("alice")].sort(), "carol is gone");
        });
    });

    describe("3. anchors follow the cluster", () => {
        it("GIVEN kf-user with its anchor and 8 profiles WHEN the cluster is replaced three times THEN the trust policy stays the size of one statement", async () => {
            const subjects = Array.from({ length: 8 }, (_, i) => team(i));
            const role = "kf-user-us-west-2-kf-bluegreen";
            // as the Role resource creates it: the anchor under the first cluster's provider
            fake.putRole(role, buildTrustPolicy(eksProvider(1), [KF_USER_ANCHOR]));
            let { state } = await engine.up(undefined, { role, providerArn: eksProvider(1), subjects, anchors: [KF_USER_ANCHOR], maxPolicyChars: 2048 });
            const sizes = [policySize(fake.trustPolicy(role))];
            for (let cluster = 2; cluster <= 4; cluster++) {
                ({ state } = await engine.up(state, { role, providerArn: eksProvider(cluster), subjects, anchors: [KF_USER_ANCHOR], maxPolicyChars: 2048 }));
                sizes.push(policySize(fake.trustPolicy(role)));
                assert.equal(statementsOf(fake.trustPolicy(role)).length, 1, `after replacement ${cluster - 1} only the current cluster's statement is left`);
                for (let old = 1; old < cluster; old++) assert.deepEqual(trusts(role, eksProvider(old)), [], `cluster ${old} trusts nothing any more`);
            }
            assert.equal(new Set(sizes).size, 1, `sizes ${sizes.join(" → ")}`);
            assert.ok(sizes[3] <= 2048);
            console.log(`      kf-user with 8 profiles, trust-policy size over three cluster replacements: ${sizes.join(" → ")} characters`);
        });

        it("GIVEN an anchor the inputs no longer name WHEN updated THEN it is removed like any owned subject, the new anchor stays", async () => {
            const role = "kf-user-us-west-2-kf-reanchored";
            fake.putRole(role, buildTrustPolicy(DEV, [KF_USER_ANCHOR]));
            const { state } = await engine.up(undefined, { role, providerArn: DEV, subjects: [sa("alice")], anchors: [KF_USER_ANCHOR] });
            await engine.up(state, { role, providerArn: DEV, subjects: [sa("alice")], anchors: [sa("kubeflow", "kf-user-v2")] });
            assert.deepEqual(trusts(role, DEV).sort(), [sa("alice"), sa("kubeflow", "kf-user-v2")].sort());
        });

        it("GIVEN a managed role back from podIdentity (its Pod Identity trust still there) WHEN its TrustSubjects is created THEN one write adds the cluster's statement and retires exactly that statement", async () => {
            const podIdentity = { Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] };
            const handWritten = { Sid: "Ec2", Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" };
            const role = "kf-user-us-west-2-kf-back-to-irsa";
            fake.putRole(role, { Version: "2012-10-17", Statement: [podIdentity, handWritten] });
            fake.resetCalls();
            const { state } = await engine.up(undefined, { role, providerArn: DEV, subjects: [sa("alice")], anchors: [KF_USER_ANCHOR], retiredStatements: [podIdentity] });
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 1);
            const doc = fake.trustPolicy(role);
            assert.deepEqual(statementsOf(doc).map((s: any) => s.Principal.Service ?? "federated"), ["ec2.amazonaws.com", "federated"], "the Pod Identity statement is gone; the hand-written one stays");
            assert.deepEqual(trusts(role, DEV).sort(), [sa("alice"), KF_USER_ANCHOR].sort());
            // a variant of the statement (another action set) is not ours to remove
            const variant = { ...podIdentity, Action: "sts:AssumeRole" };
            fake.putRole(role, { ...doc, Statement: [...statementsOf(doc), variant] });
            await engine.up(state, { role, providerArn: DEV, subjects: [sa("alice"), sa("bob")], anchors: [KF_USER_ANCHOR], retiredStatements: [podIdentity] });
            assert.ok(statementsOf(fake.trustPolicy(role)).some((s: any) => s.Action === "sts:AssumeRole" && s.Principal.Service === "pods.eks.amazonaws.com"));
        });

        it("GIVEN a podIdentity role of an earlier version (the unpinned statement, owned) WHEN upgraded to the cluster-pinned statement THEN one write swaps them, and a write that never lands leaves the old trust and is finished by the next up", async () => {
            const unpinned = { Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] };
            const cluster = `arn:aws:eks:us-west-2:${ACCOUNT}:cluster/kf-dev`;
            const pinned = { ...unpinned, Condition: { StringEquals: { "aws:RequestTag/eks-cluster-arn": cluster } } };
            const pods = { type: "Service" as const, name: "pods.eks.amazonaws.com" };
            // Whether an association of `on` gets a session of the role, judged from the live document.
            const podsOf = (role: string, on: string) =>
                evaluatePermissions([{ name: "trust", document: fake.trustPolicy(role) }], {
                    action: "sts:AssumeRole",
                    resource: `arn:aws:iam::${ACCOUNT}:role/${role}`,
                    context: { "aws:RequestTag/eks-cluster-arn": `arn:aws:eks:us-west-2:${ACCOUNT}:cluster/${on}` },
                    principal: pods,
                }).decision;
            for (const lands of [true, false]) {
                const role = `kf-user-us-west-2-kf-pin-${lands ? "lands" : "lost"}`;
                fake.putRole(role, { Version: "2012-10-17", Statement: [unpinned] });
                const { state } = await engine.up(undefined, { role, providerArn: "", subjects: [], anchors: [], statements: [unpinned] });
                assert.equal(podsOf(role, "kf-staging"), "allowed", "before: any cluster of the account");
                fake.resetCalls();
                const upgraded = { role, providerArn: "", subjects: [], anchors: [], statements: [pinned], retiredStatements: [unpinned] };
                let next = state;
                if (!lands) {
                    fake.failNext("UpdateAssumeRolePolicy", { kind: "drop" }, 10, role);
                    const failed = await engine.failingUp(state, upgraded);
                    fake.clearFaults();
                    assert.equal(podsOf(role, "kf-dev"), "allowed", "a lost write leaves the old trust: this cluster's pods keep their sessions");
                    next = failed.state!;
                    fake.resetCalls();
                }
                await engine.up(next, upgraded);
                assert.equal(fake.count("UpdateAssumeRolePolicy"), 1, "one document: never a moment without Pod Identity trust");
                assert.deepEqual(statementsOf(fake.trustPolicy(role)), [pinned]);
                assert.equal(podsOf(role, "kf-dev"), "allowed");
                assert.equal(podsOf(role, "kf-staging"), "implicitly denied");
            }
        });

        it("GIVEN a switch to podIdentity whose write was sent but never landed WHEN the stack is destroyed THEN the delete keeps the role's trust valid (the owned Pod Identity statement) and removes every OIDC subject it owned", async () => {
            const podIdentity = { Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] };
            const role = "kf-admin-us-west-2-kf-half-switched";
            fake.putRole(role, buildTrustPolicy(DEV, [KF_USER_ANCHOR]));
            const { state } = await engine.up(undefined, { role, providerArn: DEV, subjects: [sa("alice")], anchors: [KF_USER_ANCHOR] });
            // every attempt of the switch's write is cut off before IAM applies it
            fake.failNext("UpdateAssumeRolePolicy", { kind: "drop" }, 10, role);
            const failed = await engine.failingUp(state, { role, providerArn: "", subjects: [], anchors: [], statements: [podIdentity] });
            assert.equal(failed.state!.initFailed, true, "a write was sent: the engine keeps the partial state");
            assert.deepEqual(trusts(role, DEV).sort(), [sa("alice"), KF_USER_ANCHOR].sort(), "IAM still holds the IRSA trust");
            fake.clearFaults();
            await engine.destroy(failed.state!);
            assert.deepEqual(trusts(role, DEV), [], "nothing of the stack's OIDC trust stays");
            assert.deepEqual(statementsOf(fake.trustPolicy(role)).map((s: any) => s.Principal.Service), ["pods.eks.amazonaws.com"], "the statement the state owns keeps the document valid");
        });

        it("GIVEN a refresh whose read does not show the anchor WHEN the next up runs THEN the anchor is put back; the state never stops owning it", async () => {
            const role = "kf-user-us-west-2-kf-lost-anchor";
            fake.putRole(role, buildTrustPolicy(DEV, [KF_USER_ANCHOR]));
            const args = { role, providerArn: DEV, subjects: [sa("alice")], anchors: [KF_USER_ANCHOR] };
            const { state } = await engine.up(undefined, args);
            // someone (or a lagging replica) shows the role without the anchor
            fake.putRole(role, buildTrustPolicy(DEV, [sa("alice")]));
            const read = await engine.provider.read!(state.id, state.outs as any);
            assert.deepEqual(read.props!.anchors, [KF_USER_ANCHOR], "an anchor is a duty, not drift: the refreshed state keeps it");
            assert.deepEqual(read.props!.leftovers, [{ providerArn: DEV, subjects: [KF_USER_ANCHOR] }], "and holds it for the next up");
            const next = await engine.up({ id: state.id, outs: read.props! }, args);
            assert.equal(next.op, "update");
            assert.deepEqual(trusts(role, DEV).sort(), [sa("alice"), KF_USER_ANCHOR].sort());
            assert.deepEqual(next.state.outs.leftovers, []);
        });

        it("GIVEN a person added aws:SourceIp to the statement holding the stack's subjects WHEN a profile is removed THEN the preview refuses, naming the statement, and IAM is not written", async () => {
            const role = "kf-hardened";
            fake.putRole(role, buildTrustPolicy(DEV, [sa("alice"), sa("bob")]));
            const args = { role, providerArn: DEV };
            const { state } = await engine.up(undefined, { ...args, subjects: [sa("alice"), sa("bob")] });
            const doc = fake.trustPolicy(role);
            const hardened = { ...doc, Statement: statementsOf(doc).map((st: any) => ({ ...st, Condition: { ...st.Condition, IpAddress: { "aws:SourceIp": "10.0.0.0/8" } } })) };
            fake.putRole(role, hardened);
            fake.resetCalls();
            const refused = await engine.up(state, { ...args, subjects: [sa("alice")] }).then(
                () => undefined,
                (err: Error) => err,
            );
            assert.ok(refused, "the diff (preview) refuses");
            assert.match(refused.message, /update of role "kf-hardened": statement 0 trusts system:serviceaccount:alice:default-editor, system:serviceaccount:bob:default-editor under conditions kubeflow-irsa does not write .*IpAddress aws:SourceIp.*Fix: take these subjects out of that statement/);
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 0);
            assert.deepEqual(fake.trustPolicy(role), hardened, "the hardened statement is as the person left it");
        });

        for (const ending of ["up", "destroy"] as const) {
            it(`GIVEN a move interrupted after its write was sent WHEN the next ${ending} runs THEN nothing of the old cluster stays`, async () => {
                const role = `kf-user-us-west-2-kf-interrupted-${ending}`;
                fake.putRole(role, buildTrustPolicy(DEV, [KF_USER_ANCHOR]));
                const args = { role, subjects: [sa("alice")], anchors: [KF_USER_ANCHOR] };
                const { state } = await engine.up(undefined, { ...args, providerArn: DEV });
                // the worst case of an interrupted move: IAM did not keep our write, and the reads fail
                fake.after("UpdateAssumeRolePolicy", () => {
                    fake.putRole(role, buildTrustPolicy(DEV, [KF_USER_ANCHOR, sa("alice")]));
                    fake.failNext("GetRole", denied);
                });
                const failed = await engine.failingUp(state, { ...args, providerArn: PROD });
                assert.equal(failed.state!.outs.providerArn, PROD);
                assert.deepEqual(failed.state!.outs.leftovers, [{ providerArn: DEV, subjects: [sa("alice"), KF_USER_ANCHOR].sort() }]);
                if (ending === "up") {
                    const finished = await engine.up(failed.state, { ...args, providerArn: PROD });
                    assert.deepEqual(trusts(role, PROD).sort(), [sa("alice"), KF_USER_ANCHOR].sort());
                    assert.deepEqual(trusts(role, DEV), [], "the leftovers of the interrupted move are gone");
                    assert.deepEqual(finished.state.outs.leftovers, []);
                } else {
                    await engine.destroy(failed.state!);
                    assert.deepEqual(trusts(role, DEV), [], "alice is gone, and the anchor under the old cluster with her");
                    assert.deepEqual(trusts(role, PROD), [KF_USER_ANCHOR], "the anchor, under the cluster the state names, keeps the trust policy from running empty");
                }
            });
        }
    });
});
