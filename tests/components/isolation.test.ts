// Team isolation in podIdentity mode: the permission policy the program gives kf-user for
// `profileBucket`, evaluated for Pod Identity sessions of two namespaces with an independent IAM
// simulator (@cloud-copilot/iam-simulate) and with the project's own evaluator (the doctor's),
// which must agree; cross-account roles reached by chaining; the pin to this cluster (a namespace of
// the same name on another cluster of the account gets nothing); and what IRSA mode refuses.
import { strict as assert } from "assert";
import { configuredAccount, runProgram, type ConfigValues, type ProgramRun } from "../../cli/evaluate";
import { cliValues } from "../support/program";
import { AS_SIMULATED, simulate } from "../support/simulator";
import { evaluatePermissions } from "../../analysis/permissionEvaluation";
import { parsePolicyDocument, statementsOf, type PolicyDocument, type PolicyStatement } from "../../domain/trustPolicy";

const ACCOUNT = "123456789012";
const BUCKET = "acme-ml-workspaces";
const KF_USER = "kf-user-us-west-2-kf-prod";
const PARTNER_ROLE = "arn:aws:iam::999999999999:role/partner-ml";
const ASSOCIATION_TYPE = "aws:eks/podIdentityAssociation:PodIdentityAssociation";

function config(extra: Record<string, unknown> = {}): ConfigValues {
    const values: Record<string, unknown> = {
        "aws:region": "us-west-2",
        "kubeflow-irsa:clusterName": "kf-prod",
        "kubeflow-irsa:kubeflowInstalled": "false",
        "kubeflow-irsa:identityMode": "podIdentity",
        "kubeflow-irsa:profileBucket": BUCKET,
        "kubeflow-irsa:profiles": [
            { name: "team-a", owner: "alice@example.com", serviceAccounts: ["default-editor", "default"] },
            { name: "team-a-b", owner: "bob@example.com" },
            { name: "team-b", owner: "carol@example.com" },
            { name: "partner", owner: "pat@example.com", awsIamRole: PARTNER_ROLE },
        ],
        ...extra,
    };
    return cliValues(values);
}

/** The inline policies the program puts on a role, as IAM receives them. */
function inlinePolicies(run: ProgramRun, role: string): { name: string; document: PolicyDocument }[] {
    return run.resources
        .filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy" && r.inputs.role === role)
        .map((r) => ({ name: String(r.inputs.name), document: parsePolicyDocument(String(r.inputs.policy)) }));
}

const clusterArn = (cluster: string) => `arn:aws:eks:us-west-2:${ACCOUNT}:cluster/${cluster}`;

/** A Pod Identity session's tags, as EKS sets them (EKS docs, pod-id-abac); on kf-prod unless told. */
const session = (namespace: string, serviceAccount = "default-editor", cluster = "kf-prod") => ({
    "aws:PrincipalTag/kubernetes-namespace": namespace,
    "aws:PrincipalTag/kubernetes-service-account": serviceAccount,
    "aws:PrincipalTag/eks-cluster-name": cluster,
    "aws:PrincipalTag/eks-cluster-arn": clusterArn(cluster),
});

/** What EKS asks STS when an association of `cluster` assumes a role: the tags it gives the session. */
const podIdentityRequest = (namespace: string, cluster: string) => ({
    "aws:RequestTag/kubernetes-namespace": namespace,
    "aws:RequestTag/kubernetes-service-account": "default-editor",
    "aws:RequestTag/eks-cluster-name": cluster,
    "aws:RequestTag/eks-cluster-arn": clusterArn(cluster),
    "aws:TagKeys": ["kubernetes-namespace", "kubernetes-service-account", "eks-cluster-name", "eks-cluster-arn"],
});

/** The trust policy `up` leaves on a managed role in podIdentity mode: the TrustSubjects' owned statements. */
function podIdentityTrust(run: ProgramRun, role: string): PolicyDocument {
    const trust = run.resources.find((r) => r.name === `trust-${role}`)!;
    return { Version: "2012-10-17", Statement: trust.inputs.statements as PolicyStatement[] };
}

function simulated(
    policies: { name: string; document: PolicyDocument }[],
    action: string,
    resource: string,
    context: Record<string, string | string[]>,
    trust?: { principal: string; document: PolicyDocument },
): Promise<string> {
    return simulate({
        identityPolicies: policies,
        ...(trust ? { resourcePolicy: trust.document } : {}),
        principal: trust?.principal ?? `arn:aws:sts::${ACCOUNT}:assumed-role/${KF_USER}/eks-kf-prod-pod`,
        action,
        resource,
        account: ACCOUNT,
        context,
    });
}

