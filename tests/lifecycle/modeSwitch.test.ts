// Mode switches as a user runs them: whole `pulumi up`s of the program (under mocks) whose roles
// live in a local IAM and whose TrustSubjects run through the provider the host loads. Every
// order of irsa and podIdentity over four `up`s; after each, every managed role trusts exactly
// what the current mode needs, judged by the trust evaluator (IRSA) and by the Pod Identity
// statement's meaning (service principal, both actions, only this cluster's sessions), nothing of the other mode,
// and nothing that the stack's state does not own.
import { strict as assert } from "assert";
import { cliValues } from "../support/program";
import { localIamForSuite } from "../support/host";
import { StackLifecycle } from "../support/stackLifecycle";
import { evaluateTrustPolicy } from "../../analysis/trustEvaluation";

type Mode = "irsa" | "podIdentity";

const ADMIN = "kf-admin-us-west-2-kf-dev";
const USER = "kf-user-us-west-2-kf-dev";
const sub = (ns: string, sa = "default-editor") => `system:serviceaccount:${ns}:${sa}`;
/** Who must be able to assume each managed role (IRSA), and who must not. */
const MEMBERS: Record<string, string[]> = {
    [USER]: [sub("team-a"), sub("team-b")],
    [ADMIN]: [sub("kube-system", "aws-load-balancer-controller"), sub("kubeflow", "fluentd")],
};
const OUTSIDERS = [sub("kubeflow", "kf-user"), sub("kubeflow", "kf-admin"), sub("team-c"), sub("kubeflow-irsa", "kf-user")];

const config = (mode: Mode) =>
    cliValues({
        "aws:region": "us-west-2",
        "kubeflow-irsa:clusterName": "kf-dev",
        "kubeflow-irsa:kubeflowInstalled": "true",
        "kubeflow-irsa:identityMode": mode,
        "kubeflow-irsa:profiles": [
            { name: "team-a", owner: "a@example.com" },
            { name: "team-b", owner: "b@example.com" },
        ],
    });

type Statement = Record<string, any>;
const list = (v: unknown): unknown[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

const CLUSTER_ARN = "arn:aws:eks:us-west-2:123456789012:cluster/kf-dev";

/** A statement that lets EKS Pod Identity assume the role and tag the session, for every association of this cluster only. */
function grantsPodIdentity(s: Statement): boolean {
    const principal = s.Principal as Record<string, unknown> | undefined;
    const actions = list(s.Action);
    return (
        s.Effect === "Allow" &&
        typeof principal === "object" &&
        list(principal.Service).includes("pods.eks.amazonaws.com") &&
        actions.includes("sts:AssumeRole") &&
        actions.includes("sts:TagSession") &&
        JSON.stringify(s.Condition) === JSON.stringify({ StringEquals: { "aws:RequestTag/eks-cluster-arn": CLUSTER_ARN } })
    );
}

/** A Pod Identity statement any cluster of the account could use (what earlier versions wrote). */
function unpinnedPodIdentity(s: Statement): boolean {
    return list((s.Principal as Record<string, unknown> | undefined)?.Service).includes("pods.eks.amazonaws.com") && s.Condition === undefined;
}

/** Every `sub` value a web-identity statement names, by federated provider. */
function webIdentitySubjects(statements: Statement[]): { provider: string; subject: string }[] {
    return statements.flatMap((s) =>
        list(s.Principal?.Federated).flatMap((provider) =>
            Object.values((s.Condition ?? {}) as Record<string, Record<string, unknown>>).flatMap((op) =>
                Object.entries(op)
                    .filter(([key]) => key.endsWith(":sub"))
                    .flatMap(([, values]) => list(values).map((subject) => ({ provider: String(provider), subject: String(subject) }))),
            ),
        ),
    );
}

describe("mode switches, every order over four ups (program + host-loaded provider + local IAM)", function () {
    this.timeout(120_000);
    const local = localIamForSuite();

    const orders: Mode[][] = [];
    for (let bits = 0; bits < 16; bits++) orders.push([0, 1, 2, 3].map((i) => ((bits >> i) & 1 ? "podIdentity" : "irsa")));

    for (const order of orders) {
        // The two alternating orders run through Pulumi's own host process (gRPC); the others in-process, for time.
        const host = order.every((mode, i) => i === 0 || mode !== order[i - 1]) ? "real" : "in-process";
        it(`GIVEN ${order.join(" → ")}${host === "real" ? " (through Pulumi's host)" : ""} THEN after each up kf-admin and kf-user trust exactly the mode's subjects, all owned, in at most one write per role`, async () => {
            for (const role of [ADMIN, USER]) local().removeRole(role);
            const stack = new StackLifecycle(local(), host);
            let previous: Mode | undefined;
            for (const [step, mode] of order.entries()) {
                const { run, ops, writes } = await stack.up(config(mode));
                const context = `up ${step + 1} (${previous ?? "new"} → ${mode})`;
                for (const [role, n] of Object.entries(writes)) assert.ok(n <= 1, `${context}: ${n} writes on ${role}`);
                const provider = run.outputs.oidcProviderArn as string | undefined;
                for (const role of [ADMIN, USER]) {
                    const statements = stack.document(role).Statement;
                    const state = stack.trust.get(`trust-${role}`)?.state.outs;
                    assert.ok(state, `${context}: ${role} has a TrustSubjects in state (${JSON.stringify(ops)})`);
                    const owned = new Set<string>([...(state.subjects ?? []), ...(state.anchors ?? [])]);
                    for (const { provider: p, subject } of webIdentitySubjects(statements)) {
                        assert.ok(p === state.providerArn && owned.has(subject), `${context}: ${role} trusts ${subject} of ${p}, which no state owns`);
                    }
                    if (mode === "irsa") {
                        assert.ok(provider, `${context}: an OIDC provider`);
                        for (const member of MEMBERS[role]) {
                            const verdict = evaluateTrustPolicy({ Statement: statements } as never, { providerArn: provider, sub: member, aud: "sts.amazonaws.com" });
                            assert.ok(verdict.allowed, `${context}: ${member} must assume ${role}: ${JSON.stringify(verdict.statements.map((s) => s.reasons))}`);
                        }
                        assert.ok(!statements.some(grantsPodIdentity), `${context}: ${role} still trusts Pod Identity`);
                    } else {
                        assert.ok(statements.some(grantsPodIdentity), `${context}: ${role} does not trust Pod Identity: ${JSON.stringify(statements)}`);
                        assert.ok(!statements.some(unpinnedPodIdentity), `${context}: ${role} trusts Pod Identity of every cluster: ${JSON.stringify(statements)}`);
                        assert.deepEqual(webIdentitySubjects(statements), [], `${context}: ${role} still trusts OIDC subjects`);
                    }
                    for (const outsider of OUTSIDERS) {
                        for (const p of provider ? [provider] : []) {
                            assert.ok(!evaluateTrustPolicy({ Statement: statements } as never, { providerArn: p, sub: outsider, aud: "sts.amazonaws.com" }).allowed, `${context}: ${outsider} must not assume ${role}`);
                        }
                    }
                }
                previous = mode;
            }
        });
    }
});
