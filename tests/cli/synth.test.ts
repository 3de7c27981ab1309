// `npm run synth`: the real program evaluated offline, its trust policies, Kubernetes objects and
// summary written for review. Runs main() in-process against the repository's stacks and against
// temporary project directories.
import { strict as assert } from "assert";
import { generateKeyPairSync } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parseAllDocuments, stringify as toYaml } from "yaml";
import { main, type Summary } from "../../cli/synth";
import { readStackFiles } from "../../cli/evaluate";
import { parseStackConfig } from "../../components/config";
import { shardsNeeded } from "../../components/placement";
import { loadPolicy } from "../../components/roles";
import { policySize } from "../../domain/trustPolicy";

const ROOT = path.resolve(__dirname, "..", "..");
const ACCOUNT = "123456789012";
const DEV = {
    admin: "kf-admin-us-west-2-kf-dev",
    user: "kf-user-us-west-2-kf-dev",
    external: "data-eng-pipelines",
    lbc: "kf-lbc-us-west-2-kf-dev",
    logs: "kf-logs-us-west-2-kf-dev",
    fsx: "kf-fsx-us-west-2-kf-dev",
};
/** The values the program fills into components/policies/*.json for the dev stack. */
const DEV_POLICY_VARS = { partition: "aws", region: "us-west-2", cluster: "kf-dev" };
const EXTERNAL_ARN = `arn:aws:iam::${ACCOUNT}:role/${DEV.external}`;
const editor = (namespace: string) => `system:serviceaccount:${namespace}:default-editor`;

interface Result {
    code: number;
    stdout: string;
    stderr: string;
}

async function synth(...argv: string[]): Promise<Result> {
    let stdout = "";
    let stderr = "";
    const code = await main(argv, { stdout: { write: (t: string) => (stdout += t) }, stderr: { write: (t: string) => (stderr += t) } });
    return { code, stdout, stderr };
}

const tmpDirs: string[] = [];
function tmpDir(prefix: string): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), `synth-${prefix}-`));
    tmpDirs.push(dir);
    return dir;
}

/** A project directory with this project's Pulumi.yaml and one stack file. */
function project(stack: string, config: Record<string, unknown>): string {
    const dir = tmpDir("project");
    fs.copyFileSync(path.join(ROOT, "Pulumi.yaml"), path.join(dir, "Pulumi.yaml"));
    fs.writeFileSync(path.join(dir, `Pulumi.${stack}.yaml`), toYaml({ config }));
    return dir;
}

const read = (dir: string, file: string) => fs.readFileSync(path.join(dir, file), "utf8");
const readJson = <T>(dir: string, file: string): T => JSON.parse(read(dir, file)) as T;
const yamlDocs = (dir: string, file: string) => parseAllDocuments(read(dir, file)).map((d) => d.toJS() as Record<string, any>);
const PERMISSIONS = "permission-policies";
/** The role directories under permission-policies/, and each one's policy files. */
const permissionTree = (out: string): Record<string, string[]> =>
    Object.fromEntries(fs.readdirSync(path.join(out, PERMISSIONS)).sort().map((role) => [role, fs.readdirSync(path.join(out, PERMISSIONS, role)).sort()]));
const assertPretty = (text: string, file: string) => assert.equal(text, `${JSON.stringify(JSON.parse(text), null, 2)}\n`, `${file} is not pretty-printed`);
/** Every condition key of a policy document's statements. */
const conditionKeys = (policy: { Statement: { Condition?: Record<string, Record<string, unknown>> }[] }) =>
    policy.Statement.flatMap((s) => Object.values(s.Condition ?? {}).flatMap((block) => Object.keys(block)));

interface WebIdentityStatement {
    Effect: string;
    Principal: { Federated: string };
    Action: string;
    Condition: { StringEquals: Record<string, string | string[]> };
}
interface Policy {
    Version: string;
    Statement: WebIdentityStatement[];
}

function assertOk(result: Result): void {
    assert.equal(result.code, 0, `exit ${result.code}\nstderr: ${result.stderr}`);
    assert.equal(result.stderr, "");
}

