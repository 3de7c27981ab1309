// The control plane under mocks: which service accounts kf-admin (or each component's own role)
// trusts, which policy each role carries, and the controllerRoleArns output, per albController,
// enableFsx, adminRoleMode and identityMode.
import { strict as assert } from "assert";
import { controlPlaneWarnings, defaultAdminServiceAccounts } from "../../components/controllers";
import { runProgram, ROLE_TYPE, TRUST_SUBJECTS_TYPE, type ConfigValues, type ProgramRun } from "../../cli/evaluate";
import { cliValues, ofType, named } from "../support/program";

const ACCOUNT = "123456789012";
const ROLE_POLICY_TYPE = "aws:iam/rolePolicy:RolePolicy";
const ASSOCIATION_TYPE = "aws:eks/podIdentityAssociation:PodIdentityAssociation";
const arn = (name: string) => `arn:aws:iam::${ACCOUNT}:role/${name}`;
const sub = (ref: string) => `system:serviceaccount:${ref}`;

const ADMIN = "kf-admin-us-west-2-kf-prod";
const LBC = "kf-lbc-us-west-2-kf-prod";
const LOGS = "kf-logs-us-west-2-kf-prod";
const FSX = "kf-fsx-us-west-2-kf-prod";
const LBC_SA = "kube-system:aws-load-balancer-controller";
const FSX_SA = "kube-system:fsx-csi-controller-sa";

function config(extra: Record<string, unknown> = {}): ConfigValues {
    const values: Record<string, unknown> = {
        "aws:region": "us-west-2",
        "kubeflow-irsa:clusterName": "kf-prod",
        "kubeflow-irsa:kubeflowInstalled": "false",
        "kubeflow-irsa:profiles": [{ name: "team-vision", owner: "alice@example.com" }],
        ...extra,
    };
    return cliValues(values);
}

/** Role name → the names of its inline policies, read off each RolePolicy's role input. */
function policiesByRole(run: ProgramRun): Record<string, string[]> {
    const byRole: Record<string, string[]> = {};
    for (const p of ofType(run, ROLE_POLICY_TYPE)) (byRole[String(p.inputs.role)] ??= []).push(String(p.inputs.name));
    for (const names of Object.values(byRole)) names.sort();
    return byRole;
}
/** Everything a role's trust will hold: its anchors and owned subjects. */
const trusted = (run: ProgramRun, role: string) => {
    const t = named(run, `trust-${role}`).inputs as { anchors: string[]; subjects: string[] };
    return [...t.anchors, ...t.subjects].sort();
};

