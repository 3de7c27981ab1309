// Anchors no pod can hold: a stack deployed with kfctl's anchors (`kubeflow:kf-user`,
// `kubeflow:kf-admin`, live grants to any pod running as those accounts) moves to
// `kubeflow-irsa.invalid:<role>` in one write per role on its next `up`; and the anchor statement a
// role is created with never outlives its cluster. Through the provider the host loads, against a
// local IAM. Judged by the trust evaluator.
import { strict as assert } from "assert";
import { cliValues } from "../support/program";
import { localIamForSuite } from "../support/host";
import { StackLifecycle } from "../support/stackLifecycle";
import { evaluateTrustPolicy } from "../../analysis/trustEvaluation";
import { ACCOUNT } from "../support/fixtures";

const ADMIN = "kf-admin-us-west-2-kf-dev";
const USER = "kf-user-us-west-2-kf-dev";
const sub = (ns: string, sa = "default-editor") => `system:serviceaccount:${ns}:${sa}`;
const OLD_ANCHOR: Record<string, string> = { [USER]: sub("kubeflow", "kf-user"), [ADMIN]: sub("kubeflow", "kf-admin") };
const NEW_ANCHOR: Record<string, string> = { [USER]: "system:serviceaccount:kubeflow-irsa.invalid:kf-user", [ADMIN]: "system:serviceaccount:kubeflow-irsa.invalid:kf-admin" };
const MEMBERS: Record<string, string[]> = { [USER]: [sub("team-a")], [ADMIN]: [sub("kube-system", "aws-load-balancer-controller"), sub("kubeflow", "fluentd")] };

const config = cliValues({
    "aws:region": "us-west-2",
    "kubeflow-irsa:clusterName": "kf-dev",
    "kubeflow-irsa:kubeflowInstalled": "true",
    "kubeflow-irsa:profiles": [{ name: "team-a", owner: "a@example.com" }],
});

