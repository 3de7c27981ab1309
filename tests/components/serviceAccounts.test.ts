// A profile's `serviceAccounts` under mocks: each is trusted (IRSA) or associated (podIdentity),
// the ones Kubeflow does not annotate are annotated by the stack, capacity counts every subject,
// and bad lists fail before anything is registered.
import { strict as assert } from "assert";
import { runProgram, TRUST_SUBJECTS_TYPE, type ConfigValues, type ProgramRun, type RecordedResource } from "../../cli/evaluate";
import { cliValues, ofType, named } from "../support/program";
import { parseStackConfig } from "../../components/config";
import { planTrust, shardsNeeded } from "../../components/placement";

const ACCOUNT = "123456789012";
const KF_USER = `arn:aws:iam::${ACCOUNT}:role/kf-user-us-west-2-kf-dev`;
const DATA_ROLE = `arn:aws:iam::${ACCOUNT}:role/data-eng-pipelines`;
const PATCH_TYPE = "kubernetes:core/v1:ServiceAccountPatch";
const ASSOCIATION_TYPE = "aws:eks/podIdentityAssociation:PodIdentityAssociation";
const sub = (ns: string, sa: string) => `system:serviceaccount:${ns}:${sa}`;

const PROFILES = [
    // Katib trials and KServe predictors run as `default`; a pipeline step as its own account.
    { name: "team-vision", owner: "alice@example.com", serviceAccounts: ["default-editor", "default", "pipeline-runner"] },
    { name: "team-nlp", owner: "bob@example.com" },
    { name: "data-eng", owner: "carol@example.com", awsIamRole: DATA_ROLE, serviceAccounts: ["default"] },
];

function config(extra: Record<string, unknown> = {}): ConfigValues {
    const values: Record<string, unknown> = {
        "aws:region": "us-west-2",
        "kubeflow-irsa:clusterName": "kf-dev",
        "kubeflow-irsa:profiles": PROFILES,
        "kubeflow-irsa:kubeflowInstalled": true,
        ...extra,
    };
    return cliValues(values);
}

const metadataOf = (r: RecordedResource) => r.inputs.metadata as { name: string; namespace: string; annotations: Record<string, string> };

