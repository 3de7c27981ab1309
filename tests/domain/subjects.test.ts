import { strict as assert } from "assert";
import {
    issuerHostPath,
    namespaceProblem,
    oidcProviderArnProblem,
    parseOidcProviderArn,
    parseRoleRef,
    parseServiceAccountRef,
    roleArnProblem,
    serviceAccountProblem,
    subjectOf,
    subjectProblem,
} from "../../domain/subjects";

const ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const PROVIDER_ARN = `arn:aws:iam::123456789012:oidc-provider/${ISSUER}`;
const sa = (ns: string, name = "default-editor") => `system:serviceaccount:${ns}:${name}`;

describe("subjects: validation of IRSA names", () => {
    describe("subjectProblem", () => {
        // [subject, allowWildcards, expected: undefined = accepted, else a fragment of the reason]
        const cases: [string, boolean, string | undefined][] = [
            [sa("alice"), false, undefined],
            [sa("team-a1", "pipeline-runner"), false, undefined],
            [sa("kubeflow", "ml-pipeline.ui"), false, undefined], // RFC 1123 subdomain: dots are fine
            [sa("a".repeat(63)), false, undefined],
            [sa("a".repeat(64)), false, "at most 63"],
            [sa("Alice"), false, "RFC 1123 label"],
            [sa("-alice"), false, "RFC 1123 label"],
            [sa("alice-"), false, "RFC 1123 label"],
            [sa("al.ice"), false, "RFC 1123 label"], // namespaces are labels: no dots
            [sa(""), false, "RFC 1123 label"],
            [sa("alice", "Default_Editor"), false, "service-account name"],
            [sa("alice", ""), false, "service-account name"],
            [sa("alice", "x".repeat(254)), false, "service-account name"],
            ["system:serviceaccount:alice", false, "expected"],
            ["system:serviceaccount:a:b:c", false, "expected"],
            ["system:serviceaccounts:alice", false, "expected"], // the group, not a subject
            ["alice:default-editor", false, "expected"],
            [sa('al"ice'), false, "quote"],
            [sa("alice", "default editor"), false, "white space"],
            [sa("team-a", "runner-*"), false, "allowWildcards"],
            [sa("team-a", "runner-*"), true, undefined],
            [sa("team-a", "*"), true, undefined],
            // a namespace pattern is an explicit opt-in, but one that matches every namespace is the whole cluster
            [sa("team-*"), true, undefined],
            [sa("*", "*"), true, "matches every namespace"],
            [sa("?*", "default-editor"), true, "matches every namespace"],
            [sa("Team-*"), true, "namespace pattern"],
            [sa("Team-a", "runner-*"), true, "RFC 1123"],
            [sa("team-a", "Runner_*"), true, "service-account pattern"],
            [sa("team-a", ""), true, "service-account"],
            [sa("", "*"), true, "namespace"],
        ];
        for (const [subject, allow, expected] of cases) {
            const shown = subject.length > 70 ? `${subject.slice(0, 40)}…(${subject.length} chars)` : subject;
            it(`GIVEN ${JSON.stringify(shown)}${allow ? " with allowWildcards" : ""} THEN ${expected === undefined ? "it is accepted" : `it is rejected (${expected})`}`, () => {
                const problem = subjectProblem(subject, allow);
                if (expected === undefined) assert.equal(problem, undefined);
                else {
                    assert.ok(problem, "expected a problem");
                    assert.ok(problem.includes(expected), problem);
                }
            });
        }
    });

    it("GIVEN namespace and service-account names WHEN checked alone THEN the RFC 1123 limits apply", () => {
        assert.equal(namespaceProblem("kubeflow-user-example-com"), undefined);
        assert.match(namespaceProblem("kubeflow_user") ?? "", /RFC 1123/);
        assert.equal(serviceAccountProblem("a.b-c"), undefined);
        assert.match(serviceAccountProblem("a..b") ?? "", /RFC 1123/);
    });

    it("GIVEN roles as names and ARNs WHEN parsed THEN the name is what UpdateAssumeRolePolicy takes", () => {
        const table: [string, string | undefined][] = [
            ["kf-user-us-west-2-dev", "kf-user-us-west-2-dev"],
            ["arn:aws:iam::123456789012:role/kf-user-us-west-2-dev", "kf-user-us-west-2-dev"],
            ["arn:aws:iam::123456789012:role/kubeflow/irsa/kf-admin", "kf-admin"],
            ["arn:aws-cn:iam::123456789012:role/r+=,.@_-", "r+=,.@_-"],
            ["r".repeat(64), "r".repeat(64)],
            ["r".repeat(65), undefined],
            ["arn:aws:iam::12345:role/short-account", undefined],
            ["arn:aws:iam::123456789012:user/not-a-role", undefined],
            ["role with spaces", undefined],
            ["", undefined],
        ];
        for (const [ref, name] of table) assert.equal(parseRoleRef(ref)?.name, name, ref);
        assert.equal(parseRoleRef("arn:aws:iam::123456789012:role/x")?.accountId, "123456789012");
        assert.equal(roleArnProblem("arn:aws:iam::123456789012:role/x"), undefined);
        assert.match(roleArnProblem("kf-user") ?? "", /not an IAM role ARN/);
    });

    it("GIVEN OIDC provider ARNs WHEN parsed THEN the issuer is the condition-key prefix", () => {
        assert.deepEqual(parseOidcProviderArn(PROVIDER_ARN), { partition: "aws", accountId: "123456789012", issuer: ISSUER });
        assert.equal(oidcProviderArnProblem(PROVIDER_ARN), undefined);
        for (const bad of [
            `https://${ISSUER}`,
            `arn:aws:iam::123456789012:role/${ISSUER}`,
            `arn:aws:iam::1234:oidc-provider/${ISSUER}`,
            "arn:aws:iam::123456789012:oidc-provider/",
        ]) {
            assert.match(oidcProviderArnProblem(bad) ?? "", /not an IAM OIDC provider ARN/, bad);
        }
    });

    it("GIVEN the config's short forms WHEN expanded THEN they give EKS token subjects and issuer keys", () => {
        assert.equal(subjectOf("alice"), "system:serviceaccount:alice:default-editor");
        assert.equal(subjectOf("kubeflow", "kf-admin"), "system:serviceaccount:kubeflow:kf-admin");
        assert.deepEqual(parseServiceAccountRef("kubeflow:fluentd"), { namespace: "kubeflow", serviceAccount: "fluentd" });
        assert.equal(parseServiceAccountRef("kubeflow"), undefined);
        assert.equal(parseServiceAccountRef("a:b:c"), undefined);
        assert.equal(issuerHostPath(`https://${ISSUER}/`), ISSUER);
        assert.equal(issuerHostPath(ISSUER), ISSUER);
    });
});
