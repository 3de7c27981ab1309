// IAM's quotas on permission policies (inline policies together 10,240 characters per role, a
// managed policy 6,144, 10 managed policies per role), measured independently of policySize, on
// the program under mocks: chained cross-account profiles from a handful to 1,000, the preview's
// refusal when a role would not fit, the pages' order of changes, and what the pages allow —
// judged by the doctor's evaluator and iam-simulate.
import { strict as assert } from "assert";
import fc from "fast-check";
import { main as synthMain } from "../../cli/synth";
import { runProgram, type ConfigValues, type ProgramRun } from "../../cli/evaluate";
import { chainLayout, chainPageDocument, type ChainTarget } from "../../components/chaining";
import { permissionProblems } from "../../components/permissionBudget";
import { evaluatePermissions } from "../../analysis/permissionEvaluation";
import { parsePolicyDocument, statementsOf, type PolicyDocument } from "../../domain/trustPolicy";
import { cliValues, ofType } from "../support/program";
import { AS_SIMULATED, simulate } from "../support/simulator";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { stringify as toYaml } from "yaml";

const ACCOUNT = "123456789012";
const KF_USER = "kf-user-us-west-2-kf-prod";
const CLUSTER_ARN = `arn:aws:eks:us-west-2:${ACCOUNT}:cluster/kf-prod`;
/** IAM counts policies without white space. */
const chars = (text: string) => text.replace(/\s/g, "").length;
const partnerRole = (i: number) => `arn:aws:iam::${String(900000000000 + i)}:role/kubeflow-partner-${String(i).padStart(4, "0")}`;
const partner = (i: number) => `partner-${String(i).padStart(4, "0")}`;

function config(chained: number, extra: Record<string, unknown> = {}): ConfigValues {
    return cliValues({
        "aws:region": "us-west-2",
        "kubeflow-irsa:clusterName": "kf-prod",
        "kubeflow-irsa:kubeflowInstalled": "false",
        "kubeflow-irsa:identityMode": "podIdentity",
        "kubeflow-irsa:profileBucket": "acme-ml-workspaces",
        "kubeflow-irsa:profiles": [
            { name: "team-a", owner: "alice@example.com" },
            ...Array.from({ length: chained }, (_, i) => ({ name: partner(i), owner: `p${i}@example.com`, awsIamRole: partnerRole(i) })),
        ],
        ...extra,
    });
}

/** What the program puts on kf-user: inline policies, its own managed policies, attached ARNs. */
function onKfUser(run: ProgramRun) {
    const inline = ofType(run, "aws:iam/rolePolicy:RolePolicy").filter((r) => r.inputs.role === KF_USER);
    const attachments = ofType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").filter((r) => r.inputs.role === KF_USER);
    const pages = ofType(run, "aws:iam/policy:Policy").filter((p) => attachments.some((a) => a.inputs.policyArn === p.state.arn));
    return { inline, attachments, pages };
}
const documentOf = (r: { inputs: Record<string, unknown> }) => parsePolicyDocument(String(r.inputs.policy));

