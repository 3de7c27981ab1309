// What the program registers beyond inputs: the resource options the engine acts on (ordering,
// provider, deletion, drift) and which role each profile really gets. Removing any of these
// options from the components fails a test here.
import { strict as assert } from "assert";
import { runProgram, ROLE_TYPE, TRUST_SUBJECTS_TYPE, type ConfigValues, type ProgramRun } from "../../cli/evaluate";
import { cliValues, ofType, named } from "../support/program";

const ASSOCIATION_TYPE = "aws:eks/podIdentityAssociation:PodIdentityAssociation";
const OTHER_ACCOUNT_USER = "arn:aws:iam::999999999999:role/kf-user-us-west-2-kf-dev";
const DATA_ROLE = "arn:aws:iam::123456789012:role/data-eng-pipelines";

function config(extra: Record<string, unknown> = {}): ConfigValues {
    const values: Record<string, unknown> = {
        "aws:region": "us-west-2",
        "kubeflow-irsa:clusterName": "kf-dev",
        "kubeflow-irsa:profiles": [
            { name: "team-vision", owner: "alice@example.com" },
            { name: "data-eng", owner: "carol@example.com", awsIamRole: DATA_ROLE },
        ],
        "kubeflow-irsa:kubeflowInstalled": true,
        ...extra,
    };
    return cliValues(values);
}


