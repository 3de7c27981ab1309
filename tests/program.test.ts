// The program (index.ts) under Pulumi mocks: what `pulumi up` would register for a stack's config.
import { strict as assert } from "assert";
import * as pulumi from "@pulumi/pulumi";
import * as fs from "fs";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { CONFIG_KEYS } from "../components/config";
import { runProgram, TRUST_SUBJECTS_TYPE, type ConfigValues, type ProgramRun } from "../cli/evaluate";
import { cliValues, ofType, named } from "./support/program";
import { parsePolicyDocument, statementsOf } from "../domain/trustPolicy";

const ACCOUNT = "123456789012";
const DATA_ROLE = `arn:aws:iam::${ACCOUNT}:role/data-eng-pipelines`;

const profiles = [
    { name: "team-vision", owner: "alice@example.com" },
    { name: "team-nlp", owner: "bob@example.com" },
    { name: "data-eng", owner: "carol@example.com", awsIamRole: DATA_ROLE },
    { name: "data-science", owner: "dan@example.com", awsIamRole: DATA_ROLE },
];

function devConfig(extra: Record<string, unknown> = {}): ConfigValues {
    const values: Record<string, unknown> = {
        "aws:region": "us-west-2",
        "kubeflow-irsa:clusterName": "kf-dev",
        "kubeflow-irsa:profiles": profiles,
        "kubeflow-irsa:kubeflowInstalled": "true",
        ...extra,
    };
    return cliValues(values);
}

const trustFor = (run: ProgramRun, roleName: string) => ofType(run, TRUST_SUBJECTS_TYPE).find((r) => String(r.inputs.role).endsWith(`/${roleName}`));

