// The TrustSubjects provider, loaded as the Pulumi host loads it (tests/support/trustSubjectsSuite.ts):
// IAM's faults (throttling, 500s, dropped connections), eventually consistent reads and foreign
// writers racing its writes.
import { strict as assert } from "assert";
import type { FakeIam } from "../support/fakeIam";
import { DEV, DEV_SUB, KF_USER, sa, sharedRolePolicy } from "../support/fixtures";
import type { Provider } from "../support/host";
import { foreignView, ownedView, rejection, trustSubjectsForSuite, type ProviderSuite } from "../support/trustSubjectsSuite";
import { serializePolicy } from "../../domain/trustPolicy";

describe("TrustSubjects dynamic provider (loaded as the Pulumi host loads it, against a local IAM)", function () {
    let fake: FakeIam, provider: Provider, up: ProviderSuite["up"], freshRole: ProviderSuite["freshRole"], calls: ProviderSuite["calls"];
    trustSubjectsForSuite((suite) => ({ fake, provider, up, freshRole, calls } = suite));

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
});
