// The guardrail rules over realistic trust policies: documents that pass and that fail, in the
// string and list shapes IAM accepts, with several statements and several providers.
import { strict as assert } from "assert";
import { checkTrustPolicy, matchesEveryNamespace, TRUST_RULES, type Finding } from "../../analysis/trustRules";
import type { PolicyDocument, PolicyStatement } from "../../domain/trustPolicy";
import { DEV, DEV_ISSUER, PROD, PROD_ISSUER, sa, sharedRolePolicy, STS, WEB } from "../support/fixtures";

const doc = (...statements: PolicyStatement[]): PolicyDocument => ({ Version: "2012-10-17", Statement: statements });
const irsa = (condition: PolicyStatement["Condition"], extra: Partial<PolicyStatement> = {}): PolicyStatement => ({
    Effect: "Allow",
    Principal: { Federated: DEV },
    Action: WEB,
    ...(condition ? { Condition: condition } : {}),
    ...extra,
});
const rules = (findings: Finding[]) => findings.map((f) => `${f.rule}@${f.statement}`);

describe("trust-policy rules", () => {
    it("GIVEN the rule table THEN each rule has its documented level", () => {
        assert.deepEqual(Object.fromEntries(TRUST_RULES.map((r) => [r.id, r.level])), {
            "irsa-aud-only": "mandatory",
            "irsa-sub-matches-every-namespace": "mandatory",
            "irsa-wildcard-under-string-equals": "advisory",
            "irsa-condition-never-matches": "advisory",
            "irsa-audience": "advisory",
            "trust-policy-headroom": "advisory",
            "trust-open-principal": "mandatory",
        });
    });

    describe("GIVEN clean documents THEN no rule reports", () => {
        it("WHEN a role is shared by two clusters, CI runners, a restricted statement and EC2 (strings and lists)", () => {
            assert.deepEqual(checkTrustPolicy(sharedRolePolicy([sa("team-a"), sa("team-b")], sa("alice")), { maxPolicyChars: 8192 }), []);
        });
        it("WHEN StringLike names a namespace prefix or a service-account wildcard", () => {
            const d = doc(irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS }, StringLike: { [`${DEV_ISSUER}:sub`]: ["system:serviceaccount:ci-*:runner", "system:serviceaccount:team-a:*"] } }));
            assert.deepEqual(checkTrustPolicy(d), []);
        });
        it("WHEN a Deny has only an aud condition, or an Allow names a service with no condition", () => {
            const d = doc(irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS } }, { Effect: "Deny" }), { Effect: "Allow", Principal: { Service: "pods.eks.amazonaws.com" }, Action: ["sts:AssumeRole", "sts:TagSession"] });
            assert.deepEqual(checkTrustPolicy(d), []);
        });
    });

    describe("irsa-aud-only", () => {
        it("GIVEN what Kubeflow's controller leaves (aud only) beside a good statement THEN only that statement is named, with its Sid, and the fix", () => {
            const good = irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: sa("team-a") } });
            const bad = irsa({ StringEquals: { [`${PROD_ISSUER}:aud`]: [STS] } }, { Sid: "KubeflowLeftover", Principal: { Federated: [PROD] }, Action: [WEB] });
            const [finding, ...rest] = checkTrustPolicy(doc(good, bad));
            assert.deepEqual(rest, []);
            assert.equal(finding.rule, "irsa-aud-only");
            assert.equal(finding.level, "mandatory");
            assert.equal(finding.statement, 1);
            assert.equal(finding.sid, "KubeflowLeftover");
            assert.match(finding.message, /^statement 1 \(Sid "KubeflowLeftover"\) allows sts:AssumeRoleWithWebIdentity from arn:aws:iam::123456789012:oidc-provider\/oidc\.eks\.eu-west-1.* checks only .*:aud, without restricting .*:sub: every service account in that cluster/);
            assert.match(finding.fix, /add StringEquals oidc\.eks\.eu-west-1\.amazonaws\.com\/id\/0123456789ABCDEF0123456789ABCDEF:sub/);
        });
        it("GIVEN no condition, a sub only excluded, or sts:* as the action THEN it is reported", () => {
            assert.deepEqual(rules(checkTrustPolicy(doc(irsa(undefined)))), ["irsa-aud-only@0", "irsa-audience@0"]);
            const excluded = checkTrustPolicy(doc(irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS }, StringNotEquals: { [`${DEV_ISSUER}:sub`]: sa("kube-system", "default") } })));
            assert.match(excluded[0].message, /only excludes some subjects/);
            assert.deepEqual(rules(checkTrustPolicy(doc(irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS } }, { Action: "sts:*" })))), ["irsa-aud-only@0"]);
        });
    });

    describe("irsa-condition-never-matches", () => {
        it("GIVEN two providers in one statement, each keyed to only one of them THEN each is reported as never matching (not aud-only): the other's key is absent from its tokens", () => {
            const both = irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: sa("a"), [`${PROD_ISSUER}:aud`]: STS } }, { Principal: { Federated: [DEV, PROD] } });
            const findings = checkTrustPolicy(doc(both));
            assert.deepEqual(rules(findings), ["irsa-condition-never-matches@0", "irsa-condition-never-matches@0"]);
            assert.ok(findings.every((f) => f.level === "advisory"));
            assert.match(findings[0].message, new RegExp(`trusts ${DEV.replace(/[./]/g, "\\$&")} but requires StringEquals ${PROD_ISSUER.replace(/[./]/g, "\\$&")}:aud, a key STS never sets`));
            assert.match(findings[1].message, /requires StringEquals oidc\.eks\.us-west-2\.amazonaws\.com\/id\/EXAMPLED539D4633E53DE1B71EXAMPLE:aud and StringEquals oidc\.eks\.us-west-2.*:sub/);
            assert.match(findings[0].fix, /give each provider its own statement/);
        });
        it("GIVEN a sub key written with https:// THEN advisory never-matches with the key to write, not the mandatory aud-only", () => {
            const findings = checkTrustPolicy(doc(irsa({ StringEquals: { [`https://${DEV_ISSUER}:sub`]: sa("team-a"), [`${DEV_ISSUER}:aud`]: STS } }, { Sid: "Typo" })));
            assert.deepEqual(rules(findings), ["irsa-condition-never-matches@0"]);
            assert.equal(findings[0].sid, "Typo");
            assert.match(findings[0].message, /IAM denies every service account of that cluster through this statement/);
            assert.equal(findings[0].fix, `write the key as ${DEV_ISSUER}:sub`);
        });
        it("GIVEN such a key only under an operator that holds when the key is absent (IfExists, negated, ForAllValues) THEN the statement still matches: aud-only is reported", () => {
            for (const op of ["StringEqualsIfExists", "StringNotEquals", "ForAllValues:StringEquals"]) {
                const findings = checkTrustPolicy(doc(irsa({ [op]: { [`https://${DEV_ISSUER}:sub`]: sa("team-a") }, StringEquals: { [`${DEV_ISSUER}:aud`]: STS } })));
                assert.deepEqual(rules(findings), ["irsa-aud-only@0"], op);
            }
        });
    });
    describe("irsa-sub-matches-every-namespace", () => {
        for (const pattern of ["system:serviceaccount:*:default-editor", "system:serviceaccount:?*", "system:serviceaccount:*", "system:*", "*", "system:serviceaccount:*?:x"]) {
            it(`GIVEN StringLike sub ${JSON.stringify(pattern)} THEN it is mandatory`, () => {
                const findings = checkTrustPolicy(doc(irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS }, StringLike: { [`${DEV_ISSUER}:sub`]: [sa("team-a"), pattern] } })));
                assert.deepEqual(rules(findings), ["irsa-sub-matches-every-namespace@0"]);
                assert.ok(findings[0].message.includes(JSON.stringify(pattern)));
            });
        }
        it("GIVEN namespace patterns that match only some namespaces THEN they are not every namespace", () => {
            for (const p of ["system:serviceaccount:team-*:x", "system:serviceaccount:?:x", "system:serviceaccount:??*:x", "system:serviceaccount:team-a:*", "system:serviceaccount:*-prod:x"]) {
                assert.equal(matchesEveryNamespace(p), false, p);
            }
        });
    });

    describe("irsa-wildcard-under-string-equals", () => {
        it("GIVEN a wildcard sub under StringEquals (crossplane/crossplane#5578) THEN it is advisory: the value is a literal that never matches", () => {
            const findings = checkTrustPolicy(doc(irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: ["system:serviceaccount:crossplane-system:provider-aws-*"] } })));
            assert.deepEqual(rules(findings), ["irsa-wildcard-under-string-equals@0"]);
            assert.equal(findings[0].level, "advisory");
            assert.match(findings[0].fix, /StringLike/);
        });
    });

    describe("irsa-audience", () => {
        it("GIVEN no aud, or an EKS issuer with another audience THEN it is advisory; a non-EKS issuer may use its own audience", () => {
            const noAud = checkTrustPolicy(doc(irsa({ StringEquals: { [`${DEV_ISSUER}:sub`]: sa("a") } })));
            assert.deepEqual(rules(noAud), ["irsa-audience@0"]);
            // STS checks the token's audience against the provider's client ids even without the condition.
            assert.match(noAud[0].message, /without a .*:aud condition: STS then accepts a token of that issuer for any audience in the provider's client-id list/);
            assert.doesNotMatch(noAud[0].message, /for any audience is accepted/);
            const wrong = checkTrustPolicy(doc(irsa({ StringEquals: { [`${DEV_ISSUER}:sub`]: sa("a"), [`${DEV_ISSUER}:aud`]: ["sts.amazonaws.com", "vault"] } })));
            assert.deepEqual(rules(wrong), ["irsa-audience@0"]);
            assert.match(wrong[0].message, /"vault"/);
            const selfHosted = "arn:aws:iam::123456789012:oidc-provider/kops-issuer.s3.us-west-2.amazonaws.com";
            const own = irsa({ StringEquals: { "kops-issuer.s3.us-west-2.amazonaws.com:sub": sa("a"), "kops-issuer.s3.us-west-2.amazonaws.com:aud": "my-audience" } }, { Principal: { Federated: selfHosted } });
            assert.deepEqual(checkTrustPolicy(doc(own)), []);
        });
    });

    describe("trust-open-principal", () => {
        const open = (principal: PolicyStatement["Principal"], condition?: PolicyStatement["Condition"], action: string = "sts:AssumeRole"): PolicyStatement => ({
            Sid: "Open",
            Effect: "Allow",
            Principal: principal,
            Action: action,
            ...(condition ? { Condition: condition } : {}),
        });
        it('GIVEN Principal "*" or {"AWS": "*"} (also in a list) without a condition THEN mandatory; with aws:PrincipalOrgID, not', () => {
            for (const principal of ["*", { AWS: "*" }, { AWS: ["arn:aws:iam::111122223333:root", "*"] }] as PolicyStatement["Principal"][]) {
                const findings = checkTrustPolicy(doc(open(principal)));
                assert.deepEqual(rules(findings), ["trust-open-principal@0"], JSON.stringify(principal));
            }
            assert.deepEqual(checkTrustPolicy(doc(open({ AWS: "*" }, { StringEquals: { "aws:PrincipalOrgID": "o-abc123" } }))), []);
        });
        it("GIVEN a condition that does not limit who (aws:SecureTransport, an aud-only web identity, a source IP) THEN still mandatory, naming the conditions", () => {
            const secure = checkTrustPolicy(doc(open({ AWS: "*" }, { Bool: { "aws:SecureTransport": "true" } })));
            assert.deepEqual(rules(secure), ["trust-open-principal@0"]);
            assert.match(secure[0].message, /^statement 0 \(Sid "Open"\) allows Principal \{"AWS": "\*"\} with conditions that do not limit who \(Bool aws:SecureTransport\): every AWS principal, in any account, can assume this role/);
            const audOnly = checkTrustPolicy(doc(open("*", { StringEquals: { [`${DEV_ISSUER}:aud`]: STS } }, WEB)));
            assert.deepEqual(rules(audOnly), ["trust-open-principal@0"]);
            assert.match(audOnly[0].message, /every AWS principal, in any account, and any web-identity token STS accepts, can assume/);
            assert.deepEqual(rules(checkTrustPolicy(doc(open("*", { IpAddress: { "aws:SourceIp": "203.0.113.0/24" } })))), ["trust-open-principal@0"]);
        });
        it("GIVEN a who-key under an operator that lets an absent key or any value through (IfExists, negated, ForAllValues, a wildcard) THEN still mandatory", () => {
            for (const condition of [
                { StringEqualsIfExists: { "aws:PrincipalOrgID": "o-abc123" } } as PolicyStatement["Condition"],
                { StringNotEquals: { "aws:PrincipalAccount": "999999999999" } },
                { "ForAllValues:StringEquals": { "aws:PrincipalOrgPaths": "o-abc123/r-ab12/ou-ab12-11111111/" } },
                { StringLike: { "aws:PrincipalArn": "arn:aws:iam::*:role/ci" } },
                { ArnLike: { "aws:PrincipalArn": "*" } },
            ]) {
                assert.deepEqual(rules(checkTrustPolicy(doc(open({ AWS: "*" }, condition)))), ["trust-open-principal@0"], JSON.stringify(condition));
            }
        });
        it("GIVEN a who-key whose value is a policy variable (the caller's own account or id) THEN still mandatory; a Like pattern with a literal account or organization THEN limited", () => {
            for (const condition of [
                { StringEquals: { "aws:PrincipalAccount": "${aws:PrincipalAccount}" } } as PolicyStatement["Condition"],
                { StringEquals: { "aws:userid": "${aws:userid}" } },
                { ArnLike: { "aws:PrincipalArn": "arn:aws:iam::${aws:PrincipalAccount}:role/ci" } },
            ]) {
                assert.deepEqual(rules(checkTrustPolicy(doc(open({ AWS: "*" }, condition)))), ["trust-open-principal@0"], JSON.stringify(condition));
            }
            for (const condition of [
                { ArnLike: { "aws:PrincipalArn": "arn:aws:iam::111122223333:role/ci-*" } } as PolicyStatement["Condition"],
                { "ForAnyValue:StringLike": { "aws:PrincipalOrgPaths": "o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*" } },
            ]) {
                assert.deepEqual(checkTrustPolicy(doc(open({ AWS: "*" }, condition))), [], JSON.stringify(condition));
            }
        });
        it("GIVEN each who-key, in any letter case, with a positive operator THEN the open principal is limited", () => {
            for (const [op, key, value] of [
                ["StringEquals", "aws:PrincipalAccount", "111122223333"],
                ["ArnEquals", "aws:PrincipalArn", "arn:aws:iam::111122223333:role/ci"],
                ["StringEquals", "AWS:PRINCIPALORGID", "o-abc123"],
                ["ForAnyValue:StringLike", "aws:PrincipalOrgPaths", "o-abc123/r-ab12/ou-ab12-11111111/"],
                ["StringEquals", "aws:SourceAccount", "111122223333"],
                ["ArnLike", "aws:SourceArn", "arn:aws:codebuild:us-west-2:111122223333:project/ci"],
                ["StringEquals", "aws:SourceOrgID", "o-abc123"],
            ]) {
                assert.deepEqual(checkTrustPolicy(doc(open("*", { [op]: { [key]: value }, Bool: { "aws:SecureTransport": "true" } }))), [], `${op} ${key}`);
            }
        });
        it("GIVEN an open web identity (Federated Google or Cognito without a condition on their keys, Federated \"*\") THEN mandatory; with their aud, not", () => {
            const google = checkTrustPolicy(doc(open({ Federated: "accounts.google.com" }, { StringEquals: { "accounts.google.com:amr": "authenticated" } }, WEB)));
            assert.deepEqual(rules(google), ["trust-open-principal@0"]);
            assert.match(google[0].message, /allows Federated "accounts\.google\.com" with conditions that do not limit who \(StringEquals accounts\.google\.com:amr\): anyone who signs in there/);
            assert.match(google[0].fix, /StringEquals accounts\.google\.com:aud/);
            assert.deepEqual(rules(checkTrustPolicy(doc(open({ Federated: ["cognito-identity.amazonaws.com"] }, undefined, WEB)))), ["trust-open-principal@0"]);
            assert.deepEqual(rules(checkTrustPolicy(doc(open({ Federated: "*" }, undefined, WEB)))), ["trust-open-principal@0"]);
            const pool = open({ Federated: "cognito-identity.amazonaws.com" }, { StringEquals: { "cognito-identity.amazonaws.com:aud": "us-west-2:1111aaaa-22bb-33cc-44dd-5555eeee6666" } }, WEB);
            assert.deepEqual(checkTrustPolicy(doc(pool)), []);
        });
    });

    describe("trust-policy-headroom", () => {
        const many = (n: number) => Array.from({ length: n }, (_, i) => sa(`team-${String(i).padStart(4, "0")}`));
        const big = (n: number) => doc(irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: sa("kubeflow", "kf-user") } }, { Sid: "Small" }), irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: many(n) } }, { Sid: "Profiles" }));
        // Measured independently of policySize: IAM counts the document without white space.
        const chars = (d: PolicyDocument) => JSON.stringify(d).replace(/\s/g, "").length;

        it("GIVEN a document above 90% of the quota THEN advisory, naming the largest statement; at or below, nothing", () => {
            let n = 1;
            while (chars(big(n + 1)) <= 0.9 * 2048) n++;
            const below = checkTrustPolicy(big(n), { maxPolicyChars: 2048 });
            assert.ok(!below.some((f) => f.rule === "trust-policy-headroom"), `${chars(big(n))} chars`);
            const above = checkTrustPolicy(big(n + 1), { maxPolicyChars: 2048 }).filter((f) => f.rule === "trust-policy-headroom");
            assert.equal(above.length, 1);
            assert.equal(above[0].statement, 1);
            assert.equal(above[0].sid, "Profiles");
            assert.match(above[0].message, new RegExp(`^the trust policy is ${chars(big(n + 1))} of 2048 characters`));
            // The same document under the 8192 quota, and with a custom threshold.
            assert.deepEqual(checkTrustPolicy(big(n + 1), { maxPolicyChars: 8192 }), []);
            assert.equal(checkTrustPolicy(big(n), { maxPolicyChars: 2048, headroomThreshold: 0.5 }).filter((f) => f.rule === "trust-policy-headroom").length, 1);
        });
    });

    it("GIVEN a document breaking several rules THEN findings come in statement order, each once", () => {
        const d = doc(
            { Effect: "Allow", Principal: "*", Action: "sts:AssumeRole" },
            irsa({ StringEquals: { [`${DEV_ISSUER}:aud`]: STS } }),
            irsa({ StringLike: { [`${DEV_ISSUER}:sub`]: "system:serviceaccount:*:default" } }),
        );
        assert.deepEqual(rules(checkTrustPolicy(d)), ["trust-open-principal@0", "irsa-aud-only@1", "irsa-sub-matches-every-namespace@2", "irsa-audience@2"]);
    });
});
