// Anchors no pod can hold: a stack deployed with kfctl's anchors (`kubeflow:kf-user`,
// `kubeflow:kf-admin`, live grants to any pod running as those accounts) moves to
// `kubeflow-irsa.invalid:<role>` in one write per role on its next `up`, through the provider
// the host loads, against a local IAM. Judged by the trust evaluator.
import { strict as assert } from "assert";
import { cliValues } from "../support/program";
import { localIamForSuite } from "../support/host";
import { StackLifecycle } from "../support/stackLifecycle";
import { evaluateTrustPolicy } from "../../providers/trustEvaluation";

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
});