const OURS = AS_SIMULATED;

describe("team isolation (podIdentity + profileBucket)", function () {
    this.timeout(60_000);
    let run: ProgramRun;
    before(async () => {
        run = await runProgram(config());
    });

    it("THEN kf-user carries one bucket policy, scoped by the session's namespace tag, and the associations keep session tags", () => {
        const policies = inlinePolicies(run, KF_USER);
        assert.deepEqual(policies.map((p) => p.name).sort(), ["assume-target-roles", "profile-bucket"]);
        const text = JSON.stringify(policies.find((p) => p.name === "profile-bucket")!.document);
        assert.ok(text.includes(`arn:aws:s3:::${BUCKET}/\${aws:PrincipalTag/kubernetes-namespace}/*`), text);
        for (const a of run.resources.filter((r) => r.type === ASSOCIATION_TYPE)) assert.notEqual(a.inputs.disableSessionTags, true, `${a.name}: the namespace tag is what isolates`);
    });

    it("GIVEN chained profiles whose namespaces differ only by a '-' (team-a, teama) THEN every inline policy's Sids are valid and unique, as IAM requires", async () => {
        const chained = await runProgram(
            config({
                "kubeflow-irsa:profiles": ["team-a", "teama", "team-a-b", "teamab", "team--a"].map((name, i) => ({ name, owner: `u${i}@example.com`, awsIamRole: `arn:aws:iam::99999999999${i}:role/partner-${i}` })),
            }),
        );
        const policies = chained.resources.filter((r) => r.type === "aws:iam/rolePolicy:RolePolicy");
        assert.ok(policies.length > 0);
        for (const p of policies) {
            const sids = statementsOf(parsePolicyDocument(String(p.inputs.policy))).map((st) => st.Sid).filter((sid): sid is string => sid !== undefined);
            assert.ok(sids.every((sid) => /^[A-Za-z0-9]*$/.test(sid)), `${p.name}: ${sids.join(", ")}`);
            assert.equal(new Set(sids).size, sids.length, `${p.name}: duplicate Sids ${sids.join(", ")}`);
        }
        assert.equal(statementsOf(inlinePolicies(chained, KF_USER).find((p) => p.name === "assume-target-roles")!.document).length, 5);
    });

    const cases: [string, string, string, Record<string, string>, string][] = [
        ["team-a reads its own object", "s3:GetObject", `arn:aws:s3:::${BUCKET}/team-a/data/train.csv`, session("team-a"), "Allowed"],
        ["team-a writes its own object (another of its accounts)", "s3:PutObject", `arn:aws:s3:::${BUCKET}/team-a/models/m.pt`, session("team-a", "default"), "Allowed"],
        ["team-a reads team-b's object", "s3:GetObject", `arn:aws:s3:::${BUCKET}/team-b/data/train.csv`, session("team-a"), "ImplicitlyDenied"],
        ["team-a writes into team-a-b's prefix", "s3:PutObject", `arn:aws:s3:::${BUCKET}/team-a-b/x`, session("team-a"), "ImplicitlyDenied"],
        ["team-b deletes team-a's object", "s3:DeleteObject", `arn:aws:s3:::${BUCKET}/team-a/data/train.csv`, session("team-b"), "ImplicitlyDenied"],
        ["team-a lists its prefix", "s3:ListBucket", `arn:aws:s3:::${BUCKET}`, { ...session("team-a"), "s3:prefix": "team-a/" }, "Allowed"],
        ["team-a lists 'team-a' (would show team-a-b's keys)", "s3:ListBucket", `arn:aws:s3:::${BUCKET}`, { ...session("team-a"), "s3:prefix": "team-a" }, "ImplicitlyDenied"],
        ["team-a lists team-b's prefix", "s3:ListBucket", `arn:aws:s3:::${BUCKET}`, { ...session("team-a"), "s3:prefix": "team-b/" }, "ImplicitlyDenied"],
        ["team-a lists the whole bucket", "s3:ListBucket", `arn:aws:s3:::${BUCKET}`, session("team-a"), "ImplicitlyDenied"],
        ["a session without the namespace tag reads anything", "s3:GetObject", `arn:aws:s3:::${BUCKET}/team-a/x`, {}, "ImplicitlyDenied"],
        ["team-a reads another bucket", "s3:GetObject", "arn:aws:s3:::other-bucket/team-a/x", session("team-a"), "ImplicitlyDenied"],
        ["a team-a session of another cluster of the account (kf-staging) reads team-a's object", "s3:GetObject", `arn:aws:s3:::${BUCKET}/team-a/data/train.csv`, session("team-a", "default-editor", "kf-staging"), "ImplicitlyDenied"],
        ["a team-a session of another cluster lists team-a's prefix", "s3:ListBucket", `arn:aws:s3:::${BUCKET}`, { ...session("team-a", "default-editor", "kf-staging"), "s3:prefix": "team-a/" }, "ImplicitlyDenied"],
        ["a team-a session without the cluster tag reads team-a's object", "s3:GetObject", `arn:aws:s3:::${BUCKET}/team-a/x`, { "aws:PrincipalTag/kubernetes-namespace": "team-a" }, "ImplicitlyDenied"],
    ];
    for (const [what, action, resource, context, expected] of cases) {
        it(`WHEN ${what} THEN ${expected} — the simulator and the doctor's evaluator agree`, async () => {
            const policies = inlinePolicies(run, KF_USER);
            assert.equal(await simulated(policies, action, resource, context), expected, "iam-simulate");
            assert.equal(OURS[evaluatePermissions(policies, { action, resource, context }).decision], expected, "evaluatePermissions");
        });
    }

    describe("GIVEN an association for a namespace named team-a on another cluster of the account", () => {
        it("THEN every managed role's trust lets in only Pod Identity sessions of kf-prod — the simulator and the doctor's evaluator agree", async () => {
            const pods = { type: "Service" as const, name: "pods.eks.amazonaws.com" };
            for (const role of [KF_USER, "kf-admin-us-west-2-kf-prod"]) {
                const document = podIdentityTrust(run, role);
                const resource = `arn:aws:iam::${ACCOUNT}:role/${role}`;
                for (const [cluster, expected] of [["kf-prod", "Allowed"], ["kf-staging", "ImplicitlyDenied"]] as const) {
                    for (const action of ["sts:AssumeRole", "sts:TagSession"]) {
                        const context = podIdentityRequest("team-a", cluster);
                        assert.equal(await simulated([], action, resource, context, { principal: pods.name, document }), expected, `iam-simulate ${role} ${action} from ${cluster}`);
                        assert.equal(OURS[evaluatePermissions([{ name: "trust", document }], { action, resource, context, principal: pods }).decision], expected, `evaluatePermissions ${role} ${action} from ${cluster}`);
                    }
                }
            }
        });

        it("THEN the associations of kf-prod are what the trust expects: session tags on, this cluster's name", () => {
            for (const a of run.resources.filter((r) => r.type === ASSOCIATION_TYPE)) {
                assert.equal(a.inputs.clusterName, "kf-prod", a.name);
                assert.notEqual(a.inputs.disableSessionTags, true, `${a.name}: without session tags the pinned trust refuses the association`);
            }
        });
    });

    describe("GIVEN a profile whose awsIamRole is in another account", () => {
        it("THEN its association names kf-user and chains to the role, kf-user may assume it, and its external id is an output", () => {
            const partner = run.resources.find((r) => r.name === "pod-identity-partner/default-editor")!;
            assert.equal(partner.inputs.roleArn, `arn:aws:iam::${ACCOUNT}:role/${KF_USER}`);
            assert.equal(partner.inputs.targetRoleArn, PARTNER_ROLE);
            const chain = inlinePolicies(run, KF_USER).find((p) => p.name === "assume-target-roles")!.document;
            assert.deepEqual(chain.Statement, [
                {
                    Sid: "Chainpartner",
                    Effect: "Allow",
                    Action: ["sts:AssumeRole", "sts:TagSession"],
                    Resource: PARTNER_ROLE,
                    Condition: {
                        StringEquals: {
                            "aws:PrincipalTag/eks-cluster-arn": clusterArn("kf-prod"),
                            "aws:PrincipalTag/kubernetes-namespace": "partner",
                            "aws:PrincipalTag/kubernetes-service-account": ["default-editor"],
                        },
                    },
                },
            ]);
            assert.ok("partner/default-editor" in (run.outputs.podIdentityExternalIds as Record<string, unknown>));
            assert.equal((run.outputs.profileRoleArns as Record<string, string>).partner, PARTNER_ROLE, "the pods end up with the partner role");
            const teamA = run.resources.find((r) => r.name === "pod-identity-team-a/default-editor")!;
            assert.equal(teamA.inputs.targetRoleArn, undefined);
        });

        it("WHEN another team's pod calls sts:AssumeRole on the partner role itself (the external id is no secret) THEN kf-user's policy denies it; the partner's own pods may", async () => {
            const policies = inlinePolicies(run, KF_USER);
            const ask = (context: Record<string, string>) => ({ action: "sts:AssumeRole", resource: PARTNER_ROLE, context });
            for (const [context, expected] of [
                [session("team-a"), "ImplicitlyDenied"],
                [session("partner", "default"), "ImplicitlyDenied"],
                [session("partner", "default-editor", "kf-staging"), "ImplicitlyDenied"],
                [session("partner"), "Allowed"],
            ] as const) {
                assert.equal(await simulated(policies, "sts:AssumeRole", PARTNER_ROLE, context), expected, `iam-simulate ${JSON.stringify(context)}`);
                assert.equal(OURS[evaluatePermissions(policies, ask(context)).decision], expected, `evaluatePermissions ${JSON.stringify(context)}`);
            }
        });

        it("WHEN an existing cluster's provider ARN tells the real account THEN a role of that account is associated directly (not judged against the placeholder)", async () => {
            const issuer = "oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";
            const own = "arn:aws:iam::111111111111:role/data-eng-pipelines";
            const values = config({
                "kubeflow-irsa:existingCluster": { oidcIssuerUrl: `https://${issuer}`, oidcProviderArn: `arn:aws:iam::111111111111:oidc-provider/${issuer}` },
                "kubeflow-irsa:profiles": [{ name: "data-eng", owner: "d@example.com", awsIamRole: own }],
            });
            // What synth and the doctor pass (evaluateStack): the account the config tells.
            assert.equal(configuredAccount(values), "111111111111");
            const adopted = await runProgram(values, "prod", configuredAccount(values));
            const a = adopted.resources.find((r) => r.name === "pod-identity-data-eng/default-editor")!;
            assert.deepEqual([a.inputs.roleArn, a.inputs.targetRoleArn], [own, undefined]);
        });

        it("WHEN the role is in the stack's own account THEN it is associated directly, with no chaining", async () => {
            const same = `arn:aws:iam::${ACCOUNT}:role/data-eng-pipelines`;
            const direct = await runProgram(config({ "kubeflow-irsa:profiles": [{ name: "data-eng", owner: "d@example.com", awsIamRole: same }] }));
            const a = direct.resources.find((r) => r.name === "pod-identity-data-eng/default-editor")!;
            assert.equal(a.inputs.roleArn, same);
            assert.equal(a.inputs.targetRoleArn, undefined);
            assert.ok(!inlinePolicies(direct, KF_USER).some((p) => p.name === "assume-target-roles"));
        });
    });

    describe("GIVEN profileBucket where it cannot isolate THEN it fails before registering anything, saying why", () => {
        const cases2: [string, Record<string, unknown>, RegExp][] = [
            ["irsa mode", { "kubeflow-irsa:identityMode": "irsa" }, /kubeflow-irsa:profileBucket: needs kubeflow-irsa:identityMode podIdentity: only EKS Pod Identity sessions carry the namespace/],
            ["no IAM", { "kubeflow-irsa:enablePodIamPolicy": "false" }, /kubeflow-irsa:profileBucket: is set while kubeflow-irsa:enablePodIamPolicy is false/],
            ["an s3:// URL", { "kubeflow-irsa:profileBucket": "s3://acme-ml-workspaces" }, /kubeflow-irsa:profileBucket: "s3:\/\/acme-ml-workspaces" is not an S3 bucket name/],
            ["an upper-case name", { "kubeflow-irsa:profileBucket": "Acme-ML" }, /is not an S3 bucket name/],
            [
                "an AWS-managed policy reaching every bucket on kf-user",
                { "kubeflow-irsa:userPolicyArns": ["arn:aws:iam::aws:policy/AmazonS3ReadOnlyAccess"] },
                /kubeflow-irsa:userPolicyArns\[0\]: "arn:aws:iam::aws:policy\/AmazonS3ReadOnlyAccess" grants S3 on every bucket to every team on kf-user, which undoes kubeflow-irsa:profileBucket's isolation/,
            ],
        ];
        for (const [what, extra, message] of cases2) {
            it(`WHEN ${what}`, async () => {
                await assert.rejects(runProgram(config(extra)), (err: Error & { registered?: string[] }) => {
                    assert.match(err.message, message);
                    assert.deepEqual(err.registered, []);
                    return true;
                });
            });
        }
    });
});
