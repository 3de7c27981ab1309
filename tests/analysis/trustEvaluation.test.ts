import { strict as assert } from "assert";
import { checkTrustPolicy } from "../../analysis/trustRules";
import { audienceProblem, evaluateTrustPolicy, globMatch, trustedOidcProviders, type WebIdentityRequest } from "../../analysis/trustEvaluation";
import type { PolicyDocument, PolicyStatement } from "../../domain/trustPolicy";

const ISSUER = "oidc.eks.us-west-2.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE";
const PROVIDER = `arn:aws:iam::123456789012:oidc-provider/${ISSUER}`;
const OTHER_ISSUER = "oidc.eks.eu-west-1.amazonaws.com/id/0THERC1USTER0000000000000000000";
const OTHER_PROVIDER = `arn:aws:iam::123456789012:oidc-provider/${OTHER_ISSUER}`;
const SUB = `${ISSUER}:sub`;
const AUD = `${ISSUER}:aud`;
const TEAM_A = "system:serviceaccount:team-a:default-editor";
const TEAM_B = "system:serviceaccount:team-b:default-editor";

function statement(condition: PolicyStatement["Condition"], overrides: Partial<PolicyStatement> = {}): PolicyStatement {
    return {
        Effect: "Allow",
        Principal: { Federated: PROVIDER },
        Action: "sts:AssumeRoleWithWebIdentity",
        ...(condition ? { Condition: condition } : {}),
        ...overrides,
    };
}

const policy = (...statements: PolicyStatement[]): PolicyDocument => ({ Version: "2012-10-17", Statement: statements });

/** The kfctl / Kubeflow 1.1 shape: aud and a list of profile subjects under StringEquals. */
const kubeflowStatement = () => statement({ StringEquals: { [AUD]: "sts.amazonaws.com", [SUB]: [TEAM_A, "system:serviceaccount:kubeflow:kf-user"] } }, { Sid: "KubeflowProfiles" });
const kubeflowPolicy = () => policy(kubeflowStatement());

const request = (overrides: Partial<WebIdentityRequest> = {}): WebIdentityRequest => ({
    providerArn: PROVIDER,
    sub: TEAM_A,
    aud: "sts.amazonaws.com",
    ...overrides,
});