describe("permission-policy quotas: chained profiles from a handful to 1,000", function () {
    this.timeout(300_000);

    it("GIVEN a handful of chained profiles THEN kf-user keeps the exact inline policy (one statement per profile: its namespace, accounts and target role)", async () => {
        const { inline, pages } = onKfUser(await runProgram(config(5)));
        assert.deepEqual(inline.map((r) => r.inputs.name).sort(), ["assume-target-roles", "profile-bucket"]);
        assert.equal(statementsOf(documentOf(inline.find((r) => r.inputs.name === "assume-target-roles")!)).length, 5);
        assert.deepEqual(pages, []);
    });

    it("GIVEN 60 chained profiles (the exact policy alone: over 17,000 characters) THEN kf-user's inline policies stay within 10,240 and the chain goes to a page", async () => {
        const exactSize = 60 * chars(JSON.stringify(statementsOf(documentOf(onKfUser(await runProgram(config(1))).inline.find((r) => r.inputs.name === "assume-target-roles")!))[0]));
        assert.ok(exactSize > 17_000, `the exact policy would be about ${exactSize} characters`);
        const { inline, pages } = onKfUser(await runProgram(config(60)));
        assert.deepEqual(inline.map((r) => r.inputs.name), ["profile-bucket"]);
        assert.ok(inline.reduce((n, r) => n + chars(String(r.inputs.policy)), 0) <= 10_240);
        assert.equal(pages.length, 1);
        assert.ok(chars(String(pages[0].inputs.policy)) <= 6_144);
    });

    it("GIVEN a stack growing past the exact policy THEN the pages are new resources and the exact policy leaves the program: the engine deletes what leaves last, after the pages are attached, so no chained profile is ever without permission", async () => {
        const small = await runProgram(config(20));
        const large = await runProgram(config(60));
        const exact = onKfUser(small).inline.find((r) => r.inputs.name === "assume-target-roles")!;
        const now = new Set(large.resources.map((r) => r.urn));
        assert.ok(!now.has(exact.urn), "the exact policy is deleted by the engine (after creates and updates)");
        assert.ok(now.has(onKfUser(small).inline.find((r) => r.inputs.name === "profile-bucket")!.urn), "the bucket policy stays, unchanged");
        const before = new Set(small.resources.map((r) => r.urn));
        for (const r of [...onKfUser(large).pages, ...onKfUser(large).attachments]) {
            assert.ok(!before.has(r.urn), `${r.name} is created`);
            assert.equal(r.options.deleteBeforeReplace, false, `${r.name}: created before anything it replaces goes`);
        }
    });

    describe("GIVEN 1,000 chained cross-account profiles (each in its own account)", () => {
        let run: ProgramRun;
        before(async () => {
            run = await runProgram(config(1000));
        });

        it("THEN every quota holds: inline ≤ 10,240, each page ≤ 6,144, attached ≤ 10 — and every chained namespace is on exactly one page", () => {
            const { inline, attachments, pages } = onKfUser(run);
            const inlineChars = inline.reduce((n, r) => n + chars(String(r.inputs.policy)), 0);
            const sizes = pages.map((p) => chars(String(p.inputs.policy)));
            console.log(`      1,000 chained profiles: kf-user inline ${inlineChars} / 10240 characters, ${pages.length} pages of ${sizes.join(", ")} / 6144, ${attachments.length} / 10 attached`);
            assert.ok(inlineChars <= 10_240);
            assert.ok(sizes.every((n) => n <= 6_144));
            assert.ok(attachments.length <= 10 && pages.length >= 2);
            const onPages = pages.flatMap((p) => statementsOf(documentOf(p)).flatMap((s) => (s.Condition as Record<string, Record<string, string[]>>).StringEquals["aws:PrincipalTag/kubernetes-namespace"]));
            assert.equal(onPages.length, 1000);
            assert.deepEqual([...new Set(onPages)].sort(), Array.from({ length: 1000 }, (_, i) => partner(i)).sort());
        });

        it("THEN a page changes only after the pages its namespaces may move to are attached", () => {
            const { pages } = onKfUser(run);
            for (const page of pages) {
                const index = Number(String(page.inputs.name).split("-").pop());
                const expected = pages
                    .map((p) => Number(String(p.inputs.name).split("-").pop()))
                    .filter((j) => j > index && (j - index) % (index === 0 ? 1 : 2 ** (Math.floor(Math.log2(index)) + 1)) === 0);
                for (const j of expected) {
                    const attachment = ofType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").find((a) => a.name === `${KF_USER}-chain-${j}`)!;
                    assert.ok(page.options.dependencies.includes(attachment.urn), `page ${index} waits for page ${j}'s attachment`);
                }
            }
        });

        it("WHEN sessions ask to chain THEN only chained namespaces of this cluster may — the doctor's evaluator and iam-simulate agree", async () => {
            const policies = [...onKfUser(run).inline, ...onKfUser(run).pages].map((r) => ({ name: String(r.inputs.name), document: documentOf(r) }));
            const session = (namespace: string, cluster = "kf-prod") => ({
                "aws:PrincipalTag/kubernetes-namespace": namespace,
                "aws:PrincipalTag/kubernetes-service-account": "default-editor",
                "aws:PrincipalTag/eks-cluster-arn": `arn:aws:eks:us-west-2:${ACCOUNT}:cluster/${cluster}`,
            });
            for (const [context, resource, expected] of [
                [session(partner(42)), partnerRole(42), "allowed"],
                [session(partner(999)), partnerRole(999), "allowed"],
                [session("team-a"), partnerRole(42), "implicitly denied"],
                [session(partner(42), "kf-staging"), partnerRole(42), "implicitly denied"],
            ] as const) {
                for (const action of ["sts:AssumeRole", "sts:TagSession"]) {
                    const ours = evaluatePermissions(policies, { action, resource, context }).decision;
                    assert.equal(ours, expected, `${action} ${JSON.stringify(context)}`);
                    const principal = `arn:aws:sts::${ACCOUNT}:assumed-role/${KF_USER}/eks-kf-prod-pod`;
                    // kf-user's side alone, as for a role of its own account (the target's trust is judged by its owner's policy, see synth's target-role-trust/).
                    assert.equal(await simulate({ identityPolicies: policies, principal, action, resource, account: ACCOUNT, context }), AS_SIMULATED[expected], `iam-simulate ${action} ${JSON.stringify(context)}`);
                }
            }
        });

        it("WHEN userPolicyArns would take the managed-policy slots the pages need THEN the preview fails before registering anything, naming the role, the count, the limit and the fix", async () => {
            const arns = Array.from({ length: 8 }, (_, i) => `arn:aws:iam::${ACCOUNT}:policy/team-tools-${i}`);
            await assert.rejects(runProgram(config(1000, { "kubeflow-irsa:userPolicyArns": arns })), (err: Error & { registered?: string[] }) => {
                assert.match(
                    err.message,
                    /role "kf-user-us-west-2-kf-prod": \d+ managed policies would be attached \(\d+ for chained profiles, 8 from kubeflow-irsa:userPolicyArns\), over IAM's default quota of 10 per role; remove some of kubeflow-irsa:userPolicyArns/,
                );
                assert.deepEqual(err.registered, []);
                return true;
            });
        });
    });

    it("GIVEN synth of 60 chained profiles THEN every role's permission-policy figures are in the table and summary.json, and each page is a file", async () => {
        const dir = fs.mkdtempSync(path.join(os.tmpdir(), "synth-pages-"));
        fs.copyFileSync(path.join(__dirname, "..", "..", "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
        const values = config(60);
        const stackConfig = Object.fromEntries(Object.entries(values).map(([k, v]) => [k, v.startsWith("[") || v.startsWith("{") ? JSON.parse(v) : v]));
        fs.writeFileSync(path.join(dir, "Pulumi.pages.yaml"), toYaml({ config: stackConfig }));
        let stdout = "";
        const code = await synthMain(["--stack", "pages", "--project-dir", dir, "--out", path.join(dir, "out")], { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: () => undefined } });
        assert.equal(code, 0, stdout);
        assert.match(stdout, new RegExp(`^${KF_USER} +\\d+ / 10240 +1: largest \\d+ +1 / 10$`, "m"));
        const summary = JSON.parse(fs.readFileSync(path.join(dir, "out", "summary.json"), "utf8")) as {
            roles: { role: string; permissions: { inlineChars: number; inlineLimit: number; managed: { name: string; chars: number }[]; attached: number }; permissionPolicies: { file: string }[] }[];
        };
        const user = summary.roles.find((r) => r.role === KF_USER)!;
        const page = fs.readFileSync(path.join(dir, "out", `permission-policies/${KF_USER}/${KF_USER}-chain-0.json`), "utf8");
        assert.deepEqual(user.permissions.managed, [{ name: `${KF_USER}-chain-0`, chars: chars(page) }]);
        assert.equal(user.permissions.inlineChars, chars(fs.readFileSync(path.join(dir, "out", `permission-policies/${KF_USER}/profile-bucket.json`), "utf8")));
        assert.equal(user.permissions.inlineLimit, 10_240);
        assert.ok(summary.roles.every((r) => r.permissions.inlineChars <= r.permissions.inlineLimit));
        fs.rmSync(dir, { recursive: true, force: true });
    });

    describe("what the pages grant beyond the exact pairing (review of issue 19)", () => {
        const targets: ChainTarget[] = Array.from({ length: 60 }, (_, i) => ({ namespace: partner(i), serviceAccounts: ["default-editor"], targetRoleArn: partnerRole(i) }));
        const layout = chainLayout(targets, CLUSTER_ARN, "aws", 0);
        const pages = layout.kind === "pages" ? layout.pages.map((p) => ({ name: `page-${p.index}`, document: chainPageDocument(targets.filter((t) => p.namespaces.includes(t.namespace)), CLUSTER_ARN, "aws") })) : [];
        const session = (serviceAccount: string) => ({ "aws:PrincipalTag/kubernetes-namespace": partner(7), "aws:PrincipalTag/kubernetes-service-account": serviceAccount, "aws:PrincipalTag/eks-cluster-arn": CLUSTER_ARN });
        const principal = `arn:aws:sts::${ACCOUNT}:assumed-role/${KF_USER}/eks-kf-prod-pod`;
        const trustsRoot = (account: string) => ({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: `arn:aws:iam::${account}:root` }, Action: "sts:AssumeRole" }] });
        const cases: [string, string, string, string, boolean][] = [
            ["its own target role", partnerRole(7), partnerRole(7).split(":")[4], "default-editor", true],
            ["a role of the cluster's own account whose trust names the account root (a CDK deploy role)", `arn:aws:iam::${ACCOUNT}:role/cdk-hnb659fds-deploy-role-${ACCOUNT}-us-west-2`, ACCOUNT, "default-editor", false],
            ["its own target role, from a service account the profile does not list (Katib's default)", partnerRole(7), partnerRole(7).split(":")[4], "default", false],
        ];
        for (const [label, resource, account, serviceAccount, allowed] of cases) {
            it(`GIVEN a kf-user session of chained profile ${partner(7)} WHEN it assumes ${label} THEN ${allowed ? "allowed" : "denied"}, by the doctor's evaluator and by iam-simulate`, async () => {
                assert.equal(layout.kind, "pages");
                const context = session(serviceAccount);
                assert.equal(evaluatePermissions(pages, { action: "sts:AssumeRole", resource, context }).decision, allowed ? "allowed" : "implicitly denied");
                assert.equal(await simulate({ identityPolicies: pages, resourcePolicy: trustsRoot(ACCOUNT) as never, principal, action: "sts:AssumeRole", resource, account, context }), allowed ? "Allowed" : "ImplicitlyDenied");
            });
        }
    });

    describe("the pages' layout (chainLayout)", () => {
        const targets = (namespaces: string[]): ChainTarget[] => namespaces.map((n, i) => ({ namespace: n, serviceAccounts: ["default-editor"], targetRoleArn: partnerRole(i) }));
        const pagesOf = (namespaces: string[]) => {
            const layout = chainLayout(targets(namespaces), CLUSTER_ARN, "aws", 0);
            assert.equal(layout.kind, "pages");
            return layout.kind === "pages" ? layout.pages : [];
        };
        it("GIVEN profiles added a few at a time up to 1,500 THEN none changes page while the page count stays; when it doubles, each moves only to a page its old page waits for", () => {
            // Namespaces as teams name them, in a random order (seeded).
            const all = fc.sample(fc.stringMatching(/^[a-z][a-z0-9-]{2,18}[a-z0-9]$/), { numRuns: 3000, seed: 19 });
            const namespaces = [...new Set(all)].slice(0, 1500);
            assert.equal(namespaces.length, 1500);
            let old = pagesOf(namespaces.slice(0, 1));
            const counts = new Set<number>();
            const count = (pages: typeof old) => 2 ** Math.ceil(Math.log2(Math.max(...pages.map((p) => p.index)) + 1));
            // Every few profiles (what holds between any two sizes holds between neighbours).
            for (let n = 7; n <= namespaces.length; n += 6) {
                const now = pagesOf(namespaces.slice(0, n));
                const pageOf = (pages: typeof old, ns: string) => pages.find((p) => p.namespaces.includes(ns))!.index;
                for (const ns of namespaces.slice(0, n - 6)) {
                    const [from, to] = [pageOf(old, ns), pageOf(now, ns)];
                    if (from === to) continue;
                    assert.ok(count(now) > count(old), `${ns} moved from page ${from} to ${to} at ${n} profiles without more pages`);
                    assert.ok(now.find((p) => p.index === from)?.after.includes(to) ?? true, `page ${from} does not wait for page ${to}`);
                }
                counts.add(count(now));
                old = now;
            }
            assert.ok(counts.size >= 3, `page counts seen: ${[...counts].join(", ")}`);
        });
    });

    it("GIVEN inline policies over 10,240 together THEN the message names the role, each policy's size, the limit and the fix", () => {
        const big = (n: number): PolicyDocument => ({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Action: "s3:GetObject", Resource: Array.from({ length: n }, (_, i) => `arn:aws:s3:::bucket-${i}/*`) }] });
        const [problem, ...rest] = permissionProblems({ role: "kf-admin-us-west-2-kf-prod", inline: [{ name: "a", document: big(200) }, { name: "b", document: big(200) }], managed: [], attachedArns: [] });
        assert.deepEqual(rest, []);
        const total = 2 * chars(JSON.stringify(big(200)));
        assert.ok(total > 10_240 && chars(JSON.stringify(big(200))) <= 10_240, `${total}: each fits, together they do not`);
        assert.equal(
            problem,
            `role "kf-admin-us-west-2-kf-prod": its inline policies would total ${total} characters (a ${total / 2}, b ${total / 2}), over IAM's 10240 per role (white space not counted); ` +
                "IAM refuses the policy that crosses it (LimitExceeded): turn off what the role does not need (enableFsx, profileBucket) or use adminRoleMode perController (one role per component)",
        );
    });
});
