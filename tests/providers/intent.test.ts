// The write-ahead record on the role (providers/intent.ts): what a write of one stack may add is
// tagged on the role before the write is sent, so a host that dies before the engine hears back
// strands nothing. The kill itself is driven through Pulumi's host in realHost.test.ts; here the
// record's own rules, against the local IAM through the provider as the host loads it.
import { strict as assert } from "assert";
import { FakeIam } from "../support/fakeIam";
import { ACCOUNT, DEV, KF_USER, PROD, sa } from "../support/fixtures";
import { Engine, loadAsHost, registeredTrustSubjects, useLocalIam } from "../support/host";
import { pendingSubjects, recordOf, recordTags, entryHash } from "../../providers/intent";
import { buildTrustPolicy, presentSubjects, type PolicyDocument } from "../../domain/trustPolicy";

const STACK_A = "acme/kubeflow-irsa/prod";
const STACK_B = "acme/kubeflow-irsa/prod-eu";
const denied = (action: string) => ({ kind: "error" as const, code: "AccessDenied", status: 403, message: `User is not authorized to perform: iam:${action}` });

describe("TrustSubjects write-ahead record (role tags, local IAM, host-loaded provider)", function () {
    this.timeout(120_000);
    let fake: FakeIam;
    let restoreEnv: () => void;
    let text: string;
    let engine: Engine;
    const trusts = (role: string, provider = DEV) => presentSubjects(fake.trustPolicy(role), provider).sort();
    /** The record tags of the role, as the raw key → value IAM holds. */
    const records = (role: string) => Object.fromEntries(Object.entries(fake.tags(role)).filter(([k]) => k.startsWith("kubeflow-irsa:pending:")));

    before(async () => {
        fake = await FakeIam.start({ accountId: ACCOUNT, quota: 4096 });
        restoreEnv = useLocalIam(fake);
        text = (await registeredTrustSubjects()).__provider as string;
        engine = new Engine(await loadAsHost(text), text, { maxPolicyChars: 4096, owner: STACK_A });
    });
    after(async () => {
        restoreEnv();
        await fake.close();
    });
    afterEach(() => fake.clearFaults());

    it("GIVEN records of two stacks on one role THEN each reads only its own; an entry names one subject under one provider; 40 entries take two tags and the time", () => {
        const subjects = Array.from({ length: 40 }, (_, i) => sa(`team-${i}`));
        const now = Date.UTC(2026, 11, 7, 12, 0, 0);
        const a = recordTags(STACK_A, subjects.map((s) => entryHash(DEV, s)), now);
        const b = recordTags(STACK_B, [entryHash(PROD, sa("team-0"))], now);
        assert.equal(a.length, 3);
        assert.ok([...a, ...b].every((t) => t.Key.length <= 128 && t.Value.length <= 256 && /^[\p{L}\p{Z}\p{N}_.:/=+\-@]*$/u.test(t.Key + t.Value)), "IAM's tag rules");
        const tags = [...a, ...b, { Key: "team", Value: "ml-platform" }];
        const mine = recordOf(tags, STACK_A);
        assert.equal(mine.hashes.size, 40);
        assert.equal(mine.writtenAt, now);
        // the role trusts team-0 under both clusters: stack A's record names only the DEV one
        const document: PolicyDocument = { Version: "2012-10-17", Statement: [...(buildTrustPolicy(DEV, [sa("team-0")]).Statement as object[]), ...(buildTrustPolicy(PROD, [sa("team-0")]).Statement as object[])] } as PolicyDocument;
        assert.deepEqual(pendingSubjects(mine, document), [{ providerArn: DEV, subjects: [sa("team-0")] }]);
        assert.deepEqual(pendingSubjects(recordOf(tags, STACK_B), document), [{ providerArn: PROD, subjects: [sa("team-0")] }]);
        assert.equal(recordOf(tags, "acme/kubeflow-irsa/staging").hashes.size, 0);
    });

    it("GIVEN the program's TrustSubjects THEN its owner is the stack (<organization>/<project>/<stack>)", async () => {
        assert.equal((await registeredTrustSubjects()).owner, "organization/kubeflow-irsa/test");
    });

    it("GIVEN an add, an unchanged config and a removal THEN each write was recorded before it was sent, the record is gone after each answer, and an unchanged up costs one read and no write", async () => {
        const role = "kf-user-us-west-2-record";
        fake.putRole(role, buildTrustPolicy(DEV, [KF_USER]));
        let tagsAtWrite: Record<string, string> | undefined;
        fake.before("UpdateAssumeRolePolicy", () => (tagsAtWrite = records(role)));
        const args = { role, providerArn: DEV, anchors: [KF_USER] };
        const created = await engine.up(undefined, { ...args, subjects: [sa("alice"), sa("bob")] });
        const keys = Object.keys(tagsAtWrite ?? {}).sort();
        assert.deepEqual(keys.map((k) => k.split(":").pop()), ["0", "at"], "the write found its record on the role: hashes and when");
        assert.equal(tagsAtWrite![keys[0]].length, 16, "two subjects: two 8-character hashes");
        assert.ok(Math.abs(Number(tagsAtWrite![keys[1]]) - Date.now() / 1000) < 60, "written just now (epoch seconds)");
        assert.deepEqual(records(role), {}, "and the record went with the answer");

        fake.resetCalls();
        assert.equal((await engine.up(created.state, { ...args, subjects: [sa("bob"), sa("alice")] })).op, "same");
        assert.deepEqual([fake.count("GetRole"), fake.count("UpdateAssumeRolePolicy"), fake.count("TagRole"), fake.count("UntagRole")], [1, 0, 0, 0], "one read (diff looks for a record), nothing written");

        fake.resetCalls();
        tagsAtWrite = undefined;
        fake.before("UpdateAssumeRolePolicy", () => (tagsAtWrite = records(role)));
        await engine.up(created.state, { ...args, subjects: [sa("alice")] });
        assert.deepEqual(tagsAtWrite, {}, "a write that only removes records nothing");
        assert.equal(fake.count("TagRole"), 0);
        assert.deepEqual(trusts(role), [sa("alice"), KF_USER].sort());
    });

    it("GIVEN a write IAM refuses THEN the role's record is as it was before: a later write of someone else's subject is never taken for this stack's", async () => {
        const role = "kf-user-us-west-2-refused";
        fake.putRole(role, buildTrustPolicy(DEV, [KF_USER]));
        const args = { role, providerArn: DEV, anchors: [KF_USER] };
        const { state } = await engine.up(undefined, { ...args, subjects: [sa("alice")] });
        fake.failNext("UpdateAssumeRolePolicy", denied("UpdateAssumeRolePolicy"));
        const failed = await engine.failingUp(state, { ...args, subjects: [sa("alice"), sa("carol")] });
        assert.match(failed.message, /iam:UpdateAssumeRolePolicy/);
        assert.equal(failed.state, state, "nothing was written: the engine keeps the old state");
        assert.deepEqual(records(role), {}, "the record of carol went with the refused write");
        // carol's profile then goes to another stack on the same role; this stack's next up keeps it
        const other = new Engine(await loadAsHost(text), text, { maxPolicyChars: 4096, owner: STACK_B });
        await other.up(undefined, { role, providerArn: DEV, subjects: [sa("carol")] });
        assert.equal((await engine.up(state, { ...args, subjects: [sa("alice")] })).op, "same");
        await engine.destroy(state);
        assert.deepEqual(trusts(role), [sa("carol"), KF_USER].sort(), "carol is the other stack's");
    });

    it("GIVEN a deployer without iam:TagRole THEN the write goes ahead, with a warning that names the permission", async () => {
        const role = "kf-user-us-west-2-untagged";
        fake.putRole(role, buildTrustPolicy(DEV, [KF_USER]));
        fake.failNext("TagRole", denied("TagRole"));
        const warnings: string[] = [];
        const warn = console.warn;
        console.warn = (message: string) => warnings.push(message);
        try {
            await engine.up(undefined, { role, providerArn: DEV, anchors: [KF_USER], subjects: [sa("alice")] });
        } finally {
            console.warn = warn;
        }
        assert.deepEqual(trusts(role), [sa("alice"), KF_USER].sort());
        assert.equal(warnings.length, 1);
        assert.match(warnings[0], /could not record what this write adds \(iam:TagRole: .*not authorized.*allow iam:TagRole and iam:UntagRole on the role/);
    });

    it("GIVEN a record of a dead write and a delete refused for an unfinished move THEN the record keeps the recorded subject the delete keeps, and the delete after finishMoves removes it", async () => {
        const role = "data-science";
        const profiles = JSON.stringify([{ name: "team-a" }, { name: "team-b" }]);
        const moving = new Engine(await loadAsHost(text, { "kubeflow-irsa:profiles": profiles }), text, { maxPolicyChars: 4096, owner: STACK_A });
        fake.putRole(role, buildTrustPolicy(PROD, [sa("ops")]));
        const { state } = await moving.up(undefined, { role, providerArn: DEV, subjects: [sa("team-a")] });
        // an update added team-b and gone and then died before the engine heard back (here: its
        // answer is dropped, and the record it wrote before its write is put back on the role)
        let record: Record<string, string> = {};
        fake.before("UpdateAssumeRolePolicy", () => (record = records(role)));
        await moving.up(state, { role, providerArn: DEV, subjects: [sa("team-a"), sa("team-b"), sa("gone")] });
        fake.clearFaults();
        assert.equal(Object.keys(record).length, 2, "the update recorded its write before sending it");
        for (const [k, v] of Object.entries(record)) fake.putRoleTag(role, k, v);
        assert.deepEqual(trusts(role), [sa("gone"), sa("team-a"), sa("team-b")]);

        const refused = await moving.destroy(state).then(() => undefined, (err: Error) => err);
        assert.ok(refused, "team-a's and team-b's moves are not finished");
        assert.match(refused.message, /still trusts system:serviceaccount:team-a:default-editor, system:serviceaccount:team-b:default-editor/);
        assert.deepEqual(trusts(role), [sa("team-a"), sa("team-b")], "gone (recorded, granted to no one) went; the moves stay");
        assert.equal(Object.keys(records(role)).length, 2, "team-b is still held and the old state does not own it: the record stays");

        const finishing = new Engine(await loadAsHost(text, { "kubeflow-irsa:profiles": profiles, "kubeflow-irsa:finishMoves": "true" }), text, { owner: STACK_A });
        await finishing.destroy(state);
        assert.deepEqual(trusts(role), [], "the finished delete removes team-b too");
        assert.deepEqual(trusts(role, PROD), [sa("ops")]);
        assert.deepEqual(records(role), {});
    });

    it("GIVEN an owned subject someone removed (a person, or another resource of the stack on its way out of the program) WHEN the config is unchanged THEN diff's read finds it and the update puts it back, without a refresh", async () => {
        const role = "kf-user-us-west-2-drifted";
        fake.putRole(role, buildTrustPolicy(DEV, [KF_USER]));
        const args = { role, providerArn: DEV, anchors: [KF_USER], subjects: [sa("team-a"), sa("team-b")] };
        const { state } = await engine.up(undefined, args);
        fake.putRole(role, buildTrustPolicy(DEV, [KF_USER, sa("team-a")]));
        const healed = await engine.up(state, args);
        assert.equal(healed.op, "update");
        assert.deepEqual(trusts(role), [KF_USER, sa("team-a"), sa("team-b")].sort());
        assert.equal((await engine.up(healed.state, args)).op, "same");
    });

    describe("a record that must not outlive what it names (review of ab3080d)", () => {
        /** A dead write: the record captured when the write is sent is put back after the answer, which is dropped. */
        const deadUp = async (on: Engine, role: string, state: Parameters<Engine["up"]>[0], args: Record<string, unknown>) => {
            let record: Record<string, string> = {};
            fake.before("UpdateAssumeRolePolicy", () => (record = records(role)));
            await on.up(state, args);
            fake.clearFaults();
            assert.ok(Object.keys(record).length > 0, "the write was recorded");
            for (const [k, v] of Object.entries(record)) fake.putRoleTag(role, k, v);
        };
        /** Time passes: the record was written this many seconds ago. */
        const age = (role: string, seconds: number) => {
            for (const key of Object.keys(records(role)).filter((k) => k.endsWith(":at"))) fake.putRoleTag(role, key, String(Math.floor(Date.now() / 1000) - seconds));
        };

        it("GIVEN a record of a write that never landed (TagRole, then the process died) WHEN the config is reverted THEN the record stays while IAM's reads may still lag, and once older the next up drops it: another stack's later subject is never taken", async () => {
            const role = "data-science-never-landed";
            fake.putRole(role, buildTrustPolicy(DEV, [sa("ops")]));
            const { state } = await engine.up(undefined, { role, providerArn: DEV, subjects: [sa("alice")] });
            let record: Record<string, string> = {};
            fake.after("TagRole", () => (record = records(role)));
            fake.failNext("UpdateAssumeRolePolicy", denied("UpdateAssumeRolePolicy"));
            await engine.failingUp(state, { role, providerArn: DEV, subjects: [sa("alice"), sa("carol")] });
            for (const [k, v] of Object.entries(record)) fake.putRoleTag(role, k, v); // the restore never ran: the process was gone
            assert.ok(!trusts(role).includes(sa("carol")), "the write never landed");
            assert.equal((await engine.up(state, { role, providerArn: DEV, subjects: [sa("alice")] })).op, "same", "a fresh record may name a write a lagging read hides");
            age(role, 120);
            fake.resetCalls();
            assert.equal((await engine.up(state, { role, providerArn: DEV, subjects: [sa("alice")] })).op, "update", "an old one names a write that never landed: dropped");
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 0, "by an update that writes no trust policy");
            assert.deepEqual(records(role), {});
            const other = new Engine(await loadAsHost(text), text, { maxPolicyChars: 4096, owner: STACK_B });
            await other.up(undefined, { role, providerArn: DEV, subjects: [sa("carol")] });
            assert.equal((await engine.up(state, { role, providerArn: DEV, subjects: [sa("alice")] })).op, "same");
            assert.ok(trusts(role).includes(sa("carol")), "carol is the other stack's");
        });

        it("GIVEN a deployer with iam:TagRole but not iam:UntagRole THEN each record is emptied instead of removed: a subject the stack dropped and another stack added later stays", async () => {
            const role = "data-science-no-untag";
            fake.putRole(role, buildTrustPolicy(DEV, [sa("ops")]));
            fake.failNext("UntagRole", denied("UntagRole"), 100);
            let { state } = await engine.up(undefined, { role, providerArn: DEV, subjects: [sa("alice"), sa("carol")] });
            ({ state } = await engine.up(state, { role, providerArn: DEV, subjects: [sa("alice")] }));
            assert.ok(Object.values(records(role)).every((v) => v === ""), `the record names nothing: ${JSON.stringify(records(role))}`);
            const other = new Engine(await loadAsHost(text), text, { maxPolicyChars: 4096, owner: STACK_B });
            await other.up(undefined, { role, providerArn: DEV, subjects: [sa("carol")] });
            assert.equal((await engine.up(state, { role, providerArn: DEV, subjects: [sa("alice")] })).op, "same");
            assert.ok(trusts(role).includes(sa("carol")));
        });

        it("GIVEN a dead write WHEN the reverted up's first read lags (an older document, current tags) THEN the record stays, and the next up removes the dead write's subject", async () => {
            const role = "data-science-lagging";
            fake.putRole(role, buildTrustPolicy(DEV, [sa("ops")]));
            const { state } = await engine.up(undefined, { role, providerArn: DEV, subjects: [sa("alice")] });
            const before = fake.trustPolicy(role);
            await deadUp(engine, role, state, { role, providerArn: DEV, subjects: [sa("alice"), sa("late")] });
            fake.after("GetRole", () => fake.answerNextReads(role, [before])); // diff's read is current, the update's first is not
            const reverted = await engine.up(state, { role, providerArn: DEV, subjects: [sa("alice")] });
            assert.equal(reverted.op, "update");
            assert.equal(Object.keys(records(role)).length, 2, "the record (and its time) stays: the read may hide the write");
            assert.equal((await engine.up(reverted.state, { role, providerArn: DEV, subjects: [sa("alice")] })).op, "update");
            assert.deepEqual(trusts(role), [sa("alice"), sa("ops")]);
            assert.deepEqual(records(role), {});
        });
    });
});
