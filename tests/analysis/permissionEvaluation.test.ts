// The doctor's permission evaluator on what it must not get wrong: Deny wins, a statement whose
// policy variable has no value matches nothing, and a condition it does not evaluate makes the
// answer undetermined instead of a guess.
import { strict as assert } from "assert";
import { evaluatePermissions } from "../../analysis/permissionEvaluation";
import type { PolicyDocument } from "../../domain/trustPolicy";

const doc = (...Statement: Record<string, unknown>[]) => ({ Version: "2012-10-17", Statement }) as unknown as PolicyDocument;
const S3_ALL = { Effect: "Allow", Action: "s3:*", Resource: "*" };
const ask = (context: Record<string, string> = {}) => ({ action: "s3:GetObject", resource: "arn:aws:s3:::acme/team-a/x", context });

describe("evaluatePermissions", () => {
    it("GIVEN an Allow and a matching Deny THEN explicitly denied, naming the Deny", () => {
        const v = evaluatePermissions([{ name: "p", document: doc(S3_ALL, { Sid: "NoTeamA", Effect: "Deny", Action: "s3:Get*", Resource: "arn:aws:s3:::acme/team-a/*" }) }], ask());
        assert.deepEqual([v.decision, v.decidedBy], ["explicitly denied", 'p: statement 1 (Sid "NoTeamA")']);
    });

    it("GIVEN a Deny on a condition this evaluator does not evaluate THEN undetermined, not allowed, and the statement is listed", () => {
        const v = evaluatePermissions([{ name: "p", document: doc(S3_ALL, { Effect: "Deny", Action: "s3:*", Resource: "*", Condition: { Bool: { "aws:SecureTransport": "false" } } }) }], ask());
        assert.equal(v.decision, "undetermined");
        assert.deepEqual(v.unsupported, ["p: statement 1"]);
    });

    it("GIVEN a policy variable without a value in the context THEN its statement matches nothing; with one, it matches exactly that prefix", () => {
        const policy = [{ name: "p", document: doc({ Effect: "Allow", Action: "s3:GetObject", Resource: "arn:aws:s3:::acme/${aws:PrincipalTag/kubernetes-namespace}/*" }) }];
        assert.equal(evaluatePermissions(policy, ask()).decision, "implicitly denied");
        assert.equal(evaluatePermissions(policy, ask({ "aws:PrincipalTag/kubernetes-namespace": "team-a" })).decision, "allowed");
        assert.equal(evaluatePermissions(policy, ask({ "aws:PrincipalTag/kubernetes-namespace": "team" })).decision, "implicitly denied");
    });

    it("GIVEN action names in another case, NotAction and NotResource THEN IAM's matching applies", () => {
        assert.equal(evaluatePermissions([{ name: "p", document: doc({ Effect: "Allow", Action: "S3:getobject", Resource: "*" }) }], ask()).decision, "allowed");
        assert.equal(evaluatePermissions([{ name: "p", document: doc({ Effect: "Allow", NotAction: "s3:Put*", Resource: "*" }) }], ask()).decision, "allowed");
        assert.equal(evaluatePermissions([{ name: "p", document: doc({ Effect: "Allow", Action: "s3:*", NotResource: "arn:aws:s3:::acme/team-a/*" }) }], ask()).decision, "implicitly denied");
    });

    it("GIVEN a role's trust policy and a principal THEN Principal is matched and the role is the implied resource; without a principal, trust statements never apply", () => {
        const trust = [
            {
                name: "trust",
                document: doc({ Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"], Condition: { StringEquals: { "aws:RequestTag/eks-cluster-arn": "arn:aws:eks:us-west-2:123456789012:cluster/kf-prod" } } }),
            },
        ];
        const assume = (principal: { type: "Service" | "AWS"; name: string } | undefined, cluster: string) => ({
            action: "sts:AssumeRole",
            resource: "arn:aws:iam::123456789012:role/kf-user-us-west-2-kf-prod",
            context: { "aws:RequestTag/eks-cluster-arn": `arn:aws:eks:us-west-2:123456789012:cluster/${cluster}` },
            ...(principal ? { principal } : {}),
        });
        const pods = { type: "Service" as const, name: "pods.eks.amazonaws.com" };
        assert.equal(evaluatePermissions(trust, assume(pods, "kf-prod")).decision, "allowed");
        assert.equal(evaluatePermissions(trust, assume(pods, "kf-staging")).decision, "implicitly denied");
        assert.equal(evaluatePermissions(trust, assume({ type: "Service", name: "ec2.amazonaws.com" }, "kf-prod")).decision, "implicitly denied");
        assert.equal(evaluatePermissions(trust, assume(undefined, "kf-prod")).decision, "implicitly denied");
        // An identity policy's statements (no Principal) do not apply to a resource-policy question.
        assert.equal(evaluatePermissions([{ name: "p", document: doc(S3_ALL) }], { ...ask(), principal: pods }).decision, "implicitly denied");
    });
});