describe("program resources: options and role identity", function () {
    this.timeout(60_000);

    describe("GIVEN an IRSA stack with a kf-user profile and one on an external role", () => {
        let run: ProgramRun;
        before(async () => {
            run = await runProgram(config());
        });

        it("THEN each Profile waits for the TrustSubjects of its own role and goes through the cluster's Kubernetes provider", () => {
            const k8s = named(run, "cluster-k8s");
            for (const [profile, trust] of [["profile-team-vision", "trust-kf-user-us-west-2-kf-dev"], ["profile-data-eng", "trust-123456789012-data-eng-pipelines"]]) {
                const options = named(run, profile).options;
                assert.ok(options.dependencies.includes(named(run, trust).urn), `${profile} must depend on ${trust}: the role trusts the namespace before the controller points pods at it`);
                assert.equal(options.provider, `${k8s.urn}::${k8s.name}-id`, `${profile} must use the new cluster's provider, not the ambient kubeconfig`);
            }
            assert.ok(!named(run, "profile-team-vision").options.dependencies.includes(named(run, "trust-123456789012-data-eng-pipelines").urn));
        });

        it("THEN the managed roles ignore their trust policy (TrustSubjects owns it) and every TrustSubjects removes what it wrote on delete", () => {
            for (const role of ofType(run, ROLE_TYPE)) assert.deepEqual(role.options.ignoreChanges, ["assumeRolePolicy"], role.name);
            // Retained, a TrustSubjects would leave subjects in IAM that no state owns.
            assert.equal(named(run, "trust-kf-user-us-west-2-kf-dev").options.retainOnDelete, false);
            assert.equal(named(run, "trust-kf-admin-us-west-2-kf-dev").options.retainOnDelete, false);
            assert.equal(named(run, "trust-123456789012-data-eng-pipelines").options.retainOnDelete, false, "a role this stack does not own must lose its subjects on delete");
            // back from podIdentity, a managed role's Pod Identity trust is retired; other roles' statements are not ours
            assert.deepEqual(named(run, "trust-kf-user-us-west-2-kf-dev").inputs.retiredStatements, [{ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] }]);
            assert.deepEqual(named(run, "trust-123456789012-data-eng-pipelines").inputs.retiredStatements, []);
        });
    });

    describe("GIVEN the two-phase first up of a new cluster and profile removal", () => {
        it("WHEN kubeflowInstalled is false (a new cluster's first up) THEN no Profile is registered, while roles, provider and trust subjects are", async () => {
            const run = await runProgram(config({ "kubeflow-irsa:kubeflowInstalled": "false" }));
            assert.deepEqual(ofType(run, "kubernetes:kubeflow.org/v1:Profile"), []);
            assert.deepEqual(ofType(run, TRUST_SUBJECTS_TYPE).map((t) => t.name).sort(), ["trust-123456789012-data-eng-pipelines", "trust-kf-admin-us-west-2-kf-dev", "trust-kf-user-us-west-2-kf-dev"]);
            assert.deepEqual(named(run, "trust-kf-user-us-west-2-kf-dev").inputs.subjects, ["system:serviceaccount:team-vision:default-editor"], "the namespace is trusted before Kubeflow creates it");
            assert.equal((run.outputs.profileRoleArns as Record<string, string>)["team-vision"], "arn:aws:iam::123456789012:role/kf-user-us-west-2-kf-dev");
        });

        it("WHEN a profile leaves the config THEN by default its Profile (owner of the namespace) is retained; with deleteRemovedProfiles it is deleted", async () => {
            const kept = await runProgram(config());
            for (const p of ofType(kept, "kubernetes:kubeflow.org/v1:Profile")) assert.equal(p.options.retainOnDelete, true, `${p.name}: removing a profile must not delete its namespace`);
            const deleting = await runProgram(config({ "kubeflow-irsa:deleteRemovedProfiles": "true" }));
            for (const p of ofType(deleting, "kubernetes:kubeflow.org/v1:Profile")) assert.equal(p.options.retainOnDelete, false, p.name);
        });
    });

    it("GIVEN podIdentity mode THEN each managed role's trust is its TrustSubjects' (the Pod Identity statement pinned to the cluster, the unpinned one retired), and each association waits for the agent add-on and its role's trust", async () => {
        const run = await runProgram(config({ "kubeflow-irsa:identityMode": "podIdentity" }));
        const unpinned = { Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] };
        const podIdentity = [{ ...unpinned, Condition: { StringEquals: { "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:us-west-2:123456789012:cluster/kf-dev" } } }];
        for (const role of ofType(run, ROLE_TYPE)) {
            assert.deepEqual(role.options.ignoreChanges, ["assumeRolePolicy"], `${role.name}: one owner of the trust in both modes`);
            const trust = named(run, `trust-${String(role.inputs.name)}`);
            assert.deepEqual(trust.inputs.statements, podIdentity, role.name);
            assert.deepEqual(trust.inputs.retiredStatements, [unpinned], `${role.name}: what earlier versions wrote goes in the same write`);
            assert.deepEqual([trust.inputs.subjects, trust.inputs.anchors, trust.inputs.providerArn], [[], [], ""], `${role.name}: no OIDC trust in podIdentity mode`);
            assert.equal(trust.options.retainOnDelete, false);
        }
        const agent = named(run, "cluster-pod-identity-agent");
        const associations = ofType(run, ASSOCIATION_TYPE);
        assert.ok(associations.length >= 2);
        const kfUserTrust = named(run, "trust-kf-user-us-west-2-kf-dev");
        for (const a of associations) assert.ok(a.options.dependencies.includes(agent.urn), `${a.name} must wait for the agent`);
        assert.ok(named(run, "pod-identity-team-vision/default-editor").options.dependencies.includes(kfUserTrust.urn), "a pod bound before kf-user trusts Pod Identity gets no credentials");
        // A role managed elsewhere must trust Pod Identity itself: no TrustSubjects edits it.
        assert.deepEqual(ofType(run, TRUST_SUBJECTS_TYPE).filter((t) => !String(t.inputs.role).includes(":role/kf-")).map((t) => t.name), []);
    });

    describe("GIVEN an awsIamRole with the managed kf-user's name in another account", () => {
        const profiles = [
            { name: "team-vision", owner: "alice@example.com" },
            { name: "partner", owner: "pat@example.com", awsIamRole: OTHER_ACCOUNT_USER },
        ];

        it("WHEN the stack deploys to 123456789012 THEN that ARN is used as configured: output, Profile and a TrustSubjects of its own", async () => {
            const run = await runProgram(config({ "kubeflow-irsa:profiles": profiles }));
            assert.equal((run.outputs.profileRoleArns as Record<string, string>).partner, OTHER_ACCOUNT_USER);
            const spec = named(run, "profile-partner").inputs.spec as { plugins: { spec: { awsIamRole: string } }[] };
            assert.equal(spec.plugins[0].spec.awsIamRole, OTHER_ACCOUNT_USER);
            const own = named(run, "trust-999999999999-kf-user-us-west-2-kf-dev");
            assert.equal(own.inputs.role, OTHER_ACCOUNT_USER);
            assert.deepEqual(own.inputs.subjects, ["system:serviceaccount:partner:default-editor"]);
            assert.deepEqual(own.inputs.anchors, [], "not a role this stack creates: no anchor");
            assert.deepEqual(named(run, "trust-kf-user-us-west-2-kf-dev").inputs.subjects, ["system:serviceaccount:team-vision:default-editor"]);
        });

        it("WHEN the existing cluster's OIDC provider is in 999999999999 but the credentials deploy to 123456789012 THEN it fails before registering anything, naming both", async () => {
            const issuer = "oidc.eks.us-west-2.amazonaws.com/id/0123456789ABCDEF0123456789ABCDEF";
            await assert.rejects(
                runProgram(
                    config({
                        "kubeflow-irsa:profiles": profiles,
                        "kubeflow-irsa:existingCluster": { oidcIssuerUrl: `https://${issuer}`, oidcProviderArn: `arn:aws:iam::999999999999:oidc-provider/${issuer}` },
                    }),
                ),
                (err: Error & { registered?: string[] }) => {
                    assert.match(err.message, /existingCluster\.oidcProviderArn: the provider is in account 999999999999, but the stack's AWS credentials deploy to account 123456789012; a role can only trust an OIDC provider of its own account/);
                    assert.deepEqual(err.registered, []);
                    return true;
                },
            );
        });
    });
});