describe("anchors (program + host-loaded provider + local IAM)", function () {
    this.timeout(60_000);
    const local = localIamForSuite();

    it("GIVEN roles deployed with kfctl's anchors kubeflow:kf-user / kubeflow:kf-admin WHEN today's program runs `up` THEN each role moves to an anchor no pod can hold in one write, and a pod running as the old anchor can no longer assume it", async () => {
        const stack = new StackLifecycle(local(), "real");
        const first = await stack.up(config);
        const provider = first.run.outputs.oidcProviderArn as string;
        const issuer = provider.split(":oidc-provider/")[1];
        // What an earlier version left: the role's statement and the resource's state both name the old anchor.
        for (const role of [ADMIN, USER]) {
            local().putRole(role, {
                Version: "2012-10-17",
                Statement: [
                    {
                        Effect: "Allow",
                        Principal: { Federated: provider },
                        Action: "sts:AssumeRoleWithWebIdentity",
                        Condition: { StringEquals: { [`${issuer}:aud`]: "sts.amazonaws.com", [`${issuer}:sub`]: [OLD_ANCHOR[role], ...MEMBERS[role]] } },
                    },
                ],
            });
            const held = stack.trust.get(`trust-${role}`)!;
            held.state = { ...held.state, outs: { ...held.state.outs, anchors: [OLD_ANCHOR[role]] } };
            const before = evaluateTrustPolicy(local().trustPolicy(role), { providerArn: provider, sub: OLD_ANCHOR[role], aud: "sts.amazonaws.com" });
            assert.ok(before.allowed, "the fixture grants the old anchor");
        }

        const { writes, ops } = await stack.up(config);
        for (const role of [ADMIN, USER]) {
            assert.equal(ops[`trust-${role}`], "update", role);
            assert.equal(writes[role], 1, `${role}: one write migrates the anchor`);
            const document = local().trustPolicy(role);
            const judge = (subject: string) => evaluateTrustPolicy(document, { providerArn: provider, sub: subject, aud: "sts.amazonaws.com" }).allowed;
            assert.equal(judge(OLD_ANCHOR[role]), false, `${role}: a pod running as ${OLD_ANCHOR[role]} must not assume it`);
            for (const member of MEMBERS[role]) assert.ok(judge(member), `${role}: ${member} keeps its trust`);
            const subs = document.Statement.flatMap((s: any) => s.Condition?.StringEquals?.[`${issuer}:sub`] ?? []);
            assert.ok(subs.includes(NEW_ANCHOR[role]), `${role}: the statement keeps its anchor: ${JSON.stringify(subs)}`);
            assert.deepEqual(stack.trust.get(`trust-${role}`)!.state.outs.anchors, [NEW_ANCHOR[role]]);
        }
        // Settled: the next up writes nothing.
        const again = await stack.up(config);
        assert.deepEqual(again.writes, {});
    });

    it("GIVEN kf-user's TrustSubjects failed before its first write WHEN the cluster is then replaced THEN its one write moves the role to the new provider and removes the statement the role was created with under the old one, and nothing the stack did not write", async () => {
        const iam = local();
        for (const name of iam.roleNames()) iam.removeRole(name);
        const clusterAt = (id: string) => {
            const issuer = `oidc.eks.us-west-2.amazonaws.com/id/${id}`;
            return { issuer, provider: `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer}`, config: { ...config, "kubeflow-irsa:existingCluster": JSON.stringify({ oidcIssuerUrl: `https://${issuer}`, oidcProviderArn: `arn:aws:iam::${ACCOUNT}:oidc-provider/${issuer}` }) } };
        };
        const [old, replacement] = [clusterAt("0A1B2C3D4E5F60718293A4B5C6D7E8F9"), clusterAt("F9E8D7C6B5A4938271605F4E3D2C1B0A")];
        const stack = new StackLifecycle(iam, "real");
        // The first up: kf-user is created with its anchor statement under the old provider; its
        // TrustSubjects is refused its write (a denied iam:UpdateAssumeRolePolicy), so no state owns that statement.
        iam.failNext("UpdateAssumeRolePolicy", { kind: "error", code: "AccessDenied", status: 403, message: `User: arn:aws:sts::${ACCOUNT}:assumed-role/deployer/ci is not authorized to perform: iam:UpdateAssumeRolePolicy on resource: role ${USER}` }, 1, USER);
        await assert.rejects(stack.up(old.config), /not authorized to perform: iam:UpdateAssumeRolePolicy/);
        assert.ok(!stack.trust.has(`trust-${USER}`), "the failed create left no state");
        const created = local().trustPolicy(USER).Statement;
        assert.deepEqual(JSON.stringify(created).match(/oidc-provider\/[^"]+/g), [`oidc-provider/${old.issuer}`], "the role holds its first statement, under the old provider");
        // Someone else's statement under the old provider: not the stack's, it stays.
        const theirs = { Sid: "Backup", Effect: "Allow", Principal: { Federated: old.provider }, Action: "sts:AssumeRoleWithWebIdentity", Condition: { StringEquals: { [`${old.issuer}:sub`]: sub("velero", "velero") } } };
        iam.putRole(USER, { Version: "2012-10-17", Statement: [...(Array.isArray(created) ? created : [created]), theirs] });

        const { writes, ops } = await stack.up(replacement.config);
        assert.equal(ops[`trust-${USER}`], "create");
        assert.equal(writes[USER], 1, "one write on kf-user");
        const document = local().trustPolicy(USER);
        const underOld = (role: string) => stack.document(role).Statement.filter((s) => JSON.stringify(s).includes(old.issuer));
        assert.deepEqual(underOld(USER), [theirs], "of the old provider, only what the stack did not write is left");
        assert.deepEqual(underOld(ADMIN), [], "kf-admin moved too (its state named the old provider)");
        const judge = (providerArn: string, subject: string) => evaluateTrustPolicy(document, { providerArn, sub: subject, aud: "sts.amazonaws.com" }).allowed;
        assert.ok(judge(replacement.provider, sub("team-a")), "team-a on the new cluster");
        assert.ok(judge(old.provider, sub("velero", "velero")), "their subject keeps its trust");
        const subs = document.Statement.flatMap((s: any) => s.Condition?.StringEquals?.[`${replacement.issuer}:sub`] ?? []);
        assert.ok(subs.includes(NEW_ANCHOR[USER]), `the anchor moved to the new provider: ${JSON.stringify(subs)}`);
        const again = await stack.up(replacement.config);
        assert.deepEqual(again.writes, {}, "settled");
    });
});
