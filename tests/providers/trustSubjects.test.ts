// The TrustSubjects dynamic provider, loaded the way the Pulumi host loads it: the resource is
// constructed under runtime mocks, the serialized `__provider` text is loaded with
// require-from-string(text).handler(), configured once, and its methods are called directly
// against a local IAM endpoint (tests/support/fakeIam.ts) with the real AWS SDK. Here: serialization
// and loading, and the lifecycle; check, diff and the quota in trustSubjectsChecks.test.ts, faults
// and concurrency in trustSubjectsFaults.test.ts (their harness: tests/support/trustSubjectsSuite.ts).
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import requireFromString = require("require-from-string");
import type { FakeIam } from "../support/fakeIam";
import { ACCOUNT, DEV, DEV_SUB, KF_USER, PROD, PROD_ISSUER, sa, sharedRolePolicy } from "../support/fixtures";
import { hostConfig, loadAsHost, type Provider } from "../support/host";
import { asList, foreignView, ownedView, profiles, rejection, trustSubjectsForSuite, type ProviderSuite } from "../support/trustSubjectsSuite";
import { trustSubjectsProvider } from "../../providers/trustSubjects";
import { buildTrustPolicy, presentSubjects, serializePolicy } from "../../domain/trustPolicy";

describe("TrustSubjects dynamic provider (loaded as the Pulumi host loads it, against a local IAM)", function () {
    let fake: FakeIam;
    let providerText: string;
    let registeredInputs: Record<string, unknown>;
    let provider: Provider;
    let up: ProviderSuite["up"];
    let freshRole: ProviderSuite["freshRole"];
    let calls: ProviderSuite["calls"];
    trustSubjectsForSuite((suite) => ({ fake, providerText, registeredInputs, provider, up, freshRole, calls } = suite));

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
});
