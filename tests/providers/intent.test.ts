// The write-ahead record on the role (providers/intent.ts): what a write of one stack may add is
// tagged on the role before the write is sent, so a host that dies before the engine hears back
// strands nothing. The kill itself is driven through Pulumi's host in realHost.test.ts; here the
// record's own rules, against the local IAM through the provider as the host loads it.
import { strict as assert } from "assert";
import { FakeIam } from "../support/fakeIam";
import { ACCOUNT, DEV, KF_USER, PROD, sa } from "../support/fixtures";
import { Engine, loadAsHost, registeredTrustSubjects, useLocalIam } from "../support/host";
import { buildTrustPolicy, presentSubjects } from "../../providers/trustPolicy";

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
        assert.equal(Object.keys(tagsAtWrite ?? {}).length, 1, "the write found its record on the role");
        assert.equal(Object.values(tagsAtWrite!)[0].length, 16, "two subjects: two 8-character hashes");
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
        assert.equal(Object.keys(record).length, 1, "the update recorded its write before sending it");
        for (const [k, v] of Object.entries(record)) fake.putRoleTag(role, k, v);
        assert.deepEqual(trusts(role), [sa("gone"), sa("team-a"), sa("team-b")]);

        const refused = await moving.destroy(state).then(() => undefined, (err: Error) => err);
        assert.ok(refused, "team-a's and team-b's moves are not finished");
        assert.match(refused.message, /still trusts system:serviceaccount:team-a:default-editor, system:serviceaccount:team-b:default-editor/);
        assert.deepEqual(trusts(role), [sa("team-a"), sa("team-b")], "gone (recorded, granted to no one) went; the moves stay");
        assert.equal(Object.keys(records(role)).length, 1, "team-b is still held and the old state does not own it: the record stays");

        const finishing = new Engine(await loadAsHost(text, { "kubeflow-irsa:profiles": profiles, "kubeflow-irsa:finishMoves": "true" }), text, { owner: STACK_A });
        await finishing.destroy(state);
        assert.deepEqual(trusts(role), [], "the finished delete removes team-b too");
        assert.deepEqual(trusts(role, PROD), [sa("ops")]);
        assert.deepEqual(records(role), {});
    });
});