describe("evaluateTrustPolicy (IAM evaluation of sts:AssumeRoleWithWebIdentity)", () => {
    describe("verdicts", () => {
        it("GIVEN the Kubeflow profile statement WHEN team-a's default-editor asks THEN it is allowed by statement 0", () => {
            const result = evaluateTrustPolicy(kubeflowPolicy(), request());
            assert.equal(result.allowed, true);
            assert.equal(result.decidingStatement, 0);
            assert.equal(result.fix, undefined);
            assert.deepEqual(result.statements.map((s) => [s.index, s.sid, s.effect, s.matched]), [[0, "KubeflowProfiles", "Allow", true]]);
            assert.deepEqual(result.warnings, []);
        });

        it("GIVEN the profile statement WHEN team-b asks THEN it is implicitly denied and the fix names the subject to add", () => {
            const result = evaluateTrustPolicy(kubeflowPolicy(), request({ sub: TEAM_B }));
            assert.equal(result.allowed, false);
            assert.equal(result.decidingStatement, undefined);
            assert.equal(result.fix, `add ${TEAM_B} to StringEquals ${SUB} of statement 0 (Sid "KubeflowProfiles")`);
            assert.ok(result.statements[0].reasons.some((r) => r.includes(`"${TEAM_B}" is not among`)));
        });

        it("GIVEN the profile statement WHEN the token's audience is not sts.amazonaws.com THEN it is denied and the fix names both audiences", () => {
            const result = evaluateTrustPolicy(kubeflowPolicy(), request({ aud: "https://kubernetes.default.svc" }));
            assert.equal(result.allowed, false);
            assert.match(result.fix ?? "", /the token's audience is "https:\/\/kubernetes\.default\.svc"; statement 0 .* expects "sts\.amazonaws\.com"/);
        });

        it("GIVEN a role that trusts another cluster WHEN this cluster's token asks THEN it is denied and the fix names both providers", () => {
            const doc = policy(statement({ StringEquals: { [`${OTHER_ISSUER}:sub`]: TEAM_A } }, { Principal: { Federated: OTHER_PROVIDER } }));
            const result = evaluateTrustPolicy(doc, request());
            assert.equal(result.allowed, false);
            assert.match(result.fix ?? "", new RegExp(`^the role trusts provider ${OTHER_PROVIDER}, not this cluster's provider ${PROVIDER}`));
            assert.ok(result.fix?.includes(`"${SUB}":["${TEAM_A}"]`), "the fix carries the statement to add");
            assert.ok(result.statements[0].reasons.some((r) => r.startsWith(`Principal trusts Federated ${OTHER_PROVIDER}, not ${PROVIDER}`)));
        });

        it("GIVEN an Allow and a matching explicit Deny WHEN the subject asks THEN the Deny wins, whatever the order", () => {
            const deny = statement({ StringEquals: { [SUB]: TEAM_A } }, { Sid: "NoTeamA", Effect: "Deny" });
            for (const [doc, denyIndex] of [[policy(kubeflowStatement(), deny), 1], [policy(deny, kubeflowStatement()), 0]] as const) {
                const result = evaluateTrustPolicy(doc, request());
                assert.equal(result.allowed, false);
                assert.equal(result.decidingStatement, denyIndex);
                assert.match(result.fix ?? "", /Sid "NoTeamA"\) explicitly denies .*explicit Deny overrides every Allow/);
            }
        });

        it("GIVEN a Deny that does not match WHEN an Allow matches THEN it is allowed", () => {
            const doc = policy(statement({ StringEquals: { [SUB]: TEAM_B } }, { Effect: "Deny" }), kubeflowStatement());
            const result = evaluateTrustPolicy(doc, request());
            assert.equal(result.allowed, true);
            assert.equal(result.decidingStatement, 1);
        });

        it("GIVEN no statement at all for any OIDC provider WHEN asked THEN the fix is a whole statement to add", () => {
            const doc = policy({ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" });
            const result = evaluateTrustPolicy(doc, request());
            assert.equal(result.allowed, false);
            assert.match(result.fix ?? "", /^no Allow statement trusts .*: add a statement \{"Effect":"Allow"/);
        });

        it("GIVEN the right provider but only sts:AssumeRole WHEN asked THEN the fix adds the action", () => {
            const result = evaluateTrustPolicy(policy(statement({ StringEquals: { [SUB]: TEAM_A } }, { Action: "sts:AssumeRole" })), request());
            assert.equal(result.allowed, false);
            assert.match(result.fix ?? "", /add sts:AssumeRoleWithWebIdentity to its Action/);
        });
    });

    describe("Principal and Action", () => {
        it('GIVEN Principal "*" or {"AWS": "*"} WHEN any provider asks THEN the principal matches', () => {
            for (const principal of ["*", { AWS: "*" }] as const) {
                const result = evaluateTrustPolicy(policy(statement({ StringEquals: { [SUB]: TEAM_A } }, { Principal: principal })), request());
                assert.equal(result.allowed, true, JSON.stringify(principal));
            }
        });

        it("GIVEN Federated as a list WHEN the provider is one of them THEN it matches", () => {
            const result = evaluateTrustPolicy(policy(statement({ StringEquals: { [SUB]: TEAM_A } }, { Principal: { Federated: [OTHER_PROVIDER, PROVIDER] } })), request());
            assert.equal(result.allowed, true);
        });

        it("GIVEN NotPrincipal WHEN it lists / does not list the provider THEN the statement does not / does apply", () => {
            const notPrincipal = (arn: string) => policy({ Effect: "Allow", NotPrincipal: { Federated: arn }, Action: "sts:AssumeRoleWithWebIdentity" });
            const notMine = notPrincipal(OTHER_PROVIDER);
            const mine = notPrincipal(PROVIDER);
            assert.equal(evaluateTrustPolicy(notMine, request()).allowed, true);
            const denied = evaluateTrustPolicy(mine, request());
            assert.equal(denied.allowed, false);
            assert.ok(denied.statements[0].reasons.some((r) => r.startsWith("NotPrincipal excludes")));
        });

        it("GIVEN wildcard and differently-cased actions WHEN matched THEN action names compare case-insensitively", () => {
            for (const action of ["sts:*", "*", "STS:assumerolewithwebidentity", ["sts:AssumeRole", "sts:AssumeRoleWith*"], "sts:AssumeRoleWithWebIdentit?"]) {
                assert.equal(evaluateTrustPolicy(policy(statement({ StringEquals: { [SUB]: TEAM_A } }, { Action: action })), request()).allowed, true, JSON.stringify(action));
            }
            assert.equal(evaluateTrustPolicy(policy(statement({ StringEquals: { [SUB]: TEAM_A } }, { Action: ["sts:AssumeRole", "sts:TagSession"] })), request()).allowed, false);
        });

        it("GIVEN NotAction WHEN it excludes / does not exclude the action THEN the statement does not / does apply", () => {
            const notAction = (value: string) => policy({ Effect: "Allow", Principal: { Federated: PROVIDER }, NotAction: value, Condition: { StringEquals: { [SUB]: TEAM_A } } });
            assert.equal(evaluateTrustPolicy(notAction("sts:AssumeRole"), request()).allowed, true);
            assert.equal(evaluateTrustPolicy(notAction("sts:AssumeRoleWith*"), request()).allowed, false);
        });

        it("GIVEN an Effect that is neither Allow nor Deny WHEN evaluated THEN the statement never applies", () => {
            const result = evaluateTrustPolicy(policy(statement({ StringEquals: { [SUB]: TEAM_A } }, { Effect: "allow" })), request());
            assert.equal(result.allowed, false);
            assert.match(result.statements[0].reasons[0], /neither Allow nor Deny/);
        });
    });

    describe("Condition operators", () => {
        const allowed = (condition: PolicyStatement["Condition"], req: Partial<WebIdentityRequest> = {}) => evaluateTrustPolicy(policy(statement(condition)), request(req)).allowed;

        it("GIVEN a condition value as a string or as a list WHEN evaluated THEN both mean the same, and list values are ORed", () => {
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_A } }), true);
            assert.equal(allowed({ StringEquals: { [SUB]: [TEAM_A] } }), true);
            assert.equal(allowed({ StringEquals: { [SUB]: [TEAM_B, TEAM_A] } }), true);
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_B } }), false);
            assert.equal(allowed({ StringEquals: { [SUB]: [] } }), false);
        });

        it("GIVEN two keys or two operators WHEN one fails THEN the statement fails (ANDed)", () => {
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_A, [AUD]: "sts.amazonaws.com" } }), true);
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_A, [AUD]: "other" } }), false);
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_A }, StringLike: { [SUB]: "system:serviceaccount:team-b:*" } }), false);
        });

        it("GIVEN StringLike patterns WHEN matched THEN * spans any run of characters and ? exactly one", () => {
            assert.equal(allowed({ StringLike: { [SUB]: "system:serviceaccount:team-a:*" } }), true);
            assert.equal(allowed({ StringLike: { [SUB]: "system:serviceaccount:team-?:default-editor" } }), true);
            assert.equal(allowed({ StringLike: { [SUB]: "system:serviceaccount:team-??:default-editor" } }), false);
            assert.equal(allowed({ StringLike: { [SUB]: "system:serviceaccount:TEAM-a:*" } }), false, "StringLike is case-sensitive");
            assert.ok(globMatch("a${*}b", "a*b") && !globMatch("a${*}b", "axb"), "${*} is a literal *");
            assert.ok(globMatch("a.b", "a.b") && !globMatch("a.b", "axb"), "regex characters are literal");
        });

        it("GIVEN negated operators WHEN the value is / is not excluded THEN they fail / hold", () => {
            assert.equal(allowed({ StringNotEquals: { [SUB]: TEAM_B } }), true);
            assert.equal(allowed({ StringNotEquals: { [SUB]: [TEAM_B, TEAM_A] } }), false);
            assert.equal(allowed({ StringNotLike: { [SUB]: "system:serviceaccount:kube-system:*" } }), true);
            assert.equal(allowed({ StringNotLike: { [SUB]: "*:team-a:*" } }), false);
        });

        it("GIVEN StringEqualsIgnoreCase WHEN the case differs THEN it still matches, and StringNotEqualsIgnoreCase excludes it", () => {
            assert.equal(allowed({ StringEqualsIgnoreCase: { [SUB]: TEAM_A.toUpperCase() } }), true);
            assert.equal(allowed({ StringNotEqualsIgnoreCase: { [SUB]: TEAM_A.toUpperCase() } }), false);
        });

        it("GIVEN a condition key spelled in another case WHEN evaluated THEN key names are case-insensitive", () => {
            assert.equal(allowed({ StringEquals: { [SUB.toUpperCase()]: TEAM_A } }), true);
        });

        it("GIVEN a key STS does not set (amr) WHEN evaluated THEN missing-key rules apply per operator", () => {
            const amr = `${ISSUER}:amr`;
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_A, [amr]: "x" } }), false, "a plain operator is false");
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_A }, StringEqualsIfExists: { [amr]: "x" } }), true, "IfExists is true");
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_A }, StringNotEquals: { [amr]: "x" } }), true, "a negated operator is true");
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_A }, "ForAllValues:StringEquals": { [amr]: "x" } }), true, "ForAllValues is true");
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_A }, "ForAnyValue:StringEqualsIfExists": { [amr]: "x" } }), false, "ForAnyValue is false");
            assert.equal(allowed({ StringEquals: { [SUB]: TEAM_A }, Null: { [amr]: "true" } }), true, "Null true: the key is absent");
            const result = evaluateTrustPolicy(policy(statement({ StringEquals: { [amr]: "x" } })), request());
            assert.ok(result.statements[0].reasons.some((r) => r.includes("the key is not in the request")));
        });

        it("GIVEN a token with several audiences WHEN ForAnyValue / ForAllValues apply THEN any / every audience must match", () => {
            const aud = ["sts.amazonaws.com", "https://kubernetes.default.svc"];
            assert.equal(allowed({ "ForAnyValue:StringEquals": { [AUD]: "sts.amazonaws.com" }, StringEquals: { [SUB]: TEAM_A } }, { aud }), true);
            assert.equal(allowed({ "ForAllValues:StringEquals": { [AUD]: "sts.amazonaws.com" }, StringEquals: { [SUB]: TEAM_A } }, { aud }), false);
            assert.equal(allowed({ "ForAllValues:StringEquals": { [AUD]: aud }, StringEquals: { [SUB]: TEAM_A } }, { aud }), true);
        });

        it("GIVEN a plain operator on a multi-audience token WHEN evaluated THEN any audience matches and a warning says so", () => {
            const result = evaluateTrustPolicy(kubeflowPolicy(), request({ aud: ["sts.amazonaws.com", "other"] }));
            assert.equal(result.allowed, true);
            assert.ok(result.warnings.some((w) => w.includes("2 audiences")));
        });

        it("GIVEN an unknown or non-string operator WHEN evaluated THEN it does not match and says why", () => {
            const unknown = evaluateTrustPolicy(policy(statement({ StringEquals: { [SUB]: TEAM_A }, StringSortOf: { [SUB]: TEAM_A } })), request());
            assert.equal(unknown.allowed, false);
            assert.ok(unknown.statements[0].reasons.some((r) => r.includes('unknown condition operator "StringSortOf"')));
            const numeric = evaluateTrustPolicy(policy(statement({ StringEquals: { [SUB]: TEAM_A }, NumericLessThan: { [SUB]: "3" } })), request());
            assert.equal(numeric.allowed, false);
        });
    });

    it("GIVEN an aud-only statement (what the Kubeflow controller leaves behind) WHEN evaluated THEN any service account is allowed, and the rules (not the evaluator) flag it", () => {
        const doc = policy(statement({ StringEquals: { [AUD]: "sts.amazonaws.com" } }));
        const result = evaluateTrustPolicy(doc, request({ sub: "system:serviceaccount:anything:anyone" }));
        assert.equal(result.allowed, true);
        assert.deepEqual(result.warnings, []);
        assert.deepEqual(checkTrustPolicy(doc).map((f) => f.rule), ["irsa-aud-only"]);
    });

    describe("helpers", () => {
        it("GIVEN several statements WHEN listing trusted providers THEN each OIDC provider appears once, SAML and services are skipped", () => {
            const doc = policy(
                statement(undefined),
                statement(undefined, { Principal: { Federated: [OTHER_PROVIDER, PROVIDER, "arn:aws:iam::123456789012:saml-provider/corp"] } }),
                { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" },
            );
            assert.deepEqual(trustedOidcProviders(doc), [PROVIDER, OTHER_PROVIDER]);
        });

        it("GIVEN a provider's client ids WHEN the audience is / is not one of them THEN audienceProblem is undefined / says STS rejects", () => {
            assert.equal(audienceProblem("sts.amazonaws.com", ["sts.amazonaws.com"], PROVIDER), undefined);
            assert.equal(audienceProblem(["x", "sts.amazonaws.com"], ["sts.amazonaws.com"], PROVIDER), undefined);
            assert.match(audienceProblem("x", ["sts.amazonaws.com"], PROVIDER) ?? "", /audience is "x"; the OIDC provider .* accepts "sts.amazonaws.com", so STS rejects the token/);
        });
    });
});