describe("control plane: load balancer controller, components and their roles", function () {
    this.timeout(60_000);

    it("GIVEN the defaults (albController v2, shared) THEN kf-admin trusts only AWS callers and carries the v2 and CloudWatch policies", async () => {
        const run = await runProgram(config());
        assert.deepEqual(trusted(run, ADMIN), [sub(LBC_SA), "system:serviceaccount:kubeflow-irsa.invalid:kf-admin", sub("kubeflow:fluentd")]);
        assert.ok(!trusted(run, ADMIN).includes(sub("kubeflow:kf-admin")), "kfctl's anchor is not a grant: a pod running as kubeflow:kf-admin gets nothing");
        assert.deepEqual(policiesByRole(run), { [ADMIN]: ["aws-load-balancer-controller", "cloudwatch-logs"] });
        assert.deepEqual(run.outputs.controllerRoleArns, { loadBalancerController: arn(ADMIN), logShipper: arn(ADMIN) });
        assert.ok(!trusted(run, ADMIN).includes(sub("kubeflow:profiles-controller-service-account")), "annotateOnly: the profile controller makes no AWS call");
    });

    it("GIVEN albController v1 THEN kf-admin trusts Kubeflow 1.1's alb-ingress-controller and carries its policy instead", async () => {
        const run = await runProgram(config({ "kubeflow-irsa:albController": "v1" }));
        assert.deepEqual(trusted(run, ADMIN), ["system:serviceaccount:kubeflow-irsa.invalid:kf-admin", sub("kubeflow:alb-ingress-controller"), sub("kubeflow:fluentd")]);
        assert.deepEqual(policiesByRole(run), { [ADMIN]: ["alb-ingress", "cloudwatch-logs"] });
    });

    it("GIVEN enableFsx THEN the FSx CSI controller is trusted and kf-admin gets its policy; without it, neither", async () => {
        const on = await runProgram(config({ "kubeflow-irsa:enableFsx": "true" }));
        assert.ok(trusted(on, ADMIN).includes(sub(FSX_SA)));
        assert.deepEqual(policiesByRole(on)[ADMIN], ["aws-load-balancer-controller", "cloudwatch-logs", "fsx-lustre-csi"]);
        assert.equal((on.outputs.controllerRoleArns as Record<string, string>).fsxCsiDriver, arn(ADMIN));
        const off = await runProgram(config());
        assert.ok(!trusted(off, ADMIN).includes(sub(FSX_SA)));
    });

    it("GIVEN adminServiceAccounts set explicitly THEN exactly those are trusted, whatever the defaults would be", async () => {
        const run = await runProgram(config({ "kubeflow-irsa:enableFsx": "true", "kubeflow-irsa:adminServiceAccounts": ["kubeflow:kf-admin", LBC_SA, "kubeflow:profiles-controller-service-account"] }));
        assert.deepEqual(trusted(run, ADMIN), [sub(LBC_SA), "system:serviceaccount:kubeflow-irsa.invalid:kf-admin", sub("kubeflow:kf-admin"), sub("kubeflow:profiles-controller-service-account")]);
    });

    describe("GIVEN adminRoleMode perController with FSx", () => {
        let run: ProgramRun;
        before(async () => {
            run = await runProgram(config({ "kubeflow-irsa:adminRoleMode": "perController", "kubeflow-irsa:enableFsx": "true", "kubeflow-irsa:kubeflowInstalled": "true" }));
        });

        it("THEN each component has its own role with only its own policy, and kf-admin has none", () => {
            assert.deepEqual(ofType(run, ROLE_TYPE).map((r) => r.inputs.name).sort(), [ADMIN, FSX, LBC, LOGS, "kf-user-us-west-2-kf-prod"].sort());
            assert.deepEqual(policiesByRole(run), { [LBC]: ["aws-load-balancer-controller"], [LOGS]: ["cloudwatch-logs"], [FSX]: ["fsx-lustre-csi"] });
            for (const p of ofType(run, ROLE_POLICY_TYPE)) {
                assert.equal(p.options.parent, named(run, String(p.inputs.role)).urn, `${p.name} is a child of its own role`);
            }
        });

        it("THEN each role is trusted only by its own service accounts, kept by a TrustSubjects of its own", () => {
            assert.deepEqual(trusted(run, LBC), [sub(LBC_SA)]);
            assert.deepEqual(trusted(run, LOGS), [sub("kubeflow:fluentd")]);
            assert.deepEqual(trusted(run, FSX), [sub(FSX_SA)]);
            assert.deepEqual(trusted(run, ADMIN), ["system:serviceaccount:kubeflow-irsa.invalid:kf-admin"]);
            // The initial trust names the anchor the TrustSubjects keeps; the subjects are its own.
            const initial = String(named(run, LBC).inputs.assumeRolePolicy);
            assert.ok(initial.includes(sub(LBC_SA)) && !initial.includes("fluentd"), initial);
            assert.equal(named(run, `trust-${LBC}`).options.retainOnDelete, false, "the role's one trust owner: its delete removes what it wrote");
            assert.deepEqual(named(run, LBC).options.ignoreChanges, ["assumeRolePolicy"]);
            assert.equal(ofType(run, TRUST_SUBJECTS_TYPE).length, 5);
        });

        it("THEN controllerRoleArns names each component's own role", () => {
            assert.deepEqual(run.outputs.controllerRoleArns, { loadBalancerController: arn(LBC), logShipper: arn(LOGS), fsxCsiDriver: arn(FSX) });
            assert.equal(run.outputs.kfAdminRoleArn, arn(ADMIN));
        });
    });

    it("GIVEN perController with the longest cluster name kf-admin allows THEN every component's name fits IAM's 64 characters", async () => {
        const cluster = "c".repeat(64 - "kf-admin-us-west-2-".length);
        const run = await runProgram(config({ "kubeflow-irsa:clusterName": cluster, "kubeflow-irsa:adminRoleMode": "perController", "kubeflow-irsa:enableFsx": "true" }));
        const names = ofType(run, ROLE_TYPE).map((r) => String(r.inputs.name));
        assert.equal(names.length, 5);
        assert.ok(names.every((n) => n.length <= 64), names.join(", "));
        await assert.rejects(runProgram(config({ "kubeflow-irsa:clusterName": `${cluster}c`, "kubeflow-irsa:adminRoleMode": "perController" })), /clusterName: .* over IAM's limit of 64/);
    });

    it("GIVEN perController in podIdentity mode THEN each component's account is associated with its own role", async () => {
        const run = await runProgram(config({ "kubeflow-irsa:adminRoleMode": "perController", "kubeflow-irsa:identityMode": "podIdentity" }));
        const bound = Object.fromEntries(ofType(run, ASSOCIATION_TYPE).map((a) => [`${a.inputs.namespace}:${a.inputs.serviceAccount}`, a.inputs.roleArn]));
        assert.deepEqual(bound, {
            [LBC_SA]: arn(LBC),
            "kubeflow:fluentd": arn(LOGS),
            "team-vision:default-editor": arn("kf-user-us-west-2-kf-prod"),
        });
        // kfctl's kubeflow:kf-admin is only an IRSA anchor: associated, any pod running as it would get kf-admin.
        const podTrust = String(named(run, LBC).inputs.assumeRolePolicy);
        assert.ok(podTrust.includes("pods.eks.amazonaws.com"), podTrust);
    });

    it("GIVEN a hand-written adminServiceAccounts list THEN a component left untrusted, or the other controller's account, is warned about; the defaults never are", () => {
        const base = { albController: "v2" as const, enableFsx: true, adminRoleMode: "shared" as const };
        for (const albController of ["v2", "v1"] as const) {
            for (const adminRoleMode of ["shared", "perController"] as const) {
                for (const identityMode of ["irsa", "podIdentity"] as const) {
                    const selection = { ...base, albController, adminRoleMode, identityMode };
                    assert.deepEqual(controlPlaneWarnings({ ...selection, adminServiceAccounts: defaultAdminServiceAccounts(selection) }), [], `${albController} ${adminRoleMode} ${identityMode}`);
                }
            }
        }
        // A list written for v1, kept after the switch to v2.
        const stale = controlPlaneWarnings({ ...base, enableFsx: false, adminServiceAccounts: ["kubeflow:kf-admin", "kubeflow:alb-ingress-controller", "kubeflow:fluentd"] });
        assert.equal(stale.length, 3);
        assert.match(stale.shift()!, /adminServiceAccounts binds kubeflow:kf-admin, kfctl's anchor: any pod running as it gets kf-admin's control-plane rights; remove it unless a workload of yours runs as it/);
        assert.match(stale[0], /kf-admin carries the AWS Load Balancer Controller's policy \(aws-load-balancer-controller\) but kubeflow-irsa:adminServiceAccounts trusts none of its service accounts \(kube-system:aws-load-balancer-controller\)/);
        assert.match(stale[1], /trusts kubeflow:alb-ingress-controller, the alb-ingress-controller's account, while albController is v2/);
    });

    describe("GIVEN bad control-plane config THEN it fails before registering anything, naming key, value and fix", () => {
        const cases: [string, Record<string, unknown>, RegExp][] = [
            ["an unknown albController", { "kubeflow-irsa:albController": "v3" }, /kubeflow-irsa:albController: "v3" is not supported; use one of "v2", "v1"/],
            ["an unknown adminRoleMode", { "kubeflow-irsa:adminRoleMode": "per-controller" }, /kubeflow-irsa:adminRoleMode: "per-controller" is not supported; use one of "shared", "perController"/],
            [
                "a component's account on kf-admin in perController mode",
                { "kubeflow-irsa:adminRoleMode": "perController", "kubeflow-irsa:adminServiceAccounts": ["kubeflow:kf-admin", "kubeflow:fluentd"] },
                /adminServiceAccounts\[1\]: "kubeflow:fluentd" is the fluentd log shipper's service account, which kubeflow-irsa:adminRoleMode perController trusts on its own role; remove it from adminServiceAccounts/,
            ],
            [
                "a profile listing a component's account in perController podIdentity mode",
                {
                    "kubeflow-irsa:adminRoleMode": "perController",
                    "kubeflow-irsa:identityMode": "podIdentity",
                    "kubeflow-irsa:profiles": [{ name: "kubeflow", owner: "ops@example.com", serviceAccounts: ["default-editor", "fluentd"] }],
                },
                /kubeflow-irsa:profiles: profile "kubeflow" lists "fluentd", which is the fluentd log shipper's service account, bound to its own role in perController mode, and a service account has one Pod Identity association/,
            ],
            [
                "a profile whose awsIamRole is a component's own role",
                { "kubeflow-irsa:adminRoleMode": "perController", "kubeflow-irsa:profiles": [{ name: "team-vision", owner: "alice@example.com", awsIamRole: `arn:aws:iam::${ACCOUNT}:role/KF-LBC-us-west-2-kf-prod` }] },
                /kubeflow-irsa:profiles\[0\]\.awsIamRole: ".*KF-LBC-us-west-2-kf-prod" is the AWS Load Balancer Controller's own role \(adminRoleMode perController\), which only its service accounts may assume/,
            ],
            ["a misspelt key", { "kubeflow-irsa:albControler": "v2" }, /kubeflow-irsa:albControler: is not a key of this project; did you mean `kubeflow-irsa:albController`\?/],
        ];
        for (const [what, extra, message] of cases) {
            it(`WHEN ${what}`, async () => {
                await assert.rejects(runProgram(config(extra)), (err: Error & { registered?: string[] }) => {
                    assert.match(err.message, message);
                    assert.deepEqual(err.registered, []);
                    return true;
                });
            });
        }
    });

    describe("GIVEN logShipperServiceAccounts (which account ships logs)", () => {
        const FLUENT_BIT = "amazon-cloudwatch:fluent-bit";
        it("WHEN it is not set THEN kfctl's kubeflow:fluentd keeps the logs policy, as before the key existed (an upgrade drops no trusted account)", async () => {
            const run = await runProgram(config({ "kubeflow-irsa:adminRoleMode": "perController" }));
            assert.deepEqual(trusted(run, LOGS), [sub("kubeflow:fluentd")]);
        });

        it("WHEN it names Container Insights' Fluent Bit THEN that account gets the cloudwatch-logs role in each mode, and kubeflow:fluentd no longer does", async () => {
            const shared = await runProgram(config({ "kubeflow-irsa:logShipperServiceAccounts": [FLUENT_BIT] }));
            assert.deepEqual(trusted(shared, ADMIN), [sub(FLUENT_BIT), sub(LBC_SA), "system:serviceaccount:kubeflow-irsa.invalid:kf-admin"]);
            const own = await runProgram(config({ "kubeflow-irsa:logShipperServiceAccounts": [FLUENT_BIT], "kubeflow-irsa:adminRoleMode": "perController" }));
            assert.deepEqual(trusted(own, LOGS), [sub(FLUENT_BIT)]);
            assert.deepEqual(policiesByRole(own)[LOGS], ["cloudwatch-logs"]);
            const pods = await runProgram(config({ "kubeflow-irsa:logShipperServiceAccounts": [FLUENT_BIT, "kubeflow:fluentd"], "kubeflow-irsa:identityMode": "podIdentity" }));
            const bound = Object.fromEntries(ofType(pods, ASSOCIATION_TYPE).map((a) => [`${a.inputs.namespace}:${a.inputs.serviceAccount}`, a.inputs.roleArn]));
            assert.equal(bound[FLUENT_BIT], arn(ADMIN));
            assert.equal(bound["kubeflow:fluentd"], arn(ADMIN), "both while migrating");
        });

        it("WHEN it is empty or not namespace:name THEN the program stops before registering anything, naming the key", async () => {
            for (const [value, message] of [
                [[], /kubeflow-irsa:logShipperServiceAccounts: is empty; list at least one service account, e.g. \["amazon-cloudwatch:fluent-bit"\]/],
                [["fluent-bit"], /kubeflow-irsa:logShipperServiceAccounts\[0\]: "fluent-bit" is not "namespace:name"; write each as "namespace:service-account", e.g. "amazon-cloudwatch:fluent-bit"/],
            ] as const) {
                await assert.rejects(runProgram(config({ "kubeflow-irsa:logShipperServiceAccounts": value })), (err: Error & { registered?: string[] }) => {
                    assert.match(err.message, message);
                    assert.deepEqual(err.registered, []);
                    return true;
                });
            }
        });
    });
});