describe("npm run synth", function () {
    this.timeout(30_000);

    after(() => {
        for (const dir of tmpDirs) fs.rmSync(dir, { recursive: true, force: true });
    });

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

    describe("GIVEN a previous synth in the output directory WHEN profiles are renamed or removed", () => {
        const base = { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-ren", "kubeflow-irsa:kubeflowInstalled": "false" };
        const profile = (name: string) => ({ name, owner: `${name}@example.com` });
        let dir: string;
        let out: string;
        const stackFile = (config: Record<string, unknown>) => fs.writeFileSync(path.join(dir, "Pulumi.ren.yaml"), toYaml({ config: { ...base, ...config } }));
        before(async () => {
            dir = project("ren", { ...base, "kubeflow-irsa:profiles": [profile("team-a"), profile("team-nlp")] });
            out = tmpDir("ren");
            const first = await synth("--stack", "ren", "--project-dir", dir, "--out", out);
            assertOk(first);
            assert.equal(readJson<Summary>(out, "summary.json").changes, undefined, "nothing to compare with on the first run");
            assert.doesNotMatch(first.stdout, /new namespaces|removed from config|unchanged since/);
        });

        it("THEN a rename shows the new namespace, and the old one as removed from config and retained in the cluster (the default)", async () => {
            stackFile({ "kubeflow-irsa:profiles": [profile("team-a"), profile("team-language")] });
            const result = await synth("--stack", "ren", "--project-dir", dir, "--out", out);
            assertOk(result);
            assert.match(result.stdout, /^ {2}new namespaces: team-language$/m);
            assert.match(result.stdout, /^ {2}removed from config: team-nlp \(retained in the cluster: Profile and namespace stay, IAM trust removed\)$/m);
            const { changes } = readJson<Summary>(out, "summary.json");
            assert.deepEqual(changes && [changes.newNamespaces, changes.removedFromConfig, changes.removedProfiles], [["team-language"], ["team-nlp"], "retained"]);
            assert.match(changes!.note, /kubeflow-irsa:deleteRemovedProfiles is false/);
        });

        it("THEN with deleteRemovedProfiles true a removed profile is reported as deleted with its namespace", async () => {
            stackFile({ "kubeflow-irsa:profiles": [profile("team-language")], "kubeflow-irsa:deleteRemovedProfiles": true, "kubeflow-irsa:kubeflowInstalled": true });
            const result = await synth("--stack", "ren", "--project-dir", dir, "--out", out);
            assertOk(result);
            assert.doesNotMatch(result.stdout, /new namespaces/);
            assert.match(result.stdout, /^ {2}removed from config: team-a \(deleted: Kubeflow deletes the namespace and everything in it\)$/m);
            const { changes } = readJson<Summary>(out, "summary.json");
            assert.deepEqual(changes && [changes.newNamespaces, changes.removedFromConfig, changes.removedProfiles], [[], ["team-a"], "deleted"]);
        });
    });

    it("GIVEN a previous synth WHEN userRoleShards grows THEN each moved profile is listed as draining on its old role; with finishMoves as finished", async () => {
        const teams = ["team-a", "team-b", "team-c", "team-d", "team-e", "team-f"].map((name) => ({ name, owner: `${name}@example.com` }));
        const base = { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-mv", "kubeflow-irsa:kubeflowInstalled": "true", "kubeflow-irsa:profiles": teams };
        const dir = project("mv", base);
        const out = tmpDir("mv");
        assertOk(await synth("--stack", "mv", "--project-dir", dir, "--out", out));
        const grown = await synth("--stack", "mv", "--project-dir", dir, "--out", out, "--config", "userRoleShards=2");
        assertOk(grown);
        const { changes, profiles } = readJson<Summary>(out, "summary.json");
        const moved = profiles.filter((p) => p.roleArn.endsWith("kf-user-us-west-2-kf-mv-1")).map((p) => p.name);
        assert.ok(moved.length > 0, "the fixture moves a profile");
        assert.deepEqual(changes!.moves.map((m) => [m.profile, m.oldRole]), moved.map((n) => [n, "draining"]));
        for (const name of moved) {
            assert.match(grown.stdout, new RegExp(`^ {2}moved: ${name} kf-user-us-west-2-kf-mv → kf-user-us-west-2-kf-mv-1 \\(draining: after up kf-user-us-west-2-kf-mv keeps trusting it.*finishMoves\\)$`, "m"));
        }
        // Compared with the previous synth (already grown) nothing moves; against the first one, finishMoves finishes.
        fs.writeFileSync(path.join(out, "summary.json"), JSON.stringify({ ...readJson<Summary>(out, "summary.json"), profiles: teams.map((t) => ({ name: t.name, namespace: t.name, roleArn: "arn:aws:iam::123456789012:role/kf-user-us-west-2-kf-mv" })) }));
        const finishing = await synth("--stack", "mv", "--project-dir", dir, "--out", out, "--config", "userRoleShards=2", "--config", "finishMoves=true");
        assertOk(finishing);
        assert.deepEqual(readJson<Summary>(out, "summary.json").changes!.moves.map((m) => m.oldRole), moved.map(() => "finished"));
        assert.match(finishing.stdout, /finishMoves: up removes it from kf-user-us-west-2-kf-mv/);
    });

    it("GIVEN userRoleShards auto THEN synth plans the count offline, the same trust policies on every run, and a one-profile change lists what moves as draining", async () => {
        const teams = Array.from({ length: 90 }, (_, i) => ({ name: `team-${String(i).padStart(3, "0")}`, owner: `owner${i}@example.com` }));
        const base = { "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-auto", "kubeflow-irsa:kubeflowInstalled": "true", "kubeflow-irsa:userRoleShards": "auto", "kubeflow-irsa:profiles": teams };
        const dir = project("auto", base);
        const [out, again] = [tmpDir("auto"), tmpDir("auto-again")];
        const first = await synth("--stack", "auto", "--project-dir", dir, "--out", out);
        assertOk(first);
        assertOk(await synth("--stack", "auto", "--project-dir", dir, "--out", again));
        const policies = (d: string) => fs.readdirSync(path.join(d, "trust-policies")).sort().map((f) => [f, read(path.join(d, "trust-policies"), f)]);
        assert.deepEqual(policies(again), policies(out), "the same placement from the same config");
        const users = policies(out).filter(([f]) => f.startsWith("kf-user-us-west-2-kf-auto"));
        assert.ok(users.length >= 3, `90 profiles need several roles at 2048: ${users.map(([f]) => f).join(", ")}`);
        for (const [file, text] of users) assert.ok(policySize(JSON.parse(text)) <= 2048, `${file} within the quota`);

        fs.writeFileSync(path.join(dir, "Pulumi.auto.yaml"), toYaml({ config: { ...base, "kubeflow-irsa:profiles": [...teams, { name: "team-new", owner: "new@example.com" }] } }));
        const changed = await synth("--stack", "auto", "--project-dir", dir, "--out", out);
        assertOk(changed);
        const { changes } = readJson<Summary>(out, "summary.json");
        assert.deepEqual(changes!.newNamespaces, ["team-new"]);
        assert.ok(changes!.moves.length <= 2, `a one-profile change moves few: ${JSON.stringify(changes!.moves)}`);
        for (const move of changes!.moves) assert.equal(move.oldRole, "draining", `${move.profile} stays trusted by its old role until finishMoves`);
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
