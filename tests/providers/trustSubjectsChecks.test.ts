// The TrustSubjects provider, loaded as the Pulumi host loads it (tests/support/trustSubjectsSuite.ts):
// what check and diff accept and refuse at preview, and the trust-policy size quota and its message.
import { strict as assert } from "assert";
import type { FakeIam } from "../support/fakeIam";
import { ACCOUNT, DEV, DEV_SUB, KF_USER, sa, sharedRolePolicy } from "../support/fixtures";
import type { Provider } from "../support/host";
import { foreignView, ownedView, profiles, rejection, trustSubjectsForSuite, type ProviderSuite } from "../support/trustSubjectsSuite";
import { quotaProblem, UNKNOWN } from "../../providers/trustSubjects";
import { applySubjectChange, buildTrustPolicy, policySize, subjectsThatFit } from "../../domain/trustPolicy";

describe("TrustSubjects dynamic provider (loaded as the Pulumi host loads it, against a local IAM)", function () {
    let fake: FakeIam, provider: Provider, up: ProviderSuite["up"], freshRole: ProviderSuite["freshRole"], calls: ProviderSuite["calls"];
    trustSubjectsForSuite((suite) => ({ fake, provider, up, freshRole, calls } = suite));

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
