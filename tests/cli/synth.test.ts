// `npm run synth`: the real program evaluated offline, its trust policies, Kubernetes objects and
// summary written for review. Runs main() in-process against the repository's stacks and against
// temporary project directories. Here: the shipped dev stack, both phases, the trust-policy rules,
// bad configuration and usage; other configurations in synthStack.test.ts, the comparison with a
// previous run in synthSummary.test.ts.
import { strict as assert } from "assert";
import * as fs from "fs";
import * as path from "path";
import { stringify as toYaml } from "yaml";
import type { Summary } from "../../cli/synth";
import { readStackFiles } from "../../cli/evaluate";
import { parseStackConfig } from "../../components/config";
import { loadPolicy } from "../../components/roles";
import { ACCOUNT, assertOk, assertPretty, conditionKeys, DEV, DEV_POLICY_VARS, editor, EXTERNAL_ARN, PERMISSIONS, permissionTree, project, read, readJson, removeTmpDirs, ROOT, synth, tmpDir, yamlDocs, type Policy, type Result } from "../support/synth";

describe("npm run synth", function () {
    this.timeout(30_000);

    after(removeTmpDirs);

    describe("GIVEN the dev stack (two kf-user profiles, one on an external role)", () => {
        let out: string;
        let result: Result;
        let summary: Summary;
        before(async () => {
            out = tmpDir("dev");
            result = await synth("--stack", "dev", "--out", out, "--config", "kubeflowInstalled=false");
            assertOk(result);
            summary = readJson<Summary>(out, "summary.json");
        });

        it("THEN it writes one pretty-printed trust policy per role, the YAML of both phases and summary.json", () => {
            assert.deepEqual(fs.readdirSync(out).sort(), ["kubernetes-after-kubeflow.yaml", "kubernetes.yaml", "permission-policies", "summary.json", "trust-policies"]);
            // a role this stack does not create is filed under its account too: one name, two accounts, two roles
            const files = [`${ACCOUNT}-${DEV.external}.json`, `${DEV.admin}.json`, `${DEV.user}.json`];
            assert.deepEqual(fs.readdirSync(path.join(out, "trust-policies")).sort(), files);
            for (const file of files) {
                const text = read(out, `trust-policies/${file}`);
                // readable and diffable: 2-space indent, one subject per line, a trailing newline
                assert.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`, `${file} is not pretty-printed`);
                const lines = text.split("\n");
                assert.ok(lines.some((l) => l.includes("system:serviceaccount:")) && lines.every((l) => l.split("system:serviceaccount:").length <= 2), `${file}: one subject per line`);
            }
        });

        it("THEN kf-user trusts its anchor (a namespace Kubernetes cannot create) and each of its profiles' default-editor, for the mocked provider", () => {
            const policy = readJson<Policy>(out, `trust-policies/${DEV.user}.json`);
            const provider = summary.oidcProviderArn!;
            assert.match(provider, new RegExp(`^arn:aws:iam::${ACCOUNT}:oidc-provider/oidc\\.eks\\.us-west-2\\.amazonaws\\.com/id/[0-9A-F]{32}$`));
            const issuer = provider.split(":oidc-provider/")[1];
            assert.equal(policy.Version, "2012-10-17");
            assert.equal(policy.Statement.length, 1);
            const [statement] = policy.Statement;
            assert.equal(statement.Effect, "Allow");
            assert.deepEqual(statement.Principal, { Federated: provider });
            assert.equal(statement.Action, "sts:AssumeRoleWithWebIdentity");
            assert.equal(statement.Condition.StringEquals[`${issuer}:aud`], "sts.amazonaws.com");
            assert.deepEqual(
                [...(statement.Condition.StringEquals[`${issuer}:sub`] as string[])].sort(),
                ["system:serviceaccount:kubeflow-irsa.invalid:kf-user", editor("team-nlp"), editor("team-vision")].sort(),
            );
        });

        it("THEN kf-admin trusts the control plane's AWS callers, its anchor and no profile (not kfctl's kubeflow:kf-admin)", () => {
            const admin = summary.roles.find((r) => r.role === DEV.admin)!;
            assert.deepEqual(admin.subjects, [
                "system:serviceaccount:kube-system:aws-load-balancer-controller",
                "system:serviceaccount:kubeflow-irsa.invalid:kf-admin",
                "system:serviceaccount:kubeflow:fluentd",
            ]);
            assert.deepEqual(admin.inlinePolicies, ["aws-load-balancer-controller", "cloudwatch-logs"]);
        });

        it("THEN each inline policy of each role it creates is in permission-policies/<role>/<policy>.json, pretty-printed, as the program sends it to IAM", () => {
            // kf-user has managed policies only (none configured here); the external role gets none from this stack
            assert.deepEqual(permissionTree(out), { [DEV.admin]: ["aws-load-balancer-controller.json", "cloudwatch-logs.json"] });
            for (const policy of ["aws-load-balancer-controller", "cloudwatch-logs"]) {
                const file = `${PERMISSIONS}/${DEV.admin}/${policy}.json`;
                const text = read(out, file);
                assertPretty(text, file);
                assert.deepEqual(JSON.parse(text), JSON.parse(loadPolicy(policy, DEV_POLICY_VARS)), `${file} is not the policy the RolePolicy sends`);
            }
            const admin = summary.roles.find((r) => r.role === DEV.admin)!;
            assert.deepEqual(admin.permissionPolicies, [
                { name: "aws-load-balancer-controller", file: `${PERMISSIONS}/${DEV.admin}/aws-load-balancer-controller.json` },
                { name: "cloudwatch-logs", file: `${PERMISSIONS}/${DEV.admin}/cloudwatch-logs.json` },
            ]);
            for (const role of summary.roles.filter((r) => r.role !== DEV.admin)) assert.deepEqual(role.permissionPolicies, [], role.role);
            assert.match(result.stdout, /, 2 permission policies in permission-policies\/, /);
        });

        it("THEN the AWS Load Balancer Controller's policy (albController v2, the default) is scoped by the elbv2.k8s.aws/cluster tag, every ${…} filled in for the cluster", () => {
            const text = read(out, `${PERMISSIONS}/${DEV.admin}/aws-load-balancer-controller.json`);
            assert.doesNotMatch(text, /\$\{/);
            const policy = JSON.parse(text) as { Statement: { Resource?: string | string[]; Condition?: Record<string, Record<string, unknown>> }[] };
            const keys = conditionKeys(policy);
            assert.ok(keys.includes("aws:RequestTag/elbv2.k8s.aws/cluster"), keys.join(", "));
            assert.ok(keys.includes("aws:ResourceTag/elbv2.k8s.aws/cluster"), keys.join(", "));
            assert.ok(keys.includes("aws:ResourceTag/kubernetes.io/cluster/kf-dev"), keys.join(", "));
            const resources = policy.Statement.flatMap((s) => (s.Resource === undefined ? [] : [s.Resource].flat()));
            assert.ok(resources.includes("arn:aws:ec2:us-west-2:*:security-group/*"), resources.join(", "));
        });

        it("THEN the external role shows only the statement this stack owns, labelled as such", () => {
            const policy = readJson<Policy>(out, `trust-policies/${ACCOUNT}-${DEV.external}.json`);
            assert.equal(policy.Statement.length, 1);
            const subs = Object.entries(policy.Statement[0].Condition.StringEquals).filter(([key]) => key.endsWith(":sub"));
            assert.deepEqual(subs.map(([, v]) => v), [[editor("data-eng")]]);
            const row = summary.roles.find((r) => r.role === DEV.external)!;
            assert.equal(row.managed, false);
            assert.equal(row.scope, "owned-statement");
            assert.equal(row.arn, EXTERNAL_ARN);
            assert.match(row.note!, /statement owned by this stack \(the role's other statements are kept as they are\)/);
            assert.match(result.stdout, /data-eng-pipelines \*/);
            assert.match(result.stdout, /\* not managed by this stack: statement owned by this stack/);
        });

        it("THEN summary.json gives each role's subjects, characters, quota and headroom, measured on the written file minified (as IAM counts)", () => {
            assert.equal(summary.stack, "dev");
            assert.equal(summary.placeholderAccount, ACCOUNT);
            assert.deepEqual(summary.roles.map((r) => [r.role, r.managed]), [[DEV.admin, true], [DEV.user, true], [DEV.external, false]]);
            for (const role of summary.roles) {
                const text = read(out, role.file);
                assert.equal(role.chars, JSON.stringify(JSON.parse(text)).length, role.role);
                assert.ok(text.length > role.chars, `${role.role}: the file is pretty-printed, the figure is the minified size`);
                assert.equal(role.limit, 2048);
                assert.equal(role.headroom, role.limit - role.chars);
            }
            assert.deepEqual(summary.roles.find((r) => r.role === DEV.user)!.subjects.length, 3);
        });

        it("THEN it is the phase before Kubeflow: kubernetes.yaml has no Profile, and the Profiles of the `up` after Kubeflow name every configured profile", () => {
            const configured = parseStackConfig((key) => readStackFiles(ROOT, "dev")[key]).profiles.map((p) => p.name).sort();
            assert.equal(summary.phase, "before Kubeflow");
            assert.deepEqual(yamlDocs(out, "kubernetes.yaml").filter((d) => d.kind === "Profile"), []);
            assert.equal(summary.afterKubeflow!.configKey, "kubeflow-irsa:kubeflowInstalled");
            assert.equal(summary.afterKubeflow!.file, "kubernetes-after-kubeflow.yaml");
            assert.deepEqual(summary.afterKubeflow!.objects.map((o) => [o.kind, o.name]), configured.map((name) => ["Profile", name]));
            assert.deepEqual(yamlDocs(out, "kubernetes-after-kubeflow.yaml").map((d) => d.metadata.name), configured);
            assert.deepEqual(summary.profiles.map((p) => p.namespace).sort(), configured);
            assert.match(result.stdout, /^Phase: before Kubeflow \(kubeflow-irsa:kubeflowInstalled is false\)/m);
            assert.ok(result.stdout.includes(`apply 3 Profile(s): ${configured.join(", ")} (kubernetes-after-kubeflow.yaml)`), result.stdout);
        });

        it("THEN the Profiles after Kubeflow are one per profile with an annotate-only AwsIamForServiceAccount plugin", () => {
            const docs = yamlDocs(out, "kubernetes-after-kubeflow.yaml");
            assert.deepEqual(docs.map((d) => d.metadata.name), ["data-eng", "team-nlp", "team-vision"]);
            const roleOf: Record<string, string> = {
                "data-eng": EXTERNAL_ARN,
                "team-nlp": `arn:aws:iam::${ACCOUNT}:role/${DEV.user}`,
                "team-vision": `arn:aws:iam::${ACCOUNT}:role/${DEV.user}`,
            };
            for (const doc of docs) {
                assert.deepEqual(Object.keys(doc), ["apiVersion", "kind", "metadata", "spec"]);
                assert.equal(doc.apiVersion, "kubeflow.org/v1");
                assert.equal(doc.kind, "Profile");
                assert.deepEqual(doc.spec.plugins[0], { kind: "AwsIamForServiceAccount", spec: { annotateOnly: true, awsIamRole: roleOf[doc.metadata.name] } });
            }
            assert.equal(docs.find((d) => d.metadata.name === "team-vision")!.spec.owner.name, "alice@example.com");
        });

        it("THEN stdout has the table and says the ARNs are placeholders", () => {
            assert.match(result.stdout, /ROLE\s+SUBJECTS\s+CHARS \/ QUOTA\s+HEADROOM/);
            const user = summary.roles.find((r) => r.role === DEV.user)!;
            assert.match(result.stdout, new RegExp(`${DEV.user}\\s+3\\s+${user.chars} / 2048\\s+${user.headroom}\\n`));
            assert.match(result.stdout, /placeholder account 123456789012/);
            assert.match(read(out, "kubernetes.yaml"), /^# .*placeholder account 123456789012/m);
            assert.match(read(out, "kubernetes-after-kubeflow.yaml"), /^# .*placeholder account 123456789012/m);
        });

        describe("WHEN the same output directory is synthesized in podIdentity mode", () => {
            let pod: Result;
            before(async () => {
                pod = await synth("--stack", "dev", "--out", out, "--config", "identityMode=podIdentity", "--config", "kubeflowInstalled=false");
                assertOk(pod);
            });

            it("THEN it writes the Pod Identity associations, one per service account", () => {
                const associations = yamlDocs(out, "pod-identity-associations.yaml");
                assert.deepEqual(
                    associations.map((a) => `${a.namespace}:${a.serviceAccount}`),
                    ["data-eng:default-editor", "kube-system:aws-load-balancer-controller", "kubeflow:fluentd", "team-nlp:default-editor", "team-vision:default-editor"],
                );
                assert.ok(associations.every((a) => a.clusterName === "kf-dev"));
                assert.equal(associations.find((a) => a.namespace === "data-eng")!.roleArn, EXTERNAL_ARN);
                assert.equal(associations.find((a) => a.namespace === "team-nlp")!.roleArn, `arn:aws:iam::${ACCOUNT}:role/${DEV.user}`);
                assert.match(pod.stdout, /pod-identity-associations\.yaml \(5 associations\)/);
            });

            it("THEN Profiles carry no IAM plugin and managed roles the fixed Pod Identity trust", () => {
                const profiles = yamlDocs(out, "kubernetes-after-kubeflow.yaml");
                assert.equal(profiles.length, 3);
                for (const doc of profiles) assert.deepEqual(doc.spec.plugins, []);
                const trust = readJson<{ Statement: { Principal: unknown }[] }>(out, `trust-policies/${DEV.user}.json`);
                assert.deepEqual(trust.Statement.map((s) => s.Principal), [{ Service: "pods.eks.amazonaws.com" }]);
            });

            it("THEN files of the earlier run that no longer apply are gone (the external role's trust is not edited)", () => {
                assert.deepEqual(fs.readdirSync(path.join(out, "trust-policies")).sort(), [`${DEV.admin}.json`, `${DEV.user}.json`]);
                const summary = readJson<Summary>(out, "summary.json");
                assert.equal(summary.identityMode, "podIdentity");
                assert.deepEqual(summary.roles.find((r) => r.role === DEV.user)!.subjects, [editor("team-nlp"), editor("team-vision")]);
                assert.match(pod.stdout, /not managed by this stack.*: data-eng-pipelines/);
            });
        });
    });

    describe("GIVEN kubeflow-irsa:kubeflowInstalled true (Kubeflow runs on the cluster)", () => {
        let out: string;
        let result: Result;
        before(async () => {
            out = tmpDir("installed");
            assertOk(await synth("--stack", "dev", "--out", out, "--config", "kubeflowInstalled=false")); // first before Kubeflow, into the same directory
            result = await synth("--stack", "dev", "--out", out, "--config", "kubeflowInstalled=true");
            assertOk(result);
        });

        it("THEN it is the phase after Kubeflow: kubernetes.yaml has every Profile, and the file of the earlier phase is gone", () => {
            const summary = readJson<Summary>(out, "summary.json");
            assert.equal(summary.phase, "after Kubeflow");
            assert.equal(summary.afterKubeflow, undefined);
            assert.deepEqual(yamlDocs(out, "kubernetes.yaml").map((d) => [d.kind, d.metadata.name]), [["Profile", "data-eng"], ["Profile", "team-nlp"], ["Profile", "team-vision"]]);
            assert.equal(fs.existsSync(path.join(out, "kubernetes-after-kubeflow.yaml")), false);
            assert.match(result.stdout, /^Phase: after Kubeflow \(kubeflow-irsa:kubeflowInstalled is true\): `up` applies the roles above and kubernetes\.yaml \(3 Profile\)\.$/m);
            assert.match(result.stdout, /^Profiles: unchanged since the previous summary\.json\.$/m);
        });
    });

    describe("GIVEN the trust-policy rules", () => {
        it("WHEN the dev stack is synthesized THEN no trust policy it would write has a finding", async () => {
            const out = tmpDir("rules-dev");
            const result = await synth("--stack", "dev", "--out", out);
            assertOk(result);
            assert.deepEqual(readJson<{ findings: unknown[] }>(out, "summary.json").findings, []);
            assert.ok(!result.stdout.includes("Findings:"));
        });

        it("WHEN kf-user would be above 90% of its quota THEN the advisory trust-policy-headroom finding is printed and in summary.json, and synth still succeeds", async () => {
            const profiles = Array.from({ length: 31 }, (_, i) => ({ name: `team-${String(i).padStart(3, "0")}`, owner: `u${i}@example.com` }));
            const dir = project("busy", { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-dev", "kubeflow-irsa:kubeflowInstalled": "false", "kubeflow-irsa:profiles": profiles });
            const out = tmpDir("rules-busy");
            const result = await synth("--stack", "busy", "--project-dir", dir, "--out", out);
            assertOk(result);
            const summary = readJson<{ findings: Array<{ rule: string; level: string; role: string; statement: number }>; roles: Array<{ role: string; chars: number; limit: number }> }>(out, "summary.json");
            const user = summary.roles.find((r) => r.role === "kf-user-us-west-2-kf-dev")!;
            assert.ok(user.chars > 0.9 * user.limit && user.chars <= user.limit, `${user.chars} of ${user.limit}`);
            assert.deepEqual(summary.findings.map((f) => [f.rule, f.level, f.role, f.statement]), [["trust-policy-headroom", "advisory", "kf-user-us-west-2-kf-dev", 0]]);
            assert.match(result.stdout, /^Findings: 1 \(0 mandatory, 1 advisory\)\n  \[advisory\] trust-policy-headroom \(kf-user-us-west-2-kf-dev\): the trust policy is \d+ of 2048 characters/m);
            // At the 8192 quota the same profiles leave room.
            const roomy = await synth("--stack", "busy", "--project-dir", dir, "--out", out, "--config", "trustPolicyMaxChars=8192");
            assertOk(roomy);
            assert.deepEqual(readJson<{ findings: unknown[] }>(out, "summary.json").findings, []);
        });
    });

    describe("GIVEN bad configuration", () => {
        it("WHEN a stack that synthesized before gets bad config THEN it exits 2, removes the earlier output and says so; other files stay", async () => {
            const good = { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-gone", "kubeflow-irsa:kubeflowInstalled": "false", "kubeflow-irsa:profiles": [{ name: "team-a", owner: "alice@example.com" }] };
            const dir = project("gone", good);
            const out = path.join(tmpDir("gone"), "out");
            assertOk(await synth("--stack", "gone", "--project-dir", dir, "--out", out));
            assert.ok(fs.existsSync(path.join(out, "summary.json")));
            fs.writeFileSync(path.join(dir, "Pulumi.gone.yaml"), toYaml({ config: { ...good, "kubeflow-irsa:profiles": [{ name: "Team_A", owner: "alice@example.com" }] } }));
            const result = await synth("--stack", "gone", "--project-dir", dir, "--out", out);
            assert.equal(result.code, 2);
            assert.match(result.stderr, /^error: invalid stack configuration:\n/);
            // 2 trust policies, kf-admin's 2 permission policies, the two YAML files and summary.json
            assert.match(result.stderr, /^synth: removed the 7 file\(s\) an earlier run wrote to .*out\/: they described another configuration, not this one$/m);
            assert.equal(fs.existsSync(out), false, "the output directory is gone with the files and their directories");

            // Only synth's own files go: a directory holding anything else stays, with that.
            assertOk(await synth("--stack", "gone", "--project-dir", dir, "--out", out, "--config", `profiles=${JSON.stringify(good["kubeflow-irsa:profiles"])}`));
            fs.writeFileSync(path.join(out, "NOTES.md"), "mine\n");
            assert.equal((await synth("--stack", "gone", "--project-dir", dir, "--out", out)).code, 2);
            assert.deepEqual(fs.readdirSync(out), ["NOTES.md"]);
        });

        it("WHEN a profile is named Team_A THEN it exits 2 with the program's message naming the key, and writes nothing", async () => {
            const dir = project("bad", {
                "aws:region": "us-west-2",
                "kubeflow-irsa:clusterName": "kf-bad",
                "kubeflow-irsa:kubeflowInstalled": "false",
                "kubeflow-irsa:profiles": [{ name: "Team_A", owner: "alice@example.com" }],
            });
            const out = path.join(tmpDir("bad"), "out");
            const result = await synth("--stack", "bad", "--project-dir", dir, "--out", out);
            assert.equal(result.code, 2);
            assert.match(result.stderr, /^error: invalid stack configuration:\n/);
            assert.match(result.stderr, /kubeflow-irsa:profiles\[0\]\.name: .*Team_A/);
            assert.doesNotMatch(result.stderr, /^\s+at /m, "no stack trace");
            assert.equal(result.stdout, "");
            assert.equal(fs.existsSync(out), false);
        });

        it("WHEN the profiles outgrow kf-user's trust-policy quota THEN it exits 2 with the program's fix", async () => {
            const profiles = Array.from({ length: 60 }, (_, i) => ({ name: `team-${i}`, owner: `user${i}@example.com` }));
            const dir = project("full", { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-full", "kubeflow-irsa:kubeflowInstalled": "false", "kubeflow-irsa:profiles": profiles });
            const out = path.join(tmpDir("full"), "out");
            const result = await synth("--stack", "full", "--project-dir", dir, "--out", out);
            assert.equal(result.code, 2, result.stderr);
            assert.match(result.stderr, /role "kf-user-us-west-2-kf-full": its trust policy would be \d+ characters.*set kubeflow-irsa:userRoleShards to \d+/);
            assert.equal(fs.existsSync(out), false);
        });

        it("WHEN the statement owned on an external role would not fit THEN it exits 2 with the provider's check failure, as preview would", async () => {
            const profiles = Array.from({ length: 60 }, (_, i) => ({ name: `team-${i}`, owner: `user${i}@example.com`, awsIamRole: "arn:aws:iam::111122223333:role/shared-data" }));
            const dir = project("ext", { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-ext", "kubeflow-irsa:kubeflowInstalled": "false", "kubeflow-irsa:profiles": profiles });
            const out = path.join(tmpDir("ext"), "out");
            const result = await synth("--stack", "ext", "--project-dir", dir, "--out", out);
            assert.equal(result.code, 2, result.stderr);
            assert.match(result.stderr, /^error: TrustSubjects resource 'trust-111122223333-shared-data': property subjects has a problem: role "shared-data": the trust policy would be \d+ characters with 60 subjects/);
            assert.equal(fs.existsSync(out), false);
        });

        it("WHEN the stack or a flag is wrong THEN it exits 2 with a usage message", async () => {
            const none = await synth("--stack", "nope", "--out", path.join(tmpDir("usage"), "out"));
            assert.equal(none.code, 2);
            assert.match(none.stderr, /no stack "nope".*stacks here: .*dev/);
            const missing = await synth();
            assert.equal(missing.code, 2);
            assert.match(missing.stderr, /--stack is required/);
            const unknown = await synth("--stack", "dev", "--bogus");
            assert.equal(unknown.code, 2);
            assert.match(unknown.stderr, /--bogus/);
            const help = await synth("--help");
            assert.equal(help.code, 0);
            assert.match(help.stdout, /Usage:/);
        });
    });
});