describe("program (index.ts under mocks)", function () {
    this.timeout(60_000);

    describe("GIVEN a dev stack with two kf-user profiles and two on an external role", () => {
        let run: ProgramRun;
        before(async () => {
            run = await runProgram(devConfig());
        });

        it("THEN it creates the EKS cluster with the IAM OIDC provider", () => {
            const [cluster] = ofType(run, "eks:index:Cluster");
            assert.equal(cluster.inputs.name, "kf-dev");
            assert.equal(cluster.inputs.createOidcProvider, true);
        });

        it("THEN kf-admin and kf-user are named after region and cluster and trust the cluster's provider", () => {
            const roles = ofType(run, "aws:iam/role:Role").map((r) => r.inputs.name);
            assert.deepEqual(roles.sort(), ["kf-admin-us-west-2-kf-dev", "kf-user-us-west-2-kf-dev"]);
            const provider = run.outputs.oidcProviderArn as string;
            assert.match(provider, /^arn:aws:iam::123456789012:oidc-provider\/oidc\.eks\.us-west-2\.amazonaws\.com\/id\/[0-9A-F]{32}$/);
            const issuer = run.outputs.oidcIssuer as string;
            const trust = parsePolicyDocument(String(named(run, "kf-user-us-west-2-kf-dev").inputs.assumeRolePolicy));
            const [statement] = statementsOf(trust);
            assert.deepEqual(statement.Principal, { Federated: provider });
            assert.equal(statement.Action, "sts:AssumeRoleWithWebIdentity");
            assert.deepEqual(statement.Condition, {
                StringEquals: { [`${issuer}:aud`]: "sts.amazonaws.com", [`${issuer}:sub`]: ["system:serviceaccount:kubeflow-irsa.invalid:kf-user"] },
            });
        });

        it("THEN kf-admin carries the AWS Load Balancer Controller and CloudWatch policies, scoped to the cluster, and no IAM write", () => {
            const policies = ofType(run, "aws:iam/rolePolicy:RolePolicy");
            assert.deepEqual(policies.map((p) => p.inputs.name).sort(), ["aws-load-balancer-controller", "cloudwatch-logs"]);
            const all = policies.map((p) => String(p.inputs.policy)).join("");
            assert.ok(!all.includes("iam:UpdateAssumeRolePolicy"), "kf-admin must not be able to rewrite trust policies");
            assert.ok(all.includes("log-group:/aws/eks/kf-dev/*"));
            assert.ok(!all.includes("${"), "every policy variable is filled in");
            assert.equal(ofType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment").length, 0, "kf-user has no policies by default");
        });

        it("THEN subjects are grouped per role: one TrustSubjects resource each", () => {
            const trusts = ofType(run, TRUST_SUBJECTS_TYPE);
            assert.equal(trusts.length, 3);
            assert.deepEqual(trustFor(run, "kf-user-us-west-2-kf-dev")!.inputs.subjects, [
                "system:serviceaccount:team-nlp:default-editor",
                "system:serviceaccount:team-vision:default-editor",
            ]);
            assert.deepEqual(trustFor(run, "data-eng-pipelines")!.inputs.subjects, [
                "system:serviceaccount:data-eng:default-editor",
                "system:serviceaccount:data-science:default-editor",
            ]);
            // The control plane's AWS callers (v2 load balancer controller, log shipper), less the
            // anchor the role itself keeps; not the profile controller, which makes no AWS call.
            assert.deepEqual(trustFor(run, "kf-admin-us-west-2-kf-dev")!.inputs.subjects, [
                "system:serviceaccount:kube-system:aws-load-balancer-controller",
                "system:serviceaccount:kubeflow:fluentd",
            ]);
            for (const t of trusts) {
                assert.equal(t.inputs.providerArn, run.outputs.oidcProviderArn);
                assert.equal(t.inputs.maxPolicyChars, 2048);
                // The record of a write in flight is keyed by this: two deployments of a stack named
                // the same on two self-managed backends ("organization") differ by region and cluster.
                assert.match(String(t.inputs.owner), /^[^/]+\/[^/]+\/[^/]+\/us-west-2\/kf-dev$/);
            }
            // Each role the stack creates keeps an anchor no pod can hold under the current provider, even
            // after a cluster replacement or a switch from podIdentity; a foreign role gets none.
            assert.deepEqual(trustFor(run, "kf-admin-us-west-2-kf-dev")!.inputs.anchors, ["system:serviceaccount:kubeflow-irsa.invalid:kf-admin"]);
            assert.deepEqual(trustFor(run, "kf-user-us-west-2-kf-dev")!.inputs.anchors, ["system:serviceaccount:kubeflow-irsa.invalid:kf-user"]);
            assert.deepEqual(trustFor(run, "data-eng-pipelines")!.inputs.anchors, []);
        });

        it("THEN each profile is a Profile CR whose plugin only annotates default-editor with its role", () => {
            const crs = ofType(run, "kubernetes:kubeflow.org/v1:Profile");
            assert.equal(crs.length, 4);
            const vision = named(run, "profile-team-vision").inputs;
            assert.deepEqual(vision.metadata, { name: "team-vision" });
            assert.deepEqual(vision.spec, {
                owner: { kind: "User", name: "alice@example.com" },
                plugins: [{ kind: "AwsIamForServiceAccount", spec: { awsIamRole: `arn:aws:iam::${ACCOUNT}:role/kf-user-us-west-2-kf-dev`, annotateOnly: true } }],
            });
            const dataEng = named(run, "profile-data-eng").inputs.spec as { plugins: { spec: { awsIamRole: string } }[] };
            assert.equal(dataEng.plugins[0].spec.awsIamRole, DATA_ROLE);
        });

        it("THEN the stack exports the documented outputs", () => {
            for (const key of ["clusterName", "oidcProviderArn", "oidcIssuer", "kfAdminRoleArn", "kfUserRoleArn", "profileRoleArns", "kubeconfig"]) {
                assert.ok(key in run.outputs, `missing output ${key}`);
            }
            assert.equal(run.outputs.clusterName, "kf-dev");
            assert.equal(run.outputs.kfAdminRoleArn, `arn:aws:iam::${ACCOUNT}:role/kf-admin-us-west-2-kf-dev`);
            assert.deepEqual(run.outputs.profileRoleArns, {
                "team-vision": `arn:aws:iam::${ACCOUNT}:role/kf-user-us-west-2-kf-dev`,
                "team-nlp": `arn:aws:iam::${ACCOUNT}:role/kf-user-us-west-2-kf-dev`,
                "data-eng": DATA_ROLE,
                "data-science": DATA_ROLE,
            });
            assert.match(String(run.outputs.kubeconfig), /"kind":"Config"/);
        });

        it("THEN the trust-subject provider it registers serializes and loads as the Pulumi host loads it", async () => {
            const text = String(trustFor(run, "kf-user-us-west-2-kf-dev")!.inputs.__provider);
            // eslint-disable-next-line @typescript-eslint/no-require-imports
            const requireFromString = require("require-from-string") as (code: string) => { handler: () => pulumi.dynamic.ResourceProvider };
            const provider = requireFromString(text).handler();
            for (const method of ["configure", "check", "diff", "create", "read", "update", "delete"] as const) {
                assert.equal(typeof provider[method], "function", `provider.${method}`);
            }
            const checked = await provider.check!({}, { role: DATA_ROLE, providerArn: run.outputs.oidcProviderArn, subjects: ["system:serviceaccount:Bad_NS:default-editor"] });
            assert.equal(checked.failures?.length, 1);
            assert.match(checked.failures![0].reason, /Bad_NS/);
        });
    });

    it("GIVEN an awsIamRole naming kf-user's own ARN (IAM ignores case) THEN it joins kf-user's group instead of a second resource", async () => {
        const run = await runProgram(
            devConfig({
                "kubeflow-irsa:profiles": [
                    { name: "team-a", owner: "a@example.com" },
                    { name: "team-b", owner: "b@example.com", awsIamRole: `arn:aws:iam::${ACCOUNT}:role/KF-User-us-west-2-kf-dev` },
                    { name: "ops", owner: "o@example.com", awsIamRole: `arn:aws:iam::${ACCOUNT}:role/kf-admin-us-west-2-kf-dev` },
                ],
            }),
        );
        assert.deepEqual(ofType(run, TRUST_SUBJECTS_TYPE).map((t) => t.name).sort(), ["trust-kf-admin-us-west-2-kf-dev", "trust-kf-user-us-west-2-kf-dev"]);
        assert.deepEqual(trustFor(run, "kf-user-us-west-2-kf-dev")!.inputs.subjects, ["system:serviceaccount:team-a:default-editor", "system:serviceaccount:team-b:default-editor"]);
        assert.ok((trustFor(run, "kf-admin-us-west-2-kf-dev")!.inputs.subjects as string[]).includes("system:serviceaccount:ops:default-editor"));
    });

    it("GIVEN awsIamRole ARNs of one name in two accounts and in two spellings THEN each real role gets one TrustSubjects resource", async () => {
        const run = await runProgram(
            devConfig({
                "kubeflow-irsa:profiles": [
                    { name: "team-a", owner: "a@example.com", awsIamRole: "arn:aws:iam::111122223333:role/shared-data" },
                    { name: "team-b", owner: "b@example.com", awsIamRole: "arn:aws:iam::111122223333:role/Shared-Data" },
                    { name: "team-c", owner: "c@example.com", awsIamRole: "arn:aws:iam::444455556666:role/shared-data" },
                ],
            }),
        );
        const external = ofType(run, TRUST_SUBJECTS_TYPE).filter((t) => !String(t.inputs.role).includes(":role/kf-"));
        assert.deepEqual(
            external.map((t) => [t.name, t.inputs.role, t.inputs.subjects]).sort(),
            [
                ["trust-111122223333-shared-data", "arn:aws:iam::111122223333:role/shared-data", ["system:serviceaccount:team-a:default-editor", "system:serviceaccount:team-b:default-editor"]],
                ["trust-444455556666-shared-data", "arn:aws:iam::444455556666:role/shared-data", ["system:serviceaccount:team-c:default-editor"]],
            ],
        );
        assert.equal((run.outputs.profileRoleArns as Record<string, string>)["team-c"], "arn:aws:iam::444455556666:role/shared-data");
    });

    it("GIVEN enablePodIamPolicy false THEN there is a cluster and profiles but no IAM at all", async () => {
        const run = await runProgram(devConfig({ "kubeflow-irsa:enablePodIamPolicy": "false" }));
        assert.deepEqual(run.resources.filter((r) => r.type.startsWith("aws:") || r.type === TRUST_SUBJECTS_TYPE), []);
        assert.equal(ofType(run, "eks:index:Cluster")[0].inputs.createOidcProvider, false);
        const crs = ofType(run, "kubernetes:kubeflow.org/v1:Profile");
        assert.equal(crs.length, 4);
        for (const cr of crs) assert.deepEqual((cr.inputs.spec as { plugins: unknown[] }).plugins, []);
        assert.equal(run.outputs.kfAdminRoleArn, undefined);
        assert.deepEqual(run.outputs.profileRoleArns, {});
    });

    describe("GIVEN an existing cluster", () => {
        const issuerUrl = "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";

        it("WHEN no provider ARN is given THEN it creates the IAM OIDC provider for sts.amazonaws.com and no cluster", async () => {
            const run = await runProgram(devConfig({ "kubeflow-irsa:existingCluster": { oidcIssuerUrl: issuerUrl } }));
            assert.equal(ofType(run, "eks:index:Cluster").length, 0);
            const [oidc] = ofType(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider");
            assert.equal(oidc.inputs.url, issuerUrl);
            assert.deepEqual(oidc.inputs.clientIdLists, ["sts.amazonaws.com"]);
            assert.equal(run.outputs.oidcIssuer, "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE");
            assert.equal(run.outputs.oidcProviderArn, `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE`);
            assert.equal(ofType(run, "pulumi:providers:kubernetes").length, 0, "the ambient kubeconfig is used");
        });

        it("WHEN its provider ARN and a kubeconfig are given THEN it creates no provider and targets that kubeconfig", async () => {
            const arn = `arn:aws:iam::${ACCOUNT}:oidc-provider/oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE`;
            const run = await runProgram(
                devConfig({ "kubeflow-irsa:existingCluster": { oidcIssuerUrl: issuerUrl, oidcProviderArn: arn }, "kubeflow-irsa:kubeconfig": "apiVersion: v1\nkind: Config\n" }),
            );
            assert.equal(ofType(run, "aws:iam/openIdConnectProvider:OpenIdConnectProvider").length, 0);
            assert.equal(run.outputs.oidcProviderArn, arn);
            assert.equal(ofType(run, "pulumi:providers:kubernetes").length, 1);
            for (const t of ofType(run, TRUST_SUBJECTS_TYPE)) assert.equal(t.inputs.providerArn, arn);
        });
    });

    it("GIVEN userPolicyArns, enableFsx and profileApiVersion v1beta1 THEN each kf-user role gets the policies and profiles use v1beta1", async () => {
        const run = await runProgram(
            devConfig({
                "kubeflow-irsa:userPolicyArns": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"],
                "kubeflow-irsa:enableFsx": "true",
                "kubeflow-irsa:profileApiVersion": "kubeflow.org/v1beta1",
                "kubeflow-irsa:userRoleShards": "2",
            }),
        );
        const attachments = ofType(run, "aws:iam/rolePolicyAttachment:RolePolicyAttachment");
        assert.equal(attachments.length, 2, "one per kf-user shard");
        assert.ok(ofType(run, "aws:iam/rolePolicy:RolePolicy").some((p) => p.inputs.name === "fsx-lustre-csi"));
        assert.equal(ofType(run, "kubernetes:kubeflow.org/v1beta1:Profile").length, 4);
    });

    it("GIVEN userRoleShards auto and 80 kf-user profiles at quota 2048 THEN the stack creates the roles auto picks, and each TrustSubjects holds the profiles planTrust placed there", async () => {
        const many = Array.from({ length: 80 }, (_, i) => ({ name: `team-${String(i).padStart(3, "0")}-ml`, owner: `user${i}@example.com` }));
        const run = await runProgram(devConfig({ "kubeflow-irsa:profiles": many, "kubeflow-irsa:userRoleShards": "auto" }));
        const arns = run.outputs.kfUserRoleArns as string[];
        // 80 subjects of 48 characters (+3 each in the list) are 4,080 characters: three roles (1,556 each
        // besides the anchor) would be 87% full, more than auto's 90% of the room less its 5% reserve.
        assert.deepEqual(arns, [0, 1, 2, 3].map((i) => `arn:aws:iam::${ACCOUNT}:role/kf-user-us-west-2-kf-dev${i ? `-${i}` : ""}`));
        const placed = arns.flatMap((arn) => (trustFor(run, arn.split("/").pop()!)!.inputs.subjects as string[]).map((s) => [s, arn] as const));
        assert.equal(placed.length, 80, "every profile's default-editor on exactly one kf-user role");
        const roles = run.outputs.profileRoleArns as Record<string, string>;
        for (const [subject, arn] of placed) assert.equal(roles[subject.split(":")[2]], arn, subject);
        for (const arn of arns) assert.equal(trustFor(run, arn.split("/").pop()!)!.inputs.maxPolicyChars, 2048);
    });

    it("GIVEN identityMode podIdentity THEN roles trust pods.eks.amazonaws.com of this cluster only and every default-editor and admin service account is associated", async () => {
        const run = await runProgram(devConfig({ "kubeflow-irsa:identityMode": "podIdentity", "kubeflow-irsa:adminServiceAccounts": ["kubeflow:kf-admin", "kubeflow:fluentd"] }));
        // No trust-policy growth: each managed role's TrustSubjects owns only the Pod Identity statement.
        for (const trust of ofType(run, TRUST_SUBJECTS_TYPE)) assert.deepEqual([trust.inputs.subjects, trust.inputs.anchors], [[], []], trust.name);
        assert.equal(ofType(run, "eks:index:Cluster")[0].inputs.createOidcProvider, false);
        const [addon] = ofType(run, "aws:eks/addon:Addon");
        assert.equal(addon.inputs.addonName, "eks-pod-identity-agent");
        const user = named(run, "kf-user-us-west-2-kf-dev");
        // Pinned to the cluster (issue 19.5): an association of another cluster of the account gets no session.
        assert.deepEqual(JSON.parse(String(user.inputs.assumeRolePolicy)).Statement[0], {
            Effect: "Allow",
            Principal: { Service: "pods.eks.amazonaws.com" },
            Action: ["sts:AssumeRole", "sts:TagSession"],
            Condition: { StringEquals: { "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:us-west-2:123456789012:cluster/kf-dev" } },
        });
        const associations = ofType(run, "aws:eks/podIdentityAssociation:PodIdentityAssociation").map((a) => `${a.inputs.namespace}/${a.inputs.serviceAccount} → ${String(a.inputs.roleArn).split("/").pop()}`);
        assert.deepEqual(associations.sort(), [
            "data-eng/default-editor → data-eng-pipelines",
            "data-science/default-editor → data-eng-pipelines",
            "kubeflow/fluentd → kf-admin-us-west-2-kf-dev",
            "kubeflow/kf-admin → kf-admin-us-west-2-kf-dev",
            "team-nlp/default-editor → kf-user-us-west-2-kf-dev",
            "team-vision/default-editor → kf-user-us-west-2-kf-dev",
        ]);
        for (const cr of ofType(run, "kubernetes:kubeflow.org/v1:Profile")) assert.deepEqual((cr.inputs.spec as { plugins: unknown[] }).plugins, []);
    });

    it("GIVEN Pulumi.yaml THEN the keys the program accepts are exactly the keys it declares", () => {
        const declared = Object.keys((parseYaml(fs.readFileSync(path.join(__dirname, "..", "Pulumi.yaml"), "utf8")) as { config: object }).config);
        assert.deepEqual([...CONFIG_KEYS].sort(), declared.sort());
    });

    it("GIVEN valid keys of other namespaces (aws, kubernetes, pulumi) THEN none is refused", async () => {
        const run = await runProgram(devConfig({ "aws:profile": "platform", "aws:skipMetadataApiCheck": "true", "kubernetes:context": "kf-dev", "pulumi:disable-default-providers": '["kubernetes"]' }));
        assert.ok(run.resources.length > 0);
    });

    describe("GIVEN bad input THEN it fails before registering anything, naming key, value and fix", () => {
        const cases: [string, Record<string, unknown>, RegExp][] = [
            ["a namespace that is not an RFC 1123 label", { "kubeflow-irsa:profiles": [{ name: "Team_A", owner: "a@example.com" }] }, /kubeflow-irsa:profiles\[0\]\.name: "Team_A" is not a valid Kubernetes namespace/],
            ["a namespace over 63 characters", { "kubeflow-irsa:profiles": [{ name: "a".repeat(64), owner: "a@example.com" }] }, /profiles\[0\]\.name: "a{64}" is 64 characters; a Kubernetes namespace has at most 63/],
            [
                "duplicate profile names",
                { "kubeflow-irsa:profiles": [{ name: "team-a", owner: "a@example.com" }, { name: "team-a", owner: "b@example.com" }] },
                /profiles\[1\]\.name: "team-a" is already the name of profiles\[0\]; .*remove or rename one/,
            ],
            ["a wildcard namespace", { "kubeflow-irsa:profiles": [{ name: "team-*", owner: "a@example.com" }] }, /profiles\[0\]\.name: "team-\*" is not a valid Kubernetes namespace/],
            ["a quote in an owner", { "kubeflow-irsa:profiles": [{ name: "team-a", owner: 'a"@example.com' }] }, /profiles\[0\]\.owner: .* is not an e-mail address/],
            ["a malformed role ARN", { "kubeflow-irsa:profiles": [{ name: "team-a", owner: "a@example.com", awsIamRole: "arn:aws:iam::12345:role/x" }] }, /profiles\[0\]\.awsIamRole: "arn:aws:iam::12345:role\/x" is not an IAM role ARN/],
            ["an unknown profileApiVersion", { "kubeflow-irsa:profileApiVersion": "kubeflow.org/v2" }, /kubeflow-irsa:profileApiVersion: "kubeflow.org\/v2" is not supported; use one of "kubeflow.org\/v1", "kubeflow.org\/v1beta1"/],
            ["a quota below IAM's default", { "kubeflow-irsa:trustPolicyMaxChars": "1024" }, /kubeflow-irsa:trustPolicyMaxChars: "1024" is out of range: use a whole number from 2048 to 8192/],
            ["a quota above IAM's maximum", { "kubeflow-irsa:trustPolicyMaxChars": "8193" }, /trustPolicyMaxChars: "8193" is out of range: use a whole number from 2048 to 8192/],
            ["an unknown identityMode", { "kubeflow-irsa:identityMode": "irsa2" }, /kubeflow-irsa:identityMode: "irsa2" is not supported; use one of "irsa", "podIdentity"/],
            ["a bad admin service account", { "kubeflow-irsa:adminServiceAccounts": ["kubeflow"] }, /adminServiceAccounts\[0\]: "kubeflow" is not "namespace:name"/],
            ["a role name over 64 characters", { "kubeflow-irsa:clusterName": "kubeflow-platform-production-cluster-for-many-teams" }, /clusterName: .* makes the role name "kf-admin-us-west-2-kubeflow-platform-production-cluster-for-many-teams" 70 characters, over IAM's limit of 64; use a cluster name of at most 45 characters/],
            ["a missing clusterName", { "kubeflow-irsa:clusterName": "" }, /kubeflow-irsa:clusterName: is required; set it with `pulumi config set clusterName <name>`/],
            ["a repeated userPolicyArns entry", { "kubeflow-irsa:userPolicyArns": ["arn:aws:iam::aws:policy/ReadOnlyAccess", "arn:aws:iam::aws:policy/ReadOnlyAccess"] }, /userPolicyArns\[1\]: "arn:aws:iam::aws:policy\/ReadOnlyAccess" repeats userPolicyArns\[0\]; remove one/],
            ["more managed policies than IAM attaches", { "kubeflow-irsa:userPolicyArns": Array.from({ length: 21 }, (_, i) => `arn:aws:iam::${ACCOUNT}:policy/p${i}`) }, /userPolicyArns: 21 policies, but IAM attaches at most 20 managed policies to a role/],
            ["a repeated admin service account", { "kubeflow-irsa:adminServiceAccounts": ["kubeflow:fluentd", "kubeflow:fluentd"] }, /adminServiceAccounts\[1\]: "kubeflow:fluentd" repeats adminServiceAccounts\[0\]/],
            ["a misspelled existingCluster field", { "kubeflow-irsa:existingCluster": { oidcIssuerUrl: "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE", oidcProviderARN: "x" } }, /existingCluster: unknown field "oidcProviderARN"; the map has oidcIssuerUrl, and optionally oidcProviderArn or selfManaged/],
            [
                "a profile's default-editor bound to kf-admin too (podIdentity)",
                { "kubeflow-irsa:identityMode": "podIdentity", "kubeflow-irsa:adminServiceAccounts": ["team-nlp:default-editor"] },
                /adminServiceAccounts\[0\]: "team-nlp:default-editor" is also a service account of profile "team-nlp", and a service account has one Pod Identity association/,
            ],
            // a typo must never mean "no profiles" (and an up that deletes them all)
            ["a misspelt key (profile)", { "kubeflow-irsa:profile": [{ name: "team-x", owner: "x@example.com" }] }, /^invalid stack configuration:\n {2}- kubeflow-irsa:profile: is not a key of this project; did you mean `kubeflow-irsa:profiles`\? \(rename it in Pulumi\.<stack>\.yaml or with `pulumi config rm` \/ `set`\)$/],
            ["a userRoleShards that is neither a number nor auto", { "kubeflow-irsa:userRoleShards": "Auto" }, /kubeflow-irsa:userRoleShards: "Auto" .*whole number from 1 to 1000.*or auto, and the stack picks the count/],
            ["a misspelt key (userRoleShard)", { "kubeflow-irsa:userRoleShard": "3" }, /kubeflow-irsa:userRoleShard: is not a key of this project; did you mean `kubeflow-irsa:userRoleShards`\?/],
            ["an aws provider key without its namespace (region)", { "kubeflow-irsa:region": "us-east-1" }, /kubeflow-irsa:region: is not a key of this project; it is the aws provider's: did you mean `aws:region`\?/],
            ["a shortened key (adminRole)", { "kubeflow-irsa:adminRole": "perController" }, /kubeflow-irsa:adminRole: is not a key of this project; did you mean `kubeflow-irsa:adminRoleMode`\?/],
            ["a shortened key (maxChars)", { "kubeflow-irsa:maxChars": "4096" }, /kubeflow-irsa:maxChars: is not a key of this project; did you mean `kubeflow-irsa:trustPolicyMaxChars`\?/],
            ["a key in the wrong case (identitymode)", { "kubeflow-irsa:identitymode": "podIdentity" }, /kubeflow-irsa:identitymode: is not a key of this project; did you mean `kubeflow-irsa:identityMode`\?/],
            ["a misspelt namespace (kubeflow_irsa)", { "kubeflow_irsa:profiles": "[]" }, /^invalid stack configuration:\n {2}- kubeflow_irsa:profiles: "kubeflow_irsa" is not this project's namespace; did you mean `kubeflow-irsa:profiles`\?$/],
            ["a misspelt namespace (kubeflowirsa)", { "kubeflowirsa:userRoleShards": "2" }, /kubeflowirsa:userRoleShards: "kubeflowirsa" is not this project's namespace; did you mean `kubeflow-irsa:userRoleShards`\?/],
            ["a misspelt namespace and key (kubeflow-irs:profile)", { "kubeflow-irs:profile": "[]" }, /kubeflow-irs:profile: "kubeflow-irs" is not this project's namespace; did you mean `kubeflow-irsa:profiles`\?/],
            ["deleteRemovedProfiles without kubeflowInstalled", { "kubeflow-irsa:kubeflowInstalled": "false", "kubeflow-irsa:deleteRemovedProfiles": "true" }, /kubeflow-irsa:deleteRemovedProfiles: true while kubeflow-irsa:kubeflowInstalled is false: .* an `up` would delete every Profile \(and Kubeflow every namespace\)/],
            ["a profile without owner", { "kubeflow-irsa:profiles": [{ name: "team-a" }] }, /kubeflow-irsa:profiles\[0\]\.owner: is required: set the owner's login e-mail, e.g. "alice@example.com"/],
            // Names the stack must not accept (issue 19.9)
            ...["kube-system", "kube-public", "kube-node-lease", "default", "kubeflow", "istio-system", "cert-manager", "amazon-cloudwatch", "kube-anything"].map(
                (name) =>
                    [
                        `a profile named ${name} (a namespace someone else owns)`,
                        { "kubeflow-irsa:profiles": [{ name, owner: "mallory@example.com" }] },
                        new RegExp(`kubeflow-irsa:profiles\\[0\\]\\.name: "${name}" is a namespace that (Kubernetes|Kubeflow or EKS) owns: a profile of that name would make its owner admin of it .*; choose a name of the team's own`),
                    ] as [string, Record<string, unknown>, RegExp],
            ),
            // Suggestions only for close names; the day-one messages (issue 21)
            [
                "a key close to no key of the project (foo)",
                { "kubeflow-irsa:foo": "bar" },
                /^invalid stack configuration:\n {2}- kubeflow-irsa:foo: is not a key of this project \(its keys are those Pulumi\.yaml declares, listed in the README's Configuration section\); remove it from Pulumi\.<stack>\.yaml \(`pulumi config rm kubeflow-irsa:foo`\)$/,
            ],
            ["a misspelt aws key (aws:regin)", { "aws:regin": "us-west-2" }, /^invalid stack configuration:\n {2}- aws:regin: is not a config key of the aws provider; did you mean `aws:region`\? \(rename it in Pulumi\.<stack>\.yaml/],
            ["profiles with every entry commented out (YAML null)", { "kubeflow-irsa:profiles": "null" }, /kubeflow-irsa:profiles: has no value \(YAML null: .*\); write `kubeflow-irsa:profiles: \[\]` for an empty list/],
            ["a word for the quota", { "kubeflow-irsa:trustPolicyMaxChars": "lots" }, /kubeflow-irsa:trustPolicyMaxChars: "lots" is not a number: use a whole number from 2048 to 8192/],
            ["a fraction for the quota", { "kubeflow-irsa:trustPolicyMaxChars": "4096.5" }, /kubeflow-irsa:trustPolicyMaxChars: "4096\.5" is not a whole number: use a whole number from 2048 to 8192/],
            ["an unquoted numeric profile name", { "kubeflow-irsa:profiles": [{ name: 12345, owner: "a@example.com" }] }, /kubeflow-irsa:profiles\[0\]\.name: 12345 is a number, not a string: YAML reads it unquoted as one; quote it \("12345"\)/],
            [
                "the issuer URL as existingCluster",
                { "kubeflow-irsa:existingCluster": "https://oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE" },
                /kubeflow-irsa:existingCluster: "https:\/\/oidc\.eks\.us-west-2\.amazonaws\.com\/id\/EXAMPLED539D4633E53DE1B71EXAMPLE" is a string, not a map; write it as a map with the issuer URL under oidcIssuerUrl: `kubeflow-irsa:existingCluster:` and under it, indented, `oidcIssuerUrl: https:\/\/oidc\.eks\.us-west-2\.amazonaws\.com\/id\/EXAMPLED539D4633E53DE1B71EXAMPLE`/,
            ],
            ["a region close to no region (mars-1)", { "aws:region": "mars-1" }, /aws:region: "mars-1" is not an AWS region; use a region code such as "us-west-2"/],
            ["a misspelt region (us-wst-2)", { "aws:region": "us-wst-2" }, /aws:region: "us-wst-2" is not an AWS region; did you mean "us-west-2"\?/],
            ["a region of the right shape that does not exist (us-west-9)", { "aws:region": "us-west-9" }, /aws:region: "us-west-9" is not an AWS region/],
            [
                "an awsIamRole in another partition (aws-cn in us-west-2)",
                { "kubeflow-irsa:profiles": [{ name: "team-a", owner: "a@example.com", awsIamRole: "arn:aws-cn:iam::123456789012:role/data-science" }] },
                /kubeflow-irsa:profiles\[0\]\.awsIamRole: "arn:aws-cn:iam::123456789012:role\/data-science" is in partition "aws-cn", but the cluster's region us-west-2 is in "aws": a pod there cannot assume it; use a role ARN that starts with "arn:aws:iam::"/,
            ],
        ];
        it("WHEN the region is in another partition and the awsIamRole too (us-gov-west-1, arn:aws-us-gov) THEN it is accepted", async () => {
            const run = await runProgram(devConfig({ "aws:region": "us-gov-west-1", "kubeflow-irsa:profiles": [{ name: "team-a", owner: "a@example.com", awsIamRole: "arn:aws-us-gov:iam::123456789012:role/data-science" }] }));
            assert.equal((run.outputs.profileRoleArns as Record<string, string>)["team-a"], "arn:aws-us-gov:iam::123456789012:role/data-science");
        });
        for (const [what, extra, message] of cases) {
            it(`WHEN ${what}`, async () => {
                await assert.rejects(runProgram(devConfig(extra)), (err: Error & { registered?: string[] }) => {
                    assert.match(err.message, message);
                    assert.deepEqual(err.registered, [], "nothing may be registered before the config is known good");
                    return true;
                });
            });
        }
    });
});
