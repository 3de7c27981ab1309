// Whole-document changes: a role this stack creates keeps nothing of the statement it was created
// with once its cluster is replaced — also when its TrustSubjects never wrote under the old
// provider — and nothing that differs from that statement is taken for it.
import { strict as assert } from "assert";
import { createChanges, updateChanges, type TrustSubjectsInputs, type TrustSubjectsOutputs } from "../../providers/ownership";
import { applyTrustChanges, initialStatementsIn } from "../../domain/trustChanges";
import type { PolicyDocument, PolicyStatement } from "../../domain/trustPolicy";
import { DEV, DEV_ISSUER, PROD, PROD_ISSUER, sa, STS, WEB } from "../support/fixtures";

const ANCHOR = "system:serviceaccount:kubeflow-irsa.invalid:kf-user";
const ROLE = "arn:aws:iam::123456789012:role/kf-user-us-west-2-kf-dev";

/** The statement components/roles.ts creates a role with, written out by hand. */
const created = (provider: string, issuer: string): PolicyStatement => ({
    Effect: "Allow",
    Principal: { Federated: provider },
    Action: WEB,
    Condition: { StringEquals: { [`${issuer}:aud`]: STS, [`${issuer}:sub`]: [ANCHOR] } },
});
const doc = (...statements: PolicyStatement[]): PolicyDocument => ({ Version: "2012-10-17", Statement: statements });

const inputs = (providerArn: string, extra: Partial<TrustSubjectsInputs> = {}): TrustSubjectsInputs => ({
    role: ROLE,
    providerArn,
    subjects: [sa("team-a")],
    maxPolicyChars: 2048,
    allowWildcards: false,
    anchors: [ANCHOR],
    retiredStatements: [],
    statements: [],
    owner: "organization/kubeflow-irsa/dev",
    ...extra,
});
const state = (providerArn: string): TrustSubjectsOutputs => ({ ...inputs(providerArn), roleName: "kf-user-us-west-2-kf-dev", roleArn: ROLE, policyChars: 0, leftovers: [], draining: [] });

const subsUnder = (document: PolicyDocument, issuer: string) =>
    (Array.isArray(document.Statement) ? document.Statement : [document.Statement]).flatMap((s) => [s.Condition?.StringEquals?.[`${issuer}:sub`] ?? []].flat());

describe("trust changes: the statement a managed role is created with", () => {
    it("GIVEN the created statement under an earlier provider, key order aside THEN it is found; under the current provider it is not", () => {
        const reordered: PolicyStatement = { Condition: { StringEquals: { [`${DEV_ISSUER}:sub`]: [ANCHOR], [`${DEV_ISSUER}:aud`]: STS } }, Action: WEB, Principal: { Federated: DEV }, Effect: "Allow" };
        const document = doc(reordered, created(PROD, PROD_ISSUER));
        assert.deepEqual(initialStatementsIn(document, [ANCHOR], PROD), [reordered]);
        assert.deepEqual(initialStatementsIn(document, [ANCHOR], DEV), [created(PROD, PROD_ISSUER)]);
        assert.deepEqual(initialStatementsIn(document, [], PROD), [], "a role without anchors is not one the stack creates");
    });

    it("GIVEN statements under an earlier provider that differ from the created one in anything THEN none is taken for it", () => {
        const base = created(DEV, DEV_ISSUER);
        const different: PolicyStatement[] = [
            { ...base, Sid: "Anchor" },
            { ...base, Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: [ANCHOR, sa("velero", "velero")] } } },
            { ...base, Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: [ANCHOR], "aws:SourceIp": "10.0.0.0/8" } } },
            { ...base, Principal: { Federated: [DEV, PROD] } },
            { ...base, Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: [sa("kubeflow", "kf-user")] } } },
        ];
        for (const statement of different) assert.deepEqual(initialStatementsIn(doc(statement), [ANCHOR], PROD), [], JSON.stringify(statement));
    });

    it("GIVEN a role created under DEV whose TrustSubjects never wrote WHEN it is created under PROD THEN one change set moves the anchor and removes the DEV statement, keeping others' statements", () => {
        const theirs: PolicyStatement = { Sid: "Ec2", Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" };
        const { document, changed } = applyTrustChanges(doc(created(DEV, DEV_ISSUER), theirs), createChanges(inputs(PROD)));
        assert.ok(changed);
        assert.deepEqual(subsUnder(document, DEV_ISSUER), []);
        assert.deepEqual(subsUnder(document, PROD_ISSUER).sort(), [ANCHOR, sa("team-a")].sort());
        assert.ok((document.Statement as PolicyStatement[]).some((s) => s.Sid === "Ec2"));
        assert.ok(!JSON.stringify(document).includes(DEV), "nothing of the DEV provider is left");
    });

    it("GIVEN a stack already past such a move (its state under PROD, the DEV statement still there) WHEN its TrustSubjects is next updated THEN the DEV statement goes in that write", () => {
        const live = doc(created(DEV, DEV_ISSUER), { ...created(PROD, PROD_ISSUER), Condition: { StringEquals: { [`${PROD_ISSUER}:aud`]: STS, [`${PROD_ISSUER}:sub`]: [ANCHOR, sa("team-a")] } } });
        const { document } = applyTrustChanges(live, updateChanges(state(PROD), inputs(PROD, { subjects: [sa("team-a"), sa("team-b")] })));
        assert.deepEqual(subsUnder(document, DEV_ISSUER), []);
        assert.deepEqual(subsUnder(document, PROD_ISSUER).sort(), [ANCHOR, sa("team-a"), sa("team-b")].sort());
    });

    it("GIVEN a role this stack does not create (no anchors) THEN a statement shaped like a created one under another provider stays", () => {
        const live = doc(created(DEV, DEV_ISSUER));
        const { document } = applyTrustChanges(live, createChanges(inputs(PROD, { anchors: [] })));
        assert.deepEqual(subsUnder(document, DEV_ISSUER), [ANCHOR]);
    });

    it("GIVEN a component role (perController kf-lbc), whose anchor is its controller's real service account, THEN a person's statement letting a second cluster's controller use it stays, on a create and on an update", () => {
        const LBC = "system:serviceaccount:kube-system:aws-load-balancer-controller";
        const secondCluster: PolicyStatement = { Effect: "Allow", Principal: { Federated: PROD }, Action: WEB, Condition: { StringEquals: { [`${PROD_ISSUER}:aud`]: STS, [`${PROD_ISSUER}:sub`]: [LBC] } } };
        const ours: PolicyStatement = { Effect: "Allow", Principal: { Federated: DEV }, Action: WEB, Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: [LBC] } } };
        const lbc = { role: "arn:aws:iam::123456789012:role/kf-lbc-us-west-2-kf-dev", anchors: [LBC], subjects: [] };
        const created = applyTrustChanges(doc(ours, secondCluster), createChanges(inputs(DEV, lbc))).document;
        assert.deepEqual(subsUnder(created, PROD_ISSUER), [LBC], "create");
        const updated = applyTrustChanges(doc(ours, secondCluster), updateChanges({ ...state(DEV), ...lbc }, inputs(DEV, { ...lbc, maxPolicyChars: 4096 }))).document;
        assert.deepEqual(subsUnder(updated, PROD_ISSUER), [LBC], "update");
    });
});