describe("profile serviceAccounts", function () {
    this.timeout(60_000);

    describe("GIVEN IRSA with Kubeflow installed", () => {
        let run: ProgramRun;
        before(async () => {
            run = await runProgram(config());
        });

        it("THEN every listed account of each profile is trusted by the profile's role; default-editor when none is listed", () => {
            assert.deepEqual(named(run, "trust-kf-user-us-west-2-kf-dev").inputs.subjects, [
                sub("team-nlp", "default-editor"),
                sub("team-vision", "default"),
                sub("team-vision", "default-editor"),
                sub("team-vision", "pipeline-runner"),
            ]);
            assert.deepEqual(named(run, "trust-123456789012-data-eng-pipelines").inputs.subjects, [sub("data-eng", "default")]);
        });

        it("THEN the accounts Kubeflow does not annotate get the role-arn annotation from a server-side-apply patch, and no other field", () => {
            const patches = ofType(run, PATCH_TYPE).map(metadataOf);
            assert.deepEqual(
                patches.map((m) => `${m.namespace}/${m.name}`).sort(),
                ["data-eng/default", "team-vision/default", "team-vision/pipeline-runner"],
                "default-editor is Kubeflow's to annotate",
            );
            for (const m of patches) {
                const role = m.namespace === "data-eng" ? DATA_ROLE : KF_USER;
                assert.deepEqual(m.annotations, { "eks.amazonaws.com/role-arn": role, "pulumi.com/patchForce": "true" });
            }
        });

        it("THEN each patch goes through the cluster's provider, after the Profile (which makes the namespace) and the trust of its role", () => {
            const k8s = named(run, "cluster-k8s");
            const patch = named(run, "service-account-team-vision/pipeline-runner");
            assert.equal(patch.options.provider, `${k8s.urn}::${k8s.name}-id`);
            assert.ok(patch.options.dependencies.includes(named(run, "profile-team-vision").urn), "the namespace exists only once the Profile does");
            assert.ok(patch.options.dependencies.includes(named(run, "trust-kf-user-us-west-2-kf-dev").urn), "the role trusts the account before it is pointed at it");
            assert.equal(patch.options.retainOnDelete, false, "removing the account from config removes the annotation again");
        });

        it("THEN a profile without default-editor gets no plugin, so Kubeflow points no untrusted account at the role", () => {
            assert.deepEqual((named(run, "profile-data-eng").inputs.spec as { plugins: unknown[] }).plugins, []);
            const vision = named(run, "profile-team-vision").inputs.spec as { plugins: { spec: { awsIamRole: string } }[] };
            assert.equal(vision.plugins[0].spec.awsIamRole, KF_USER);
            assert.equal((run.outputs.profileRoleArns as Record<string, string>)["data-eng"], DATA_ROLE);
        });
    });

    it("GIVEN Kubeflow not installed yet THEN the accounts are trusted but nothing is patched (no namespace yet)", async () => {
        const run = await runProgram(config({ "kubeflow-irsa:kubeflowInstalled": "false" }));
        assert.deepEqual(ofType(run, PATCH_TYPE), []);
        assert.ok((named(run, "trust-kf-user-us-west-2-kf-dev").inputs.subjects as string[]).includes(sub("team-vision", "pipeline-runner")));
    });

    it("GIVEN podIdentity mode THEN each listed account has its own association and none is annotated", async () => {
        const run = await runProgram(config({ "kubeflow-irsa:identityMode": "podIdentity" }));
        const bound = ofType(run, ASSOCIATION_TYPE)
            .filter((a) => a.inputs.namespace !== "kubeflow" && a.inputs.namespace !== "kube-system")
            .map((a) => `${a.inputs.namespace}:${a.inputs.serviceAccount}=${String(a.inputs.roleArn).split("/").pop()}`)
            .sort();
        assert.deepEqual(bound, [
            "data-eng:default=data-eng-pipelines",
            "team-nlp:default-editor=kf-user-us-west-2-kf-dev",
            "team-vision:default-editor=kf-user-us-west-2-kf-dev",
            "team-vision:default=kf-user-us-west-2-kf-dev",
            "team-vision:pipeline-runner=kf-user-us-west-2-kf-dev",
        ]);
        assert.deepEqual(ofType(run, PATCH_TYPE), []);
        // No service account is a trust-policy subject: the associations bind them.
        assert.deepEqual(ofType(run, TRUST_SUBJECTS_TYPE).flatMap((t) => t.inputs.subjects as string[]), []);
    });

    describe("GIVEN capacity at the 2048 quota", () => {
        const raw = (profiles: unknown[], extra: Record<string, string> = {}) =>
            parseStackConfig((k) => ({ "aws:region": "us-west-2", "kubeflow-irsa:clusterName": "kf-dev", "kubeflow-irsa:kubeflowInstalled": "false", "kubeflow-irsa:profiles": JSON.stringify(profiles), ...extra })[k]);
        const many = (n: number, serviceAccounts?: string[]) =>
            Array.from({ length: n }, (_, i) => ({ name: `team-${String(i).padStart(3, "0")}`, owner: `u${i}@example.com`, ...(serviceAccounts ? { serviceAccounts } : {}) }));

        it("THEN every account counts: 20 profiles with one account fit one kf-user, with three accounts they need shards", async () => {
            assert.equal(shardsNeeded(raw(many(20)), 2048), 1);
            const three = raw(many(20, ["default-editor", "default", "ml-pipeline"]));
            const needed = shardsNeeded(three, 2048)!;
            assert.ok(needed > 1, `${needed}`);
            await assert.rejects(runProgram(config({ "kubeflow-irsa:profiles": many(20, ["default-editor", "default", "ml-pipeline"]) })), new RegExp(`with 61 subjects, over kubeflow-irsa:trustPolicyMaxChars \\(2048\\); set kubeflow-irsa:userRoleShards to ${needed}`));
            // At that count, every shard's measured policy fits: the accounts of a profile stay on its shard.
            const run = await runProgram(config({ "kubeflow-irsa:profiles": many(20, ["default-editor", "default", "ml-pipeline"]), "kubeflow-irsa:userRoleShards": String(needed) }));
            const plan = planTrust(three, needed);
            for (const g of plan.groups.filter((g) => g.roleName.startsWith("kf-user"))) {
                const namespaces = new Set(g.subjects.map((s) => s.split(":")[2]));
                for (const ns of namespaces) assert.equal(g.subjects.filter((s) => s.split(":")[2] === ns).length, 3, `${ns} split over shards`);
            }
            assert.equal(ofType(run, TRUST_SUBJECTS_TYPE).filter((t) => String(t.name).startsWith("trust-kf-user")).length, needed);
        });
    });

    describe("GIVEN bad serviceAccounts THEN it fails before registering anything, naming the field and the fix", () => {
        const withAccounts = (serviceAccounts: unknown) => config({ "kubeflow-irsa:profiles": [{ name: "team-vision", owner: "alice@example.com", serviceAccounts }] });
        const cases: [string, unknown, RegExp][] = [
            ["an invalid name", ["Default_SA"], /profiles\[0\]\.serviceAccounts\[0\]: "Default_SA" is not a valid Kubernetes service-account name.*; give the name only/],
            ["a namespace:name reference", ["team-vision:default"], /profiles\[0\]\.serviceAccounts\[0\]: "team-vision:default" is not a valid Kubernetes service-account name/],
            ["a repeated account", ["default", "default-editor", "default"], /profiles\[0\]\.serviceAccounts\[2\]: "default" repeats profiles\[0\]\.serviceAccounts\[0\]; remove one/],
            ["an empty list", [], /profiles\[0\]\.serviceAccounts: is empty, so no pod of the profile would get its role/],
            ["a string instead of a list", "default", /profiles\[0\]\.serviceAccounts: "default" is not a list of service-account names/],
        ];
        for (const [what, value, message] of cases) {
            it(`WHEN ${what}`, async () => {
                await assert.rejects(runProgram(withAccounts(value)), (err: Error & { registered?: string[] }) => {
                    assert.match(err.message, message);
                    assert.deepEqual(err.registered, []);
                    return true;
                });
            });
        }

        it("WHEN a profile account is also kf-admin's in podIdentity mode THEN the one-association rule names both", async () => {
            await assert.rejects(
                runProgram(config({ "kubeflow-irsa:identityMode": "podIdentity", "kubeflow-irsa:adminServiceAccounts": ["kubeflow:kf-admin", "team-vision:pipeline-runner"] })),
                /adminServiceAccounts\[1\]: "team-vision:pipeline-runner" is also a service account of profile "team-vision", and a service account has one Pod Identity association/,
            );
        });
    });
});
