// The TrustSubjects dynamic provider, loaded the way the Pulumi host loads it: the resource is
// constructed under runtime mocks, the serialized `__provider` text is loaded with
// require-from-string(text).handler(), configured once, and its methods are called directly
// against a local IAM endpoint (tests/support/fakeIam.ts) with the real AWS SDK.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import requireFromString = require("require-from-string");
import { FakeIam } from "../support/fakeIam";
import { ACCOUNT, DEV, DEV_SUB, KF_USER, PROD, PROD_ISSUER, sa, sharedRolePolicy } from "../support/fixtures";
import { Engine, hostConfig, loadAsHost, registeredTrustSubjects, useLocalIam, type Provider, type State } from "../support/host";
import { quotaProblem, trustSubjectsProvider, UNKNOWN } from "../../providers/trustSubjects";
import { applySubjectChange, buildTrustPolicy, policySize, presentSubjects, serializePolicy, subjectsThatFit, type PolicyDocument } from "../../domain/trustPolicy";

/** Every subject this stack ever owns in these tests; the rest of a document is foreign. */
const OURS = new Set([sa("alice"), sa("bob"), sa("carol"), sa("dave"), sa("team-a", "runner-*")]);

const NS8 = (i: number) => `ns${String(i).padStart(6, "0")}`; // 8 characters
/** n profile subjects of the shape the capacity figures use: system:serviceaccount:<8-char ns>:default-editor. */
const profiles = (n: number, from = 0) => Array.from({ length: n }, (_, i) => sa(NS8(from + i)));
const asList = <T>(v: T | T[] | undefined): T[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

/** The document without our subjects (only KubeflowUsers and CiRunners are ours to edit). */
function foreignView(doc: PolicyDocument): unknown {
    const copy = JSON.parse(JSON.stringify(doc));
    for (const statement of asList<any>(copy.Statement)) {
        if (statement.Sid === "KubeflowUsers") statement.Condition.StringEquals[DEV_SUB] = asList(statement.Condition.StringEquals[DEV_SUB]).filter((v) => !OURS.has(v as string));
        if (statement.Sid === "CiRunners") statement.Condition.StringLike[DEV_SUB] = asList(statement.Condition.StringLike[DEV_SUB]).filter((v) => !OURS.has(v as string));
    }
    return copy;
}

/** Our subjects that the role really trusts (in the statements we may edit). */
function ownedView(doc: PolicyDocument): string[] {
    const values = asList<any>(doc.Statement)
        .filter((s) => s.Sid === "KubeflowUsers" || s.Sid === "CiRunners")
        .flatMap((s) => [...asList(s.Condition.StringEquals?.[DEV_SUB]), ...asList(s.Condition.StringLike?.[DEV_SUB])]);
    return (values as string[]).filter((v) => OURS.has(v)).sort();
}

async function rejection(p: Promise<unknown>): Promise<Error> {
    try {
        await p;
    } catch (err) {
        return err as Error;
    }
    throw new Error("expected a failure");
}

describe("TrustSubjects dynamic provider (loaded as the Pulumi host loads it, against a local IAM)", function () {
    let fake: FakeIam;
    let providerText: string;
    let registeredInputs: Record<string, unknown>;
    let provider: Provider;
    let restoreEnv: () => void;
    const up = (p: Provider, state: State | undefined, args: Record<string, unknown>) =>
        new Engine(p, providerText, { maxPolicyChars: 4096, allowWildcards: false }).up(state, args);

    before(async function () {
        // The shared role below (two clusters, CI, a restricted statement, EC2) is ~2000 characters
        // before we add anything: its account has the quota raised to 4096.
        fake = await FakeIam.start({ accountId: ACCOUNT, quota: 4096 });
        restoreEnv = useLocalIam(fake);
        // Construct the resource under mocks; the engine would receive the serialized provider.
        registeredInputs = await registeredTrustSubjects();
        providerText = registeredInputs.__provider as string;
        provider = await loadAsHost(providerText);
    });

    after(async () => {
        restoreEnv();
        await fake.close();
    });

    function freshRole(name: string, document: PolicyDocument = sharedRolePolicy()): string {
        const arn = fake.putRole(name, document);
        fake.resetCalls();
        return arn;
    }

    const calls = () => ({ reads: fake.count("GetRole"), writes: fake.count("UpdateAssumeRolePolicy") });

    describe("serialization and loading", () => {
        it("GIVEN a TrustSubjects resource WHEN the SDK serializes its provider THEN the text loads with require-from-string and holds no credentials", async () => {
            assert.equal(typeof providerText, "string");
            assert.match(providerText, /exports\.handler = /);
            assert.ok(!providerText.includes("fake-secret-for-tests"));
            assert.deepEqual(Object.keys(provider).sort(), ["check", "configure", "create", "delete", "diff", "read", "update"]);
            assert.equal(registeredInputs.maxPolicyChars, 2048);
            assert.equal(registeredInputs.allowWildcards, false);

            // the same path the SDK takes (closure serialization), done explicitly: under mocks a
            // failure there would only be an unhandled rejection
            const direct = trustSubjectsProvider();
            const serialized = await pulumi.runtime.serializeFunction(() => direct);
            const loaded = (requireFromString(serialized.text) as Record<string, () => Provider>)[serialized.exportName]();
            assert.equal(typeof loaded.create, "function");
            await loaded.configure!({ config: hostConfig({}) });
            const { failures } = await loaded.check!({}, { role: "r", providerArn: DEV, subjects: [sa("alice")] });
            assert.deepEqual(failures, []);
        });

        it("GIVEN aws:endpoints and aws:accessKey/secretKey in stack config and no AWS environment WHEN the loaded provider creates THEN it talks to that endpoint", async () => {
            const saved = { endpoint: process.env.AWS_ENDPOINT_URL_IAM, key: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
            delete process.env.AWS_ENDPOINT_URL_IAM;
            delete process.env.AWS_ACCESS_KEY_ID;
            delete process.env.AWS_SECRET_ACCESS_KEY;
            try {
                const configured = await loadAsHost(providerText, {
                    "aws:region": "us-west-2",
                    "aws:endpoints": JSON.stringify([{ iam: fake.endpoint }]),
                    "aws:accessKey": "AKIDFROMCONFIG",
                    "aws:secretKey": "secret-from-config",
                });
                freshRole("kf-endpoints");
                const { state } = await up(configured, undefined, { role: "kf-endpoints", providerArn: DEV, subjects: [sa("alice")] });
                assert.deepEqual(calls(), { reads: 3, writes: 1 }, "check's preview read, then read, write, verifying read");
                assert.deepEqual(ownedView(fake.trustPolicy("kf-endpoints")), [sa("alice")]);
                assert.equal(state.outs.roleArn, `arn:aws:iam::${ACCOUNT}:role/kf-endpoints`);
            } finally {
                process.env.AWS_ENDPOINT_URL_IAM = saved.endpoint;
                process.env.AWS_ACCESS_KEY_ID = saved.key;
                process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
            }
        });
    });

    describe("lifecycle (rules 1, 3, 7, 8)", () => {
        it("GIVEN a role shared with foreign trust WHEN create, no-op up, add, remove, drift + refresh, role change and delete run THEN only owned subjects ever change", async () => {
            const ROLE = "kf-user-us-west-2-dev";
            const NEW_ROLE = "kf-user-us-west-2-dev-b";
            const initial = sharedRolePolicy();
            const roleArn = freshRole(ROLE, initial);
            const foreignIntact = (role: string) => assert.deepEqual(foreignView(fake.trustPolicy(role)), foreignView(initial), `foreign trust of ${role} changed`);
            const measured: Record<string, { reads: number; writes: number }> = {};

            // create: role given as an ARN, subjects unordered
            let step = await up(provider, undefined, { role: roleArn, providerArn: DEV, subjects: [sa("bob"), sa("alice")] });
            measured.create = calls();
            assert.equal(step.op, "create");
            assert.equal(step.state.id, roleArn, "the id is the role's ARN: no update changes it");
            assert.deepEqual(step.state.outs.subjects, [sa("alice"), sa("bob")]);
            assert.equal(step.state.outs.roleName, ROLE);
            assert.equal(step.state.outs.roleArn, roleArn);
            assert.equal(step.state.outs.policyChars, serializePolicy(fake.trustPolicy(ROLE)).length);
            assert.deepEqual(ownedView(fake.trustPolicy(ROLE)), [sa("alice"), sa("bob")]);
            foreignIntact(ROLE);

            // an unchanged up: other order, role by name in other case, new provider text → no IAM call at all
            fake.resetCalls();
            step = await up(provider, step.state, { role: "KF-User-US-West-2-Dev", providerArn: DEV, subjects: [sa("alice"), sa("bob")] });
            measured.unchanged = calls();
            assert.equal(step.op, "same");
            assert.deepEqual(measured.unchanged, { reads: 0, writes: 0 });

            // a one-subject change
            fake.resetCalls();
            step = await up(provider, step.state, { role: ROLE, providerArn: DEV, subjects: [sa("alice"), sa("bob"), sa("carol")] });
            measured.oneSubject = calls();
            assert.equal(step.op, "update");
            assert.deepEqual(ownedView(fake.trustPolicy(ROLE)), [sa("alice"), sa("bob"), sa("carol")]);
            foreignIntact(ROLE);

            // removal
            step = await up(provider, step.state, { role: ROLE, providerArn: DEV, subjects: [sa("carol"), sa("bob")] });
            assert.equal(step.op, "update");
            assert.deepEqual(step.state.outs.subjects, [sa("bob"), sa("carol")]);
            assert.deepEqual(ownedView(fake.trustPolicy(ROLE)), [sa("bob"), sa("carol")]);
            foreignIntact(ROLE);

            // drift: someone removes bob by hand; refresh reports it; the next up restores it
            const drifted = fake.trustPolicy(ROLE);
            const users = drifted.Statement.find((s: any) => s.Sid === "KubeflowUsers");
            users.Condition.StringEquals[DEV_SUB] = users.Condition.StringEquals[DEV_SUB].filter((v: string) => v !== sa("bob"));
            fake.putRole(ROLE, drifted);
            fake.resetCalls();
            const refreshed = await provider.read!(step.state.id, step.state.outs);
            assert.equal(refreshed.id, step.state.id);
            assert.deepEqual(refreshed.props!.subjects, [sa("carol")]);
            assert.deepEqual(calls(), { reads: 1, writes: 0 });
            step.state = { id: refreshed.id!, outs: refreshed.props! };
            const restoring = await provider.diff!(step.state.id, step.state.outs, { ...step.state.outs, subjects: [sa("bob"), sa("carol")] });
            assert.equal(restoring.changes, true);
            step = await up(provider, step.state, { role: ROLE, providerArn: DEV, subjects: [sa("bob"), sa("carol")] });
            assert.equal(step.op, "update");
            assert.deepEqual(ownedView(fake.trustPolicy(ROLE)), [sa("bob"), sa("carol")]);
            foreignIntact(ROLE);

            // role change: replace; the new role gains, the old one loses, foreign trust stays on both
            freshRole(NEW_ROLE, initial);
            step = await up(provider, step.state, { role: NEW_ROLE, providerArn: DEV, subjects: [sa("bob"), sa("carol")] });
            assert.equal(step.op, "replace");
            assert.deepEqual(step.replaces, ["role"]);
            assert.equal(step.state.id, `arn:aws:iam::${ACCOUNT}:role/${NEW_ROLE}`);
            assert.deepEqual(ownedView(fake.trustPolicy(NEW_ROLE)), [sa("bob"), sa("carol")]);
            assert.deepEqual(ownedView(fake.trustPolicy(ROLE)), []);
            foreignIntact(ROLE);
            foreignIntact(NEW_ROLE);
            // … and only our subjects were taken away: the old role is back to its foreign trust exactly
            assert.deepEqual(asList(fake.trustPolicy(ROLE).Statement.find((s: any) => s.Sid === "KubeflowUsers").Condition.StringEquals[DEV_SUB]), [KF_USER]);

            // delete
            await provider.delete!(step.state.id, step.state.outs);
            assert.deepEqual(ownedView(fake.trustPolicy(NEW_ROLE)), []);
            foreignIntact(NEW_ROLE);

            // a role that is gone: refresh drops the resource, delete succeeds without writing
            fake.removeRole(NEW_ROLE);
            fake.resetCalls();
            const gone = await provider.read!(step.state.id, step.state.outs);
            assert.equal(gone.id, undefined);
            await provider.delete!(step.state.id, step.state.outs);
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 0);

            console.log(`      IAM calls: create ${JSON.stringify(measured.create)}, unchanged up ${JSON.stringify(measured.unchanged)}, one-subject change ${JSON.stringify(measured.oneSubject)}`);
            assert.deepEqual(measured.create, { reads: 3, writes: 1 }, "create: check's preview read, then read, write, verifying read");
            assert.deepEqual(measured.oneSubject, { reads: 3, writes: 1 }, "change: preview read in diff, then read, write, verifying read");
        });

        it("GIVEN the subjects are already trusted WHEN created THEN nothing is written (idempotent), and import by id claims nothing", async () => {
            const doc = sharedRolePolicy();
            const users = (doc.Statement as any[])[0];
            users.Condition.StringEquals[DEV_SUB] = [KF_USER, sa("alice")];
            freshRole("kf-already", doc);
            const { state } = await up(provider, undefined, { role: "kf-already", providerArn: DEV, subjects: [sa("alice")] });
            assert.deepEqual(calls(), { reads: 2, writes: 0 }, "check's preview read and create's read; nothing to write");
            assert.deepEqual(fake.trustPolicy("kf-already"), doc);
            assert.equal(state.outs.policyChars, serializePolicy(doc).length);

            const imported = await provider.read!(`kf-already|${DEV}`);
            assert.equal(imported.id, `kf-already|${DEV}`);
            // Nothing is claimed without state: kfctl's, other stacks' and people's subjects stay theirs.
            assert.deepEqual(imported.props!.subjects, []);
            assert.equal(imported.props!.roleArn, `arn:aws:iam::${ACCOUNT}:role/kf-already`);

            // an error of the algebra thrown inside the loaded (closure-serialized) provider keeps its message
            fake.putRole("kf-garbled", "{not json");
            const err = await rejection(provider.read!(`kf-garbled|${DEV}`));
            assert.match(err.message, /^the trust policy of role "kf-garbled" cannot be read: trust policy is not valid JSON: /);
        });

        it("GIVEN raw inputs that skipped check (no quota, repeated and unsorted subjects) WHEN created THEN the defaults apply as check would", async () => {
            freshRole("kf-raw", buildTrustPolicy(DEV, [KF_USER]));
            const created = await provider.create({ role: "kf-raw", providerArn: DEV, subjects: [sa("bob"), sa("alice"), sa("bob")] });
            assert.deepEqual(created.outs.subjects, [sa("alice"), sa("bob")]);
            assert.equal(created.outs.maxPolicyChars, 2048);
            assert.deepEqual(fake.trustPolicy("kf-raw").Statement[0].Condition.StringEquals[DEV_SUB], [KF_USER, sa("alice"), sa("bob")]);
        });

        it("GIVEN dev and prod clusters on one role WHEN the provider ARN changes THEN one update moves the subjects: prod gains, dev loses, in one write", async () => {
            const initial = sharedRolePolicy();
            const roleArn = freshRole("kf-multi", initial);
            let step = await up(provider, undefined, { role: "kf-multi", providerArn: DEV, subjects: [sa("dave")] });
            fake.resetCalls();
            step = await up(provider, step.state, { role: "kf-multi", providerArn: PROD, subjects: [sa("dave")] });
            assert.equal(step.op, "update");
            assert.deepEqual(calls(), { reads: 3, writes: 1 }, "diff's quota read, read, one write, verifying read");
            assert.equal(step.state.id, roleArn, "the id does not name the provider, so it stays true");
            assert.equal(step.state.outs.providerArn, PROD);
            assert.deepEqual(step.state.outs.leftovers, []);
            const after = fake.trustPolicy("kf-multi");
            const prod = after.Statement.find((s: any) => s.Sid === "ProdCluster");
            assert.deepEqual(prod.Condition.StringEquals[`${PROD_ISSUER}:sub`], [sa("alice"), sa("dave")]);
            assert.deepEqual(ownedView(after), []);
            assert.deepEqual(foreignView({ ...after, Statement: after.Statement.filter((s: any) => s.Sid !== "ProdCluster") }), foreignView({ ...initial, Statement: (initial.Statement as any[]).filter((s) => s.Sid !== "ProdCluster") }));
        });

        it("GIVEN a role too full for the new cluster's statement next to the foreign one WHEN the provider ARN changes THEN preview fails, before anything is written", async () => {
            freshRole("kf-half", buildTrustPolicy(DEV, [KF_USER]));
            const { state } = await up(provider, undefined, { role: "kf-half", providerArn: DEV, subjects: profiles(30), maxPolicyChars: 2048 });
            const before = fake.trustPolicy("kf-half");
            fake.resetCalls();
            // Our 30 subjects leave the dev statement (kfctl's kf-user stays there) for a new prod one.
            const err = await rejection(provider.diff!(state.id, state.outs, { ...state.outs, providerArn: PROD }));
            assert.match(err.message, /role "kf-half": the trust policy would be \d{4} characters with 30 subjects of this stack for oidc\.eks\.eu-west-1/);
            assert.deepEqual(calls(), { reads: 1, writes: 0 });
            assert.deepEqual(fake.trustPolicy("kf-half"), before);
        });

        it("GIVEN an anchor subject WHEN the cluster changes, subjects go and the resource is deleted THEN the anchor moves to the new provider, nothing stays under the old one, and it is never removed", async () => {
            freshRole("kf-anchored", buildTrustPolicy(DEV, [KF_USER]));
            const args = { role: "kf-anchored", subjects: [sa("alice")], anchors: [KF_USER] };
            let step = await up(provider, undefined, { ...args, providerArn: DEV });
            assert.deepEqual(step.state.outs.anchors, [KF_USER]);
            // the cluster is replaced: the anchor moves with the subjects
            step = await up(provider, step.state, { ...args, providerArn: PROD });
            assert.equal(step.op, "update");
            const moved = fake.trustPolicy("kf-anchored");
            assert.deepEqual(presentSubjects(moved, PROD).sort(), [sa("alice"), KF_USER]);
            assert.deepEqual(presentSubjects(moved, DEV), [], "nothing of the old provider remains");
            assert.equal(asList(moved.Statement).length, 1);
            // the last subject goes: the anchor stays, so the policy never runs empty
            step = await up(provider, step.state, { ...args, providerArn: PROD, subjects: [] });
            assert.deepEqual(presentSubjects(fake.trustPolicy("kf-anchored"), PROD), [KF_USER]);
            await provider.delete!(step.state.id, step.state.outs);
            assert.deepEqual(presentSubjects(fake.trustPolicy("kf-anchored"), PROD), [KF_USER]);
            // drift of an anchor shows on refresh (held for the next up, still owned), so the next up restores it
            fake.putRole("kf-anchored", buildTrustPolicy(PROD, [sa("bob")]));
            const refreshed = await provider.read!(step.state.id, step.state.outs);
            assert.deepEqual(refreshed.props!.anchors, [KF_USER]);
            assert.deepEqual(refreshed.props!.leftovers, [{ providerArn: PROD, subjects: [KF_USER] }]);
            assert.equal((await provider.diff!(step.state.id, refreshed.props!, { ...step.state.outs, __provider: providerText })).changes, true);
        });

        it("GIVEN our statement is the role's only trust WHEN the last subject would be removed THEN delete and update fail clearly and write nothing", async () => {
            freshRole("kf-dedicated", buildTrustPolicy(DEV, [sa("alice")]));
            const { state } = await up(provider, undefined, { role: "kf-dedicated", providerArn: DEV, subjects: [sa("alice")] });
            const err = await rejection(provider.delete!(state.id, state.outs));
            assert.match(err.message, /delete of role "kf-dedicated".*no statement.*keep one subject on the role, add a statement of your own to it, or delete the role/);
            const err2 = await rejection(up(provider, state, { role: "kf-dedicated", providerArn: DEV, subjects: [] }));
            assert.match(err2.message, /role "kf-dedicated".*no statement/);
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 0);
            assert.deepEqual(fake.trustPolicy("kf-dedicated"), buildTrustPolicy(DEV, [sa("alice")]));
        });
    });

    describe("check and diff (rules 3, 4)", () => {
        it("GIVEN invalid inputs WHEN checked THEN each is reported on its property with a reason", async () => {
            const good = { role: "kf-user", providerArn: DEV, subjects: [sa("alice")], maxPolicyChars: 2048, allowWildcards: false };
            const table: [string, Record<string, unknown>, string, RegExp][] = [
                ["a role that is neither name nor ARN", { role: "arn:aws:iam::123:role/x" }, "role", /neither an IAM role name/],
                ["a role name of 65 characters", { role: "r".repeat(65) }, "role", /neither an IAM role name/],
                ["a missing provider", { providerArn: undefined }, "providerArn", /required with subjects or anchors/],
                ["no provider and nothing else to own", { providerArn: undefined, subjects: [] }, "providerArn", /required unless the resource owns whole statements/],
                ["statements that are not statements", { statements: [{ Principal: "*" }] }, "statements", /not a list of policy statements/],
                ["a role ARN as provider", { providerArn: "arn:aws:iam::123456789012:role/x" }, "providerArn", /not an IAM OIDC provider ARN/],
                ["subjects that are not a list", { subjects: sa("alice") }, "subjects", /must be a list/],
                ["an upper-case namespace", { subjects: [sa("Alice")] }, "subjects", /RFC 1123/],
                ["an invalid service-account name", { subjects: [sa("alice", "kf_user")] }, "subjects", /service-account name/],
                ["a subject that is not one", { subjects: ["alice:default-editor"] }, "subjects", /not a service-account subject/],
                ["a wildcard without allowWildcards", { subjects: [sa("team-a", "runner-*")] }, "subjects", /wildcard.*allowWildcards/],
                ["a number as subject", { subjects: [42] }, "subjects", /not a string/],
                ["a quota under IAM's default", { maxPolicyChars: 1000 }, "maxPolicyChars", /2048 by default and at most 8192/],
                ["a quota over IAM's maximum", { maxPolicyChars: 16384 }, "maxPolicyChars", /at most 8192/],
                ["allowWildcards as text", { allowWildcards: "yes" }, "allowWildcards", /not a boolean/],
            ];
            for (const [what, patch, property, reason] of table) {
                const { failures } = await provider.check!({}, { ...good, ...patch });
                assert.ok(failures && failures.length === 1, `${what}: ${JSON.stringify(failures)}`);
                assert.equal(failures[0].property, property, what);
                assert.match(failures[0].reason, reason, what);
            }
            const ok = await provider.check!({}, { ...good, role: `arn:aws:iam::${ACCOUNT}:role/kubeflow/kf-user`, subjects: [sa("b"), sa("a"), sa("b")] });
            assert.deepEqual(ok.failures, []);
            assert.deepEqual(ok.inputs, { ...good, role: `arn:aws:iam::${ACCOUNT}:role/kubeflow/kf-user`, subjects: [sa("a"), sa("b")], anchors: [], retiredStatements: [], statements: [], owner: "" });
            const wild = await provider.check!({}, { ...good, subjects: [sa("team-a", "runner-*")], allowWildcards: true });
            assert.deepEqual(wild.failures, []);
        });

        it("GIVEN preview unknowns, even where a list is expected WHEN checked and diffed THEN nothing fails and no IAM call is made", async () => {
            const cases: Record<string, unknown>[] = [
                { role: UNKNOWN, providerArn: DEV, subjects: [sa("alice")] },
                { role: "kf-user", providerArn: UNKNOWN, subjects: [sa("alice")] },
                { role: "kf-user", providerArn: DEV, subjects: UNKNOWN },
                { role: "kf-user", providerArn: DEV, subjects: [UNKNOWN, sa("alice")] },
                { role: "kf-user", providerArn: DEV, subjects: [sa("alice")], maxPolicyChars: UNKNOWN },
                { role: "kf-user", providerArn: DEV, subjects: [sa("team-a", "runner-*")], allowWildcards: UNKNOWN },
            ];
            for (const news of cases) {
                const { failures } = await provider.check!({}, news);
                assert.deepEqual(failures, [], JSON.stringify(news));
            }
            fake.resetCalls();
            const olds = { role: "kf-user", providerArn: DEV, subjects: [sa("alice")], maxPolicyChars: 2048, allowWildcards: false, roleName: "kf-user", roleArn: "x", policyChars: 1 };
            assert.deepEqual(await provider.diff!("id", olds, { ...olds, subjects: UNKNOWN }), { changes: true });
            assert.deepEqual(await provider.diff!("id", olds, { ...olds, subjects: [UNKNOWN] }), { changes: true });
            assert.deepEqual((await provider.diff!("id", olds, { ...olds, role: UNKNOWN })).replaces, ["role"]);
            // an unknown provider (a cluster being replaced) is an update of the same resource, not a replace
            assert.deepEqual(await provider.diff!("id", olds, { ...olds, providerArn: UNKNOWN }), { changes: true });
            // only the owned set, the role and the provider count; order and duplicates do not
            assert.deepEqual(await provider.diff!("id", { ...olds, subjects: [sa("b"), sa("a")], __provider: "shim" }, { ...olds, subjects: [sa("a"), sa("b"), sa("a")], __provider: "shim", maxPolicyChars: 4096 }), { changes: false });
            // state written with another provider text (an earlier version's) is rewritten by an update, with no IAM call at preview
            assert.deepEqual(await provider.diff!("id", { ...olds, __provider: "old" }, { ...olds, __provider: "new" }), { changes: true });
            assert.deepEqual(await provider.diff!("id", olds, { ...olds, role: `arn:aws:iam::${ACCOUNT}:role/KF-USER` }), { changes: false });
            assert.deepEqual(calls(), { reads: 0, writes: 0 });
            // a move to another known role measures that role at preview (it does not exist here)
            assert.deepEqual((await provider.diff!("id", olds, { ...olds, role: "kf-user-2" })).replaces, ["role"]);
            assert.deepEqual(calls(), { reads: 1, writes: 0 });
        });

        it("GIVEN a move to a role that is nearly full WHEN diffed at preview THEN the replace fails there, before anything is written", async () => {
            freshRole("kf-roomy", buildTrustPolicy(DEV, [KF_USER]));
            freshRole("kf-crowded", sharedRolePolicy());
            const { state } = await up(provider, undefined, { role: "kf-roomy", providerArn: DEV, subjects: [sa("alice")] });
            const crowded = fake.trustPolicy("kf-crowded");
            let n = 1;
            while (policySize(applySubjectChange(crowded, { providerArn: DEV, add: profiles(n), remove: [] }).document) <= 2048) n++;
            fake.resetCalls();
            const err = await rejection(provider.diff!(state.id, state.outs, { ...state.outs, role: "kf-crowded", subjects: profiles(n), maxPolicyChars: 2048 }));
            assert.match(err.message, /role "kf-crowded": the trust policy would be \d+ characters/);
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 0);
        });

        it("GIVEN a wildcard subject WHEN allowWildcards is set THEN it is written under StringLike next to the foreign pattern", async () => {
            freshRole("kf-wild");
            await up(provider, undefined, { role: "kf-wild", providerArn: DEV, subjects: [sa("team-a", "runner-*"), sa("alice")], allowWildcards: true });
            const doc = fake.trustPolicy("kf-wild");
            const ci = doc.Statement.find((s: any) => s.Sid === "CiRunners");
            assert.deepEqual(ci.Condition.StringLike[DEV_SUB], ["system:serviceaccount:ci-*:runner", sa("team-a", "runner-*")]);
            assert.deepEqual(ownedView(doc), [sa("alice"), sa("team-a", "runner-*")]);
            assert.deepEqual(foreignView(doc), foreignView(sharedRolePolicy()));
        });
    });

    describe("size quota (rule 5)", () => {

        it("GIVEN a fresh IRSA trust policy WHEN filled with system:serviceaccount:<8-char ns>:default-editor THEN 33 fit in 2048, 76 in 4096 and 161 in 8192", () => {
            // Derivation: the minified document is 438 characters of skeleton (provider ARN 108,
            // issuer 68) plus 48 per subject (45 characters, two quotes, a comma) less one comma:
            // 438 + 48·33 = 2022 ≤ 2048 < 2070 = 438 + 48·34, 438 + 48·76 = 4086 ≤ 4096 < 4134, and
            // 438 + 48·161 = 8166 ≤ 8192 < 8214 (the 2026 maximum quota).
            assert.equal(profiles(1)[0].length, 45);
            const measured: Record<number, number> = {};
            for (const [limit, expected] of [[2048, 33], [4096, 76], [8192, 161]] as const) {
                const n = subjectsThatFit(DEV, 45, limit);
                measured[limit] = n;
                assert.equal(n, expected);
                assert.equal(policySize(buildTrustPolicy(DEV, profiles(n))), 438 + 48 * n);
                assert.ok(policySize(buildTrustPolicy(DEV, profiles(n))) <= limit);
                assert.ok(policySize(buildTrustPolicy(DEV, profiles(n + 1))) > limit);
            }
            console.log(`      subjects of 45 characters that fit: ${measured[2048]} in 2048, ${measured[4096]} in 4096, ${measured[8192]} in 8192`);
        });

        it("GIVEN more subjects than fit WHEN checked THEN check fails naming role, size, limit, count and the fix", async () => {
            const fits = await provider.check!({}, { role: "kf-user", providerArn: DEV, subjects: profiles(33), maxPolicyChars: 2048 });
            assert.deepEqual(fits.failures, []);
            const { failures } = await provider.check!({}, { role: "kf-user", providerArn: DEV, subjects: profiles(34), maxPolicyChars: 2048 });
            assert.equal(failures!.length, 1);
            assert.equal(failures![0].property, "subjects");
            const reason = failures![0].reason;
            for (const part of ['role "kf-user"', "2070 characters", "34 subjects", "limit of 2048", "Service Quotas", "L-C07B4B0D", "up to 8192", "spread the profiles over more roles"]) {
                assert.ok(reason.includes(part), `missing ${part}: ${reason}`);
            }
            const raised = await provider.check!({}, { role: "kf-user", providerArn: DEV, subjects: profiles(34), maxPolicyChars: 4096 });
            assert.deepEqual(raised.failures, []);
        });

        it("GIVEN foreign trust near the limit WHEN a change would cross it THEN diff fails at preview and update refuses before writing", async () => {
            const initial = sharedRolePolicy();
            freshRole("kf-full", initial);
            const { state } = await up(provider, undefined, { role: "kf-full", providerArn: DEV, subjects: [sa("alice")] });
            // the smallest change that crosses 4096 with the foreign trust already there
            const live = fake.trustPolicy("kf-full");
            const sizeWith = (n: number) => policySize(applySubjectChange(live, { providerArn: DEV, add: [sa("alice"), ...profiles(n)], remove: [] }).document);
            let n = 1;
            while (sizeWith(n) <= 4096) n++;
            const size = sizeWith(n);
            fake.resetCalls();
            const fits = await provider.diff!(state.id, state.outs, { ...state.outs, subjects: [sa("alice"), ...profiles(n - 1)] });
            assert.equal(fits.changes, true);
            const news = { ...state.outs, subjects: [sa("alice"), ...profiles(n)] };
            const err = await rejection(provider.diff!(state.id, state.outs, news));
            for (const part of ['role "kf-full"', `${size} characters`, `${n + 1} subjects`, "limit of 4096", "Fix:", "spread the profiles over more roles"]) {
                assert.ok(err.message.includes(part), `missing ${part}: ${err.message}`);
            }
            assert.deepEqual(calls(), { reads: 2, writes: 0 });
            const err2 = await rejection(provider.update!(state.id, state.outs, news));
            assert.ok(err2.message.includes(`${size} characters`), err2.message);
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 0);
            assert.deepEqual(fake.trustPolicy("kf-full"), live, "nothing was written");

            // a shrinking change is never refused, even when the role stays over the configured limit
            // (IAM holds the document, so the account's real quota is higher than maxPolicyChars says)
            const grown = await provider.update!(state.id, state.outs, { ...state.outs, subjects: [sa("alice"), sa("bob"), sa("carol")] });
            const shrunk = { ...grown.outs, maxPolicyChars: 2048, subjects: [sa("alice")] };
            assert.ok(sizeWith(0) > 2048, "still over 2048 after shrinking");
            assert.equal((await provider.diff!(state.id, grown.outs, shrunk)).changes, true);
            const done = await provider.update!(state.id, grown.outs, shrunk);
            assert.equal(done.outs!.policyChars, sizeWith(0));
            assert.deepEqual(ownedView(fake.trustPolicy("kf-full")), [sa("alice")]);
        });

        it("GIVEN foreign trust near the limit WHEN a new resource would cross it THEN check fails at preview, before any write", async () => {
            freshRole("kf-nearly", sharedRolePolicy());
            const live = fake.trustPolicy("kf-nearly");
            const sizeWith = (n: number) => policySize(applySubjectChange(live, { providerArn: DEV, add: profiles(n), remove: [] }).document);
            let n = 1;
            while (sizeWith(n) <= 4096) n++;
            fake.resetCalls();
            const checked = await provider.check!({}, { role: "kf-nearly", providerArn: DEV, subjects: profiles(n), maxPolicyChars: 4096 });
            assert.equal(checked.failures?.length, 1);
            assert.match(checked.failures![0].reason, new RegExp(`role "kf-nearly": the trust policy would be ${sizeWith(n)} characters with ${n} subjects`));
            assert.deepEqual(calls(), { reads: 1, writes: 0 });
            // an update's check makes no IAM call: only creates are measured there (diff measures updates)
            await provider.check!({ role: "kf-nearly", providerArn: DEV, subjects: [] }, { role: "kf-nearly", providerArn: DEV, subjects: profiles(n), maxPolicyChars: 4096 });
            assert.deepEqual(calls(), { reads: 1, writes: 0 });
        });

        it("GIVEN a role ARN of another account WHEN the credentials reach a same-named role in theirs THEN nothing is written and the error names both accounts", async () => {
            freshRole("data-eng", sharedRolePolicy());
            const otherAccount = "arn:aws:iam::999999999999:role/data-eng";
            const checked = await provider.check!({}, { role: otherAccount, providerArn: DEV, subjects: [sa("alice")], maxPolicyChars: 4096 });
            assert.match(checked.failures![0].reason, /role "arn:aws:iam::999999999999:role\/data-eng": the credentials in use reach arn:aws:iam::123456789012:role\/data-eng instead, in account 123456789012; run with credentials for account 999999999999/);
            const err = await rejection(provider.create(checked.inputs as never));
            assert.match(err.message, /in account 123456789012; run with credentials for account 999999999999/);
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 0);
            assert.deepEqual(fake.trustPolicy("data-eng"), sharedRolePolicy());
        });

        it("GIVEN an account quota lower than maxPolicyChars WHEN IAM answers LimitExceeded THEN it fails at once with one write attempt", async () => {
            freshRole("kf-quota");
            fake.quota = 2048; // the account was never raised, but the stack says 4096
            const err = await rejection(up(provider, undefined, { role: "kf-quota", providerArn: DEV, subjects: profiles(40), maxPolicyChars: 4096 })).finally(() => (fake.quota = 4096));
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 1, "LimitExceeded must not be retried");
            assert.match(err.message, /iam:UpdateAssumeRolePolicy on kf-quota failed: LimitExceeded.*Cannot exceed quota for ACLSizePerRole: 2048.*trustPolicyMaxChars/);
            assert.deepEqual(fake.trustPolicy("kf-quota"), sharedRolePolicy());
        });
    });

    describe("faults and concurrency (rule 6)", () => {
        const transient: [string, () => void, { reads: number; writes: number }][] = [
            // Counts include check's preview read before create.
            ["Throttling once on the write", () => fake.failNext("UpdateAssumeRolePolicy", { kind: "error", code: "Throttling", status: 400, message: "Rate exceeded" }), { reads: 3, writes: 2 }],
            ["ServiceFailure (500) once on the write", () => fake.failNext("UpdateAssumeRolePolicy", { kind: "error", code: "ServiceFailure", status: 500 }), { reads: 3, writes: 2 }],
            ["a dropped connection once on the write", () => fake.failNext("UpdateAssumeRolePolicy", { kind: "drop" }), { reads: 3, writes: 2 }],
            ["a dropped connection once on the read", () => fake.failNext("GetRole", { kind: "drop" }), { reads: 4, writes: 1 }],
            ["ConcurrentModification once", () => fake.failNext("UpdateAssumeRolePolicy", { kind: "error", code: "ConcurrentModification", status: 409 }), { reads: 4, writes: 2 }],
        ];
        for (const [fault, inject, expected] of transient) {
            it(`GIVEN ${fault} WHEN created THEN it is retried and succeeds (${expected.reads} reads, ${expected.writes} writes)`, async () => {
                freshRole("kf-faulty");
                inject();
                await up(provider, undefined, { role: "kf-faulty", providerArn: DEV, subjects: [sa("alice")] });
                assert.deepEqual(calls(), expected);
                assert.deepEqual(ownedView(fake.trustPolicy("kf-faulty")), [sa("alice")]);
                assert.deepEqual(foreignView(fake.trustPolicy("kf-faulty")), foreignView(sharedRolePolicy()));
            });
        }

        it("GIVEN a foreign writer that overwrites our write with its own edit of the old document WHEN created THEN the verifying read catches it and both changes end up in the policy", async () => {
            const before = sharedRolePolicy();
            freshRole("kf-race", before);
            const theirs = JSON.parse(JSON.stringify(before));
            theirs.Statement[0].Condition.StringEquals[DEV_SUB] = [KF_USER, sa("kubeflow", "ml-pipeline")];
            fake.after("UpdateAssumeRolePolicy", () => fake.putRole("kf-race", theirs));
            const { state } = await up(provider, undefined, { role: "kf-race", providerArn: DEV, subjects: [sa("alice")] });
            const final = fake.trustPolicy("kf-race");
            assert.deepEqual(final.Statement[0].Condition.StringEquals[DEV_SUB], [KF_USER, sa("kubeflow", "ml-pipeline"), sa("alice")]);
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 2, "one write lost, one on top of theirs");
            // check's read, read, write (lost), verifying reads until theirs has settled (three in a row, 2 s: not a lagging read), read, write, verify
            assert.ok(fake.count("GetRole") >= 7, `reads: ${fake.count("GetRole")}`);
            assert.equal(state.outs.policyChars, serializePolicy(final).length);
        });

        it("GIVEN reads that lag writes (IAM is eventually consistent) and a writer adding its subject right after ours WHEN created THEN one write, and theirs survives", async () => {
            freshRole("kf-lagging");
            fake.readLagMs = 600;
            try {
                fake.after("UpdateAssumeRolePolicy", () => {
                    // A well-behaved foreign writer that read our document and added its own subject.
                    const ours = JSON.parse(fake.role("kf-lagging")!.document);
                    ours.Statement[0].Condition.StringEquals[DEV_SUB] = [...ours.Statement[0].Condition.StringEquals[DEV_SUB], sa("foreign-team")];
                    fake.putRole("kf-lagging", ours);
                });
                const created = await provider.create({ role: "kf-lagging", providerArn: DEV, subjects: [sa("alice")], maxPolicyChars: 4096 });
                assert.equal(fake.count("UpdateAssumeRolePolicy"), 1, "a read that predates our write is waited out, not written over");
                assert.ok(fake.count("GetRole") >= 3, "the verifying reads saw the old document first");
                const subs = fake.trustPolicy("kf-lagging").Statement[0].Condition.StringEquals[DEV_SUB];
                assert.deepEqual(subs, [KF_USER, sa("alice"), sa("foreign-team")]);
                assert.deepEqual(created.outs.subjects, [sa("alice")]);
            } finally {
                fake.readLagMs = 0;
            }
        });

        it("GIVEN ServiceFailure on every attempt WHEN created THEN the SDK's retries are bounded and the error says what to do", async () => {
            freshRole("kf-down");
            fake.failNext("UpdateAssumeRolePolicy", { kind: "error", code: "ServiceFailure", status: 500, message: "IAM is down" }, 10, "kf-down");
            const err = await rejection(up(provider, undefined, { role: "kf-down", providerArn: DEV, subjects: [sa("alice")] }));
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 5);
            assert.match(err.message, /ServiceFailure.*IAM is down.*IAM kept failing; try again later/);
        });

        const permanent: [string, string, number, RegExp][] = [
            ["MalformedPolicyDocument", "UpdateAssumeRolePolicy", 400, /iam:UpdateAssumeRolePolicy on kf-denied failed: MalformedPolicyDocument.*Injected MalformedPolicyDocument fault.*aws iam get-role/],
            ["AccessDenied", "UpdateAssumeRolePolicy", 403, /iam:UpdateAssumeRolePolicy on kf-denied failed: AccessDenied.*needs iam:UpdateAssumeRolePolicy on it.*aws:assumeRoles/],
            ["AccessDenied", "GetRole", 403, /iam:GetRole on kf-denied failed: AccessDenied.*needs iam:GetRole/],
        ];
        for (const [code, action, status, message] of permanent) {
            it(`GIVEN ${code} on ${action} WHEN created THEN it fails at once with AWS's message and what to do`, async () => {
                freshRole("kf-denied");
                // check's preview read is best effort: a GetRole failure there is left for create to report.
                const attempts = action === "GetRole" ? 2 : 1;
                fake.failNext(action, { kind: "error", code, status }, attempts);
                const err = await rejection(up(provider, undefined, { role: "kf-denied", providerArn: DEV, subjects: [sa("alice")] }));
                assert.match(err.message, message);
                assert.equal(fake.count(action), attempts, `${code} must not be retried`);
                assert.deepEqual(fake.trustPolicy("kf-denied"), sharedRolePolicy());
            });
        }

        it("GIVEN a role that does not exist WHEN created THEN it fails saying so", async () => {
            fake.resetCalls();
            const err = await rejection(up(provider, undefined, { role: "kf-missing", providerArn: DEV, subjects: [sa("alice")] }));
            assert.match(err.message, /create: role "kf-missing" does not exist/);
            assert.equal(fake.count("UpdateAssumeRolePolicy"), 0);
        });

    });

    describe("the quota message", () => {
        const anchor = "system:serviceaccount:kubeflow-irsa.invalid:kf-user";
        it("GIVEN a role that still trusts moved profiles (draining until finishMoves) WHEN its document would pass the quota THEN the first fix is to finish those moves", () => {
            const kept = profiles(30);
            const draining = profiles(5, 30);
            const document = buildTrustPolicy(DEV, [anchor, ...kept, ...draining]);
            const message = quotaProblem(KF_USER, document, { providerArn: DEV, subjects: kept, anchors: [anchor], maxPolicyChars: 2048 })!;
            assert.match(message, /the trust policy would be \d{4} characters with 30 subjects of this stack/);
            assert.match(message, /Fix: finish the moves of profiles that still drain on this role \(5 subjects of oidc\.eks\.[\w.-]+\/id\/\w+ in it that this role's config does not name: moved profiles kept until kubeflow-irsa:finishMoves, or another writer's; `npm run doctor -- --stack <stack>` lists what drains\), or raise/);
            const without = quotaProblem(KF_USER, buildTrustPolicy(DEV, [anchor, ...profiles(36)]), { providerArn: DEV, subjects: profiles(36), anchors: [anchor], maxPolicyChars: 2048 })!;
            assert.match(without, /Fix: raise the account's/, "nothing drains: no such fix");
        });
    });
});
