// `npm run synth` (cli/synthStack.ts): what `up` would apply for configurations beyond the shipped
// dev stack — Pod Identity chained to another account, a self-managed cluster, an existing
// cluster's account, each load balancer controller and admin role mode, profiles' other service
// accounts, roles of one name in two accounts, and 1,000 profiles over kf-user shards.
import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as path from "path";
import type { Summary } from "../../cli/synth";
import { parseStackConfig } from "../../components/config";
import { shardsNeeded } from "../../components/placement";
import { loadPolicy } from "../../components/roles";
import { ACCOUNT, assertOk, assertPretty, DEV, DEV_POLICY_VARS, editor, EXTERNAL_ARN, PERMISSIONS, permissionTree, project, read, readJson, removeTmpDirs, synth, tmpDir, yamlDocs, type Result } from "../support/synth";

describe("npm run synth", function () {
    this.timeout(30_000);

    after(removeTmpDirs);

    it("GIVEN podIdentity with a profile on another account's role THEN the association chains from kf-user and target-role-trust/ says what that role must trust", async () => {
        const partner = "arn:aws:iam::999999999999:role/partner-ml";
        const dir = project("chain", {
            "aws:region": "us-west-2",
            "kubeflow-irsa:clusterName": "kf-dev",
            "kubeflow-irsa:kubeflowInstalled": "false",
            "kubeflow-irsa:identityMode": "podIdentity",
            "kubeflow-irsa:profiles": [
                { name: "team-a", owner: "a@example.com" },
                { name: "partner", owner: "p@example.com", awsIamRole: partner, serviceAccounts: ["default-editor", "default"] },
            ],
        });
        const out = tmpDir("chain");
        const result = await synth("--stack", "chain", "--project-dir", dir, "--out", out);
        assertOk(result);
        const associations = yamlDocs(out, "pod-identity-associations.yaml");
        const chained = associations.filter((a) => a.namespace === "partner");
        assert.equal(chained.length, 2);
        for (const a of chained) {
            assert.equal(a.roleArn, "arn:aws:iam::123456789012:role/kf-user-us-west-2-kf-dev");
            assert.equal(a.targetRoleArn, partner);
        }
        assert.equal(associations.find((a) => a.namespace === "team-a")!.targetRoleArn, undefined);
        const trust = readJson<{ Statement: Array<{ Principal: { AWS: string }; Action: string[]; Condition: { StringEquals: Record<string, string>; ArnEquals: Record<string, string> } }> }>(
            out,
            "target-role-trust/999999999999-partner-ml.json",
        );
        assert.equal(trust.Statement.length, 2, "one statement per association: each has its own external id");
        for (const st of trust.Statement) {
            assert.equal(st.Principal.AWS, "arn:aws:iam::123456789012:root", "kf-user through its account: the statement survives kf-user's re-creation");
            assert.deepEqual(st.Condition.ArnEquals, { "aws:PrincipalArn": "arn:aws:iam::123456789012:role/kf-user-us-west-2-kf-dev" });
            assert.deepEqual(st.Action, ["sts:AssumeRole", "sts:TagSession"]);
            const sa = st.Condition.StringEquals["aws:PrincipalTag/kubernetes-service-account"];
            assert.equal(st.Condition.StringEquals["sts:ExternalId"], `<externalId of partner/${sa}: pulumi stack output podIdentityExternalIds>`);
            assert.equal(st.Condition.StringEquals["aws:PrincipalTag/kubernetes-namespace"], "partner");
            assert.equal(st.Condition.StringEquals["aws:PrincipalTag/eks-cluster-arn"], "arn:aws:eks:us-west-2:123456789012:cluster/kf-dev", "only sessions of this cluster");
        }
        assert.match(result.stdout, /Chained to roles of other accounts: .*target-role-trust\/999999999999-partner-ml\.json/);
        assert.deepEqual(permissionTree(out)["kf-user-us-west-2-kf-dev"], ["assume-target-roles.json"]);
    });

    it("GIVEN a self-managed cluster THEN synth writes the issuer's discovery document and JWKS, prints the API server flags, and renders the webhook", async () => {
        const { publicKey } = generateKeyPairSync("rsa", { modulusLength: 2048 });
        const pem = publicKey.export({ type: "spki", format: "pem" }).toString();
        const dir = project("kops", {
            "aws:region": "us-west-2",
            "kubeflow-irsa:clusterName": "kops-ml",
            "kubeflow-irsa:kubeflowInstalled": "false",
            "kubeflow-irsa:existingCluster": { selfManaged: { serviceAccountKeys: [pem] } },
            "kubeflow-irsa:kubeconfig": "apiVersion: v1\nkind: Config\n",
            "kubeflow-irsa:profiles": [{ name: "team-a", owner: "a@example.com" }],
        });
        const out = tmpDir("kops");
        const result = await synth("--stack", "kops", "--project-dir", dir, "--out", out);
        assertOk(result);
        const discovery = readJson<{ issuer: string; jwks_uri: string }>(out, "oidc-issuer/.well-known/openid-configuration");
        assert.match(discovery.issuer, /^https:\/\/kops-ml-oidc-[0-9a-f]{8}\.s3\.us-west-2\.amazonaws\.com$/);
        assert.equal(discovery.jwks_uri, `${discovery.issuer}/keys.json`);
        const jwks = readJson<{ keys: { n: string }[] }>(out, "oidc-issuer/keys.json");
        assert.equal(jwks.keys[0].n, (publicKey.export({ format: "jwk" }) as { n: string }).n);
        for (const flag of [`--service-account-issuer=${discovery.issuer}`, "--service-account-key-file=", "--service-account-signing-key-file=", "--api-audiences=<keep its current value"]) {
            assert.ok(result.stdout.includes(flag), flag);
        }
        // A token request without audiences gets all of them: sts.amazonaws.com anywhere would make every default token an STS credential.
        const audiences = result.stdout.split("\n").find((l) => l.includes("--api-audiences="))!;
        assert.match(audiences, /never include sts\.amazonaws\.com/);
        assert.doesNotMatch(audiences, /first/, "no advice that its position matters");
        const summary = readJson<{ hostedIssuer: { url: string; apiServerFlags: string[] } }>(out, "summary.json");
        assert.equal(summary.hostedIssuer.url, discovery.issuer);
        const kinds = yamlDocs(out, "kubernetes.yaml").map((o) => o.kind);
        for (const kind of ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Secret", "Deployment", "Service", "MutatingWebhookConfiguration"]) assert.ok(kinds.includes(kind), kind);
        // The webhook's TLS Secret: a valid kubernetes.io/tls Secret whose values say they are set at up — not Pulumi's secret envelope, nothing that looks like a key.
        const secret = yamlDocs(out, "kubernetes.yaml").find((o) => o.kind === "Secret")!;
        assert.equal(secret.type, "kubernetes.io/tls");
        assert.deepEqual(secret.stringData, { "tls.crt": "<secret: set by pulumi up, not shown by synth>", "tls.key": "<secret: set by pulumi up, not shown by synth>" });
        const yamlText = read(out, "kubernetes.yaml");
        assert.doesNotMatch(yamlText, /4dabf18193072939515e22adb298388d|1b47061264138c4ac30d75fd1eb44270|BEGIN (RSA )?PRIVATE KEY/);
    });

    it("GIVEN podIdentity on an existing cluster whose provider ARN names the account THEN target-role-trust/ and every ARN use that account, and the note says where it came from", async () => {
        const issuer = "oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";
        const dir = project("chain-own", {
            "aws:region": "us-west-2",
            "kubeflow-irsa:clusterName": "kf-prod",
            "kubeflow-irsa:kubeflowInstalled": "false",
            "kubeflow-irsa:identityMode": "podIdentity",
            "kubeflow-irsa:existingCluster": { oidcIssuerUrl: `https://${issuer}`, oidcProviderArn: `arn:aws:iam::111111111111:oidc-provider/${issuer}` },
            "kubeflow-irsa:profiles": [{ name: "partner", owner: "p@example.com", awsIamRole: "arn:aws:iam::999999999999:role/partner-ml" }],
        });
        const out = tmpDir("chain-own");
        const result = await synth("--stack", "chain-own", "--project-dir", dir, "--out", out);
        assertOk(result);
        const trust = readJson<{ Statement: Array<{ Principal: { AWS: string }; Condition: { StringEquals: Record<string, string>; ArnEquals: Record<string, string> } }> }>(out, "target-role-trust/999999999999-partner-ml.json");
        assert.equal(trust.Statement[0].Principal.AWS, "arn:aws:iam::111111111111:root");
        assert.deepEqual(trust.Statement[0].Condition.ArnEquals, { "aws:PrincipalArn": "arn:aws:iam::111111111111:role/kf-user-us-west-2-kf-prod" });
        assert.equal(trust.Statement[0].Condition.StringEquals["aws:PrincipalTag/eks-cluster-arn"], "arn:aws:eks:us-west-2:111111111111:cluster/kf-prod");
        assert.doesNotMatch(JSON.stringify(readJson(out, "summary.json")), /123456789012/, "no placeholder account anywhere");
        assert.match(result.stdout, /ARNs of resources this stack creates carry account 111111111111, the account the config names \(kubeflow-irsa:existingCluster\.oidcProviderArn/);
    });

    describe("GIVEN --config albController=v1 (Kubeflow 1.1's alb-ingress-controller)", () => {
        let out: string;
        let summary: Summary;
        before(async () => {
            out = tmpDir("albv1");
            assertOk(await synth("--stack", "dev", "--out", out, "--config", "albController=v1"));
            summary = readJson<Summary>(out, "summary.json");
        });

        it("THEN kf-admin's policy files are alb-ingress.json and cloudwatch-logs.json, filled in for the cluster, with no v2 policy", () => {
            assert.deepEqual(permissionTree(out), { [DEV.admin]: ["alb-ingress.json", "cloudwatch-logs.json"] });
            const file = `${PERMISSIONS}/${DEV.admin}/alb-ingress.json`;
            const text = read(out, file);
            assertPretty(text, file);
            assert.doesNotMatch(text, /\$\{/);
            assert.deepEqual(JSON.parse(text), JSON.parse(loadPolicy("alb-ingress", DEV_POLICY_VARS)));
            const admin = summary.roles.find((r) => r.role === DEV.admin)!;
            assert.deepEqual(admin.inlinePolicies, ["alb-ingress", "cloudwatch-logs"]);
            assert.ok(admin.subjects.includes("system:serviceaccount:kubeflow:alb-ingress-controller"), admin.subjects.join(", "));
        });
    });

    describe("GIVEN --config adminRoleMode=perController with enableFsx (one role per control-plane component)", () => {
        let out: string;
        let result: Result;
        before(async () => {
            out = tmpDir("per-controller");
            result = await synth("--stack", "dev", "--out", out, "--config", "adminRoleMode=perController", "--config", "enableFsx=true");
            assertOk(result);
        });

        it("THEN each component's role has its own policy file, and kf-admin none", () => {
            assert.deepEqual(permissionTree(out), {
                [DEV.fsx]: ["fsx-lustre-csi.json"],
                [DEV.lbc]: ["aws-load-balancer-controller.json"],
                [DEV.logs]: ["cloudwatch-logs.json"],
            });
            for (const [role, policy] of [[DEV.lbc, "aws-load-balancer-controller"], [DEV.logs, "cloudwatch-logs"], [DEV.fsx, "fsx-lustre-csi"]]) {
                const file = `${PERMISSIONS}/${role}/${policy}.json`;
                const text = read(out, file);
                assertPretty(text, file);
                assert.deepEqual(JSON.parse(text), JSON.parse(loadPolicy(policy, DEV_POLICY_VARS)), file);
            }
            const summary = readJson<Summary>(out, "summary.json");
            // the program's order: kf-admin, the components' roles, kf-user, then the role it only edits
            assert.deepEqual(summary.roles.map((r) => r.role), [DEV.admin, DEV.lbc, DEV.logs, DEV.fsx, DEV.user, DEV.external]);
            const admin = summary.roles.find((r) => r.role === DEV.admin)!;
            assert.deepEqual([admin.inlinePolicies, admin.permissionPolicies, admin.subjects], [[], [], ["system:serviceaccount:kubeflow-irsa.invalid:kf-admin"]]);
            assert.deepEqual(summary.roles.find((r) => r.role === DEV.lbc)!.subjects, ["system:serviceaccount:kube-system:aws-load-balancer-controller"]);
            assert.match(result.stdout, /, 3 permission policies in permission-policies\//);
        });

        describe("WHEN the same output directory is synthesized again with fewer roles and policies", () => {
            it("THEN without enableFsx the FSx driver's role loses its policy file and directory, and its trust policy", async () => {
                assertOk(await synth("--stack", "dev", "--out", out, "--config", "adminRoleMode=perController"));
                assert.deepEqual(permissionTree(out), { [DEV.lbc]: ["aws-load-balancer-controller.json"], [DEV.logs]: ["cloudwatch-logs.json"] });
                assert.equal(fs.existsSync(path.join(out, "trust-policies", `${DEV.fsx}.json`)), false);
            });

            it("THEN back in shared mode only kf-admin's policies are left", async () => {
                assertOk(await synth("--stack", "dev", "--out", out));
                assert.deepEqual(permissionTree(out), { [DEV.admin]: ["aws-load-balancer-controller.json", "cloudwatch-logs.json"] });
                assert.deepEqual(readJson<Summary>(out, "summary.json").roles.map((r) => r.role), [DEV.admin, DEV.user, DEV.external]);
            });
        });
    });

    describe("GIVEN profiles listing service accounts besides default-editor (IRSA)", () => {
        // team-vision's notebooks run as default-editor, its jobs as default; data-eng's pipelines
        // run as pipeline-runner, on the external role.
        const profiles = [
            { name: "team-vision", owner: "alice@example.com", serviceAccounts: ["default-editor", "default"] },
            { name: "team-nlp", owner: "bob@example.com" },
            { name: "data-eng", owner: "carol@example.com", awsIamRole: EXTERNAL_ARN, serviceAccounts: ["default-editor", "pipeline-runner"] },
        ];
        const profilesFlag = `profiles=${JSON.stringify(profiles)}`;
        const ROLE_ARN = "eks.amazonaws.com/role-arn";
        const serviceAccounts = (docs: Record<string, any>[]) => docs.filter((d) => d.kind === "ServiceAccount");
        let beforeKubeflow: { out: string; result: Result; summary: Summary };
        let installed: { out: string; result: Result; summary: Summary };
        const run = async (name: string, ...config: string[]) => {
            const out = tmpDir(name);
            const result = await synth("--stack", "dev", "--out", out, "--config", profilesFlag, ...config.flatMap((c) => ["--config", c]));
            assertOk(result);
            return { out, result, summary: readJson<Summary>(out, "summary.json") };
        };
        before(async () => {
            beforeKubeflow = await run("sa-before", "kubeflowInstalled=false");
            installed = await run("sa-installed", "kubeflowInstalled=true");
        });

        /** The patches of a YAML file, checked against the profiles' role ARNs in summary.json. */
        function assertPatches(out: string, file: string, summary: Summary): void {
            const roleOf = new Map(summary.profiles.map((p) => [p.name, p.roleArn]));
            assert.equal(roleOf.get("team-vision"), `arn:aws:iam::${ACCOUNT}:role/${DEV.user}`);
            assert.equal(roleOf.get("data-eng"), EXTERNAL_ARN);
            const patches = serviceAccounts(yamlDocs(out, file));
            // default-editor is Kubeflow's to annotate (the Profile's plugin): no patch for it
            assert.deepEqual(patches.map((d) => `${d.metadata.namespace}/${d.metadata.name}`), ["data-eng/pipeline-runner", "team-vision/default"]);
            for (const doc of patches) {
                // only what the stack sets: no spec, secrets or labels of an object it does not own
                assert.deepEqual(Object.keys(doc), ["apiVersion", "kind", "metadata"]);
                assert.deepEqual([doc.apiVersion, doc.kind], ["v1", "ServiceAccount"]);
                assert.deepEqual(Object.keys(doc.metadata).sort(), ["annotations", "name", "namespace"]);
                assert.equal(doc.metadata.annotations[ROLE_ARN], roleOf.get(doc.metadata.namespace), `${doc.metadata.namespace}/${doc.metadata.name}`);
            }
            const text = read(out, file);
            assert.match(text, /^# Documents headed `# Patch` are server-side-apply patches/m);
            assert.match(text, /^---\n# Patch \(kubernetes:core\/v1:ServiceAccountPatch, server-side apply\): `up` sets only the fields below on ServiceAccount team-vision\/default;\n/m);
        }

        it("THEN before Kubeflow, kubernetes-after-kubeflow.yaml patches each listed account but default-editor with its profile's role ARN", () => {
            assert.equal(beforeKubeflow.summary.phase, "before Kubeflow");
            assert.deepEqual(yamlDocs(beforeKubeflow.out, "kubernetes.yaml"), []);
            assertPatches(beforeKubeflow.out, "kubernetes-after-kubeflow.yaml", beforeKubeflow.summary);
            assert.deepEqual(
                beforeKubeflow.summary.afterKubeflow!.objects.filter((o) => o.patch),
                [
                    { kind: "ServiceAccount", name: "pipeline-runner", namespace: "data-eng", patch: true },
                    { kind: "ServiceAccount", name: "default", namespace: "team-vision", patch: true },
                ],
            );
            assert.match(beforeKubeflow.summary.afterKubeflow!.note, /^3 Profile, 2 ServiceAccount patches: /);
            assert.ok(
                beforeKubeflow.result.stdout.includes("apply 3 Profile(s): data-eng, team-nlp, team-vision, and 2 ServiceAccount patches: data-eng/pipeline-runner, team-vision/default (kubernetes-after-kubeflow.yaml)."),
                beforeKubeflow.result.stdout,
            );
            assert.match(beforeKubeflow.result.stdout, /kubernetes-after-kubeflow\.yaml \(3 Profile, 2 ServiceAccount patches\)/);
        });

        it("THEN the roles trust the patched accounts already before Kubeflow (the annotation never points at a role that refuses it)", () => {
            const user = beforeKubeflow.summary.roles.find((r) => r.role === DEV.user)!;
            assert.ok(user.subjects.includes("system:serviceaccount:team-vision:default"), user.subjects.join(", "));
            const external = beforeKubeflow.summary.roles.find((r) => r.role === DEV.external)!;
            assert.deepEqual(external.subjects, [editor("data-eng"), "system:serviceaccount:data-eng:pipeline-runner"]);
        });

        it("THEN with kubeflowInstalled true, kubernetes.yaml has the same patches next to the Profiles", () => {
            assert.equal(installed.summary.phase, "after Kubeflow");
            assertPatches(installed.out, "kubernetes.yaml", installed.summary);
            assert.deepEqual(serviceAccounts(yamlDocs(installed.out, "kubernetes.yaml")), serviceAccounts(yamlDocs(beforeKubeflow.out, "kubernetes-after-kubeflow.yaml")));
            assert.deepEqual(yamlDocs(installed.out, "kubernetes.yaml").filter((d) => d.kind === "Profile").map((d) => d.metadata.name), ["data-eng", "team-nlp", "team-vision"]);
            assert.match(installed.result.stdout, /`up` applies the roles above and kubernetes\.yaml \(3 Profile, 2 ServiceAccount patches\)\.$/m);
        });

        it("THEN in podIdentity mode no account is patched (the associations bind each one)", async () => {
            const pod = await run("sa-pod", "kubeflowInstalled=true", "identityMode=podIdentity");
            assert.deepEqual(serviceAccounts(yamlDocs(pod.out, "kubernetes.yaml")), []);
            const bound = yamlDocs(pod.out, "pod-identity-associations.yaml").map((a) => `${a.namespace}:${a.serviceAccount}`);
            assert.ok(bound.includes("team-vision:default") && bound.includes("data-eng:pipeline-runner"), bound.join(", "));
        });
    });

    it("GIVEN profiles on one role name in two accounts THEN each role gets its own owned statement and file", async () => {
        const out = tmpDir("accounts");
        const profiles = [
            { name: "team-a", owner: "a@example.com", awsIamRole: "arn:aws:iam::111122223333:role/ext" },
            { name: "team-b", owner: "b@example.com", awsIamRole: "arn:aws:iam::444455556666:role/ext" },
        ];
        assertOk(await synth("--stack", "dev", "--out", out, "--config", `profiles=${JSON.stringify(profiles)}`));
        const summary = readJson<Summary>(out, "summary.json");
        const external = summary.roles.filter((r) => !r.managed).map((r) => [r.arn, r.subjects]);
        assert.deepEqual(external, [
            ["arn:aws:iam::111122223333:role/ext", [editor("team-a")]],
            ["arn:aws:iam::444455556666:role/ext", [editor("team-b")]],
        ]);
        assert.ok(fs.existsSync(path.join(out, "trust-policies", "111122223333-ext.json")));
        assert.ok(fs.existsSync(path.join(out, "trust-policies", "444455556666-ext.json")));
    });

    describe("GIVEN 1,000 profiles and enough kf-user shards", () => {
        it("THEN every role fits its quota, and every profile is written", async function () {
            this.timeout(60_000);
            const profiles = Array.from({ length: 1000 }, (_, i) => ({ name: `team-${String(i).padStart(4, "0")}`, owner: `user${i}@example.com` }));
            const base = { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-big", "kubeflow-irsa:kubeflowInstalled": "false", "kubeflow-irsa:profiles": profiles };
            // The program's own sizing decides how many shards are enough.
            const shards = shardsNeeded(parseStackConfig((key) => (base as Record<string, unknown>)[key] as string | object | undefined), 2048);
            assert.ok(shards !== undefined);
            // kubeflowInstalled: the Profiles are in kubernetes.yaml, from the one evaluation.
            const dir = project("big", { ...base, "kubeflow-irsa:userRoleShards": shards, "kubeflow-irsa:kubeflowInstalled": true });
            const out = tmpDir("big");

            const started = Date.now();
            const result = await synth("--stack", "big", "--project-dir", dir, "--out", out);
            const elapsed = Date.now() - started;
            assertOk(result);
            console.log(`      synth of 1,000 profiles over ${shards} kf-user shards: ${elapsed} ms (${result.stdout.match(/Evaluated the program in \d+ ms/)?.[0]})`);

            const summary = readJson<Summary>(out, "summary.json");
            assert.equal(summary.roles.length, 1 + shards);
            for (const role of summary.roles) assert.ok(role.chars <= role.limit, `${role.role}: ${role.chars} > ${role.limit}`);
            const profileSubjects = summary.roles.flatMap((r) => r.subjects).filter((s) => s.endsWith(":default-editor"));
            assert.equal(new Set(profileSubjects).size, 1000);
            assert.equal(fs.readdirSync(path.join(out, "trust-policies")).length, 1 + shards);
            assert.equal(yamlDocs(out, "kubernetes.yaml").length, 1000);
        });
    });
});
