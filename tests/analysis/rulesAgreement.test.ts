// The provider and the guardrail rules agree: whatever subjects the TrustSubjects provider accepts
// and whatever it edits into a document that breaks no mandatory rule, the document it writes
// breaks none either (property-based, over generated documents and edit sequences). The rules and
// the doctor's evaluator agree too: a document without a mandatory finding lets no stranger in,
// and a statement the rules say never matches lets nobody of that provider in.
import { strict as assert } from "assert";
import fc from "fast-check";
import { subjectProblem } from "../../domain/subjects";
import { applyTrustChange } from "../../domain/trustChanges";
import { buildTrustPolicy, TrustPolicyError, webIdentityStatement, type PolicyDocument, type PolicyStatement } from "../../domain/trustPolicy";
import { evaluateTrustPolicy } from "../../analysis/trustEvaluation";
import { checkTrustPolicy, isMandatory } from "../../analysis/trustRules";
import { ACCOUNT, DEV, DEV_ISSUER, PROD, PROD_ISSUER, sa, STS, WEB } from "../support/fixtures";

const PROVIDERS = [DEV, PROD];
const ISSUERS: Record<string, string> = { [DEV]: DEV_ISSUER, [PROD]: PROD_ISSUER };

/** Namespaces and service accounts as teams name them, plus the patterns allowWildcards admits. */
const namespace = fc.constantFrom("team-a", "team-b", "data-eng", "kubeflow", "ml-prod", "team-*", "ci-?", "*-prod", "*", "?*", "??*", "kube-system");
const account = fc.constantFrom("default-editor", "default", "pipeline-runner", "kf-user", "*", "runner-?");
/** Only what the provider's check accepts (with allowWildcards on: the widest it ever writes). */
const subject = fc
    .tuple(namespace, account)
    .map(([ns, sa]) => `system:serviceaccount:${ns}:${sa}`)
    .filter((s) => subjectProblem(s, true) === undefined);
const subjects = fc.uniqueArray(subject, { minLength: 1, maxLength: 6 });
const provider = fc.constantFrom(...PROVIDERS);

/** Statements of other owners that break no mandatory rule. */
const foreign: fc.Arbitrary<PolicyStatement> = fc.oneof(
    fc.constant<PolicyStatement>({ Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" }),
    fc.constant<PolicyStatement>({ Sid: "CiRunners", Effect: "Allow", Principal: { Federated: DEV }, Action: WEB, Condition: { StringLike: { [`${DEV_ISSUER}:sub`]: "system:serviceaccount:ci-*:runner" }, StringEquals: { [`${DEV_ISSUER}:aud`]: STS } } }),
    fc.constant<PolicyStatement>({ Sid: "Quarantine", Effect: "Deny", Principal: { Federated: PROD }, Action: WEB, Condition: { StringEquals: { [`${PROD_ISSUER}:aud`]: STS } } }),
    fc.constant<PolicyStatement>({ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole", Condition: { StringEquals: { "aws:PrincipalOrgID": "o-abc123" } } }),
    fc.tuple(provider, subjects).map(([p, s]) => ({ ...webIdentityStatement(p, s.filter((x) => !/[*?]/.test(x)).concat(s.every((x) => /[*?]/.test(x)) ? ["system:serviceaccount:team-z:default-editor"] : [])), Sid: "Restricted", Condition: { StringEquals: { [`${ISSUERS[p]}:aud`]: STS, [`${ISSUERS[p]}:sub`]: "system:serviceaccount:team-z:default-editor", "aws:RequestTag/team": "ml" } } })),
);

/** A starting document: the provider's own statements for some providers, and foreign ones. */
const startingDocument: fc.Arbitrary<PolicyDocument> = fc
    .tuple(fc.array(fc.tuple(provider, subjects), { maxLength: 2 }), fc.array(foreign, { maxLength: 3 }))
    .filter(([own, other]) => own.length + other.length > 0)
    .map(([own, other]) => {
        const built = own.flatMap(([p, s]) => buildTrustPolicy(p, s).Statement as PolicyStatement[]);
        return { Version: "2012-10-17", Statement: [...built, ...other] };
    });

const edit = fc.record({ providerArn: provider, add: fc.uniqueArray(subject, { maxLength: 4 }), remove: fc.uniqueArray(subject, { maxLength: 4 }) });

const mandatory = (document: PolicyDocument) => checkTrustPolicy(document, { maxPolicyChars: 8192 }).filter(isMandatory);

describe("the TrustSubjects provider and the trust-policy rules", () => {
    it("GIVEN any document without a mandatory finding WHEN the provider applies any sequence of subject changes THEN each document it writes has none", () => {
        let writes = 0;
        fc.assert(
            fc.property(startingDocument, fc.array(edit, { minLength: 1, maxLength: 5 }), (start, edits) => {
                fc.pre(mandatory(start).length === 0);
                let document = start;
                for (const change of edits) {
                    try {
                        document = applyTrustChange(document, change).document;
                    } catch (err) {
                        if (err instanceof TrustPolicyError) continue; // refused: nothing is written
                        throw err;
                    }
                    writes++;
                    assert.deepEqual(mandatory(document), [], JSON.stringify(document));
                }
            }),
            { numRuns: 400, seed: 20261202 },
        );
        assert.ok(writes > 500, `only ${writes} writes were exercised`);
    });

    it("GIVEN the provider's own fresh documents THEN every accepted subject set passes every mandatory rule", () => {
        fc.assert(
            fc.property(provider, subjects, (p, s) => {
                assert.deepEqual(mandatory(buildTrustPolicy(p, s)), []);
            }),
            { numRuns: 300, seed: 7 },
        );
    });

    it("GIVEN removing every owned subject THEN the provider refuses or drops the statement, never leaving an aud-only one (what Kubeflow's controller does)", () => {
        fc.assert(
            fc.property(provider, subjects, fc.array(foreign, { minLength: 1, maxLength: 2 }), (p, s, other) => {
                const start: PolicyDocument = { Version: "2012-10-17", Statement: [...(buildTrustPolicy(p, s).Statement as PolicyStatement[]), ...other] };
                fc.pre(mandatory(start).length === 0);
                try {
                    const { document } = applyTrustChange(start, { providerArn: p, add: [], remove: s });
                    assert.deepEqual(mandatory(document), []);
                } catch (err) {
                    assert.ok(err instanceof TrustPolicyError, String(err));
                }
            }),
            { numRuns: 200, seed: 11 },
        );
    });
});

/** A third cluster of the account, named by no statement: what Principal "*" would also let in. */
const OTHER_ISSUER = "oidc.eks.ap-south-1.amazonaws.com/id/A1B2C3D4E5F60718293A4B5C6D7E8F90";
const OTHER = `arn:aws:iam::${ACCOUNT}:oidc-provider/${OTHER_ISSUER}`;
const STRANGER = sa("intruder", "default");
const SUBJECTS = [sa("team-a"), sa("team-b"), STRANGER];

/** Condition entries as authors write them: restricting, excluding, misspelt, keyed to the other provider, on who or on something else. */
const ENTRIES: Array<[string, string, string]> = [
    ["StringEquals", `${DEV_ISSUER}:sub`, sa("team-a")],
    ["StringLike", `${DEV_ISSUER}:sub`, "system:serviceaccount:team-*:default-editor"],
    ["StringLike", `${DEV_ISSUER}:sub`, "system:serviceaccount:*:default-editor"],
    ["StringNotEquals", `${DEV_ISSUER}:sub`, sa("kube-system", "default")],
    ["StringEquals", `${DEV_ISSUER}:aud`, STS],
    ["StringEquals", `${PROD_ISSUER}:sub`, sa("team-b")],
    ["StringEquals", `${PROD_ISSUER}:aud`, STS],
    ["StringEquals", `https://${DEV_ISSUER}:sub`, sa("team-a")],
    ["StringEqualsIfExists", `https://${PROD_ISSUER}:sub`, sa("team-b")],
    ["StringEquals", "aws:PrincipalOrgID", "o-abc123"],
    ["StringEqualsIfExists", "aws:PrincipalOrgID", "o-abc123"],
    ["StringEquals", "aws:principalaccount", ACCOUNT],
    ["Bool", "aws:SecureTransport", "true"],
];

const statementArb: fc.Arbitrary<PolicyStatement> = fc
    .record({
        effect: fc.constantFrom("Allow", "Allow", "Allow", "Deny"),
        principal: fc.constantFrom<PolicyStatement["Principal"]>({ Federated: DEV }, { Federated: [DEV, PROD] }, { Federated: PROD }, "*", { AWS: "*" }),
        action: fc.constantFrom(WEB, "sts:*", "sts:AssumeRole"),
        entries: fc.subarray(ENTRIES, { maxLength: 4 }),
    })
    .map(({ effect, principal, action, entries }) => {
        const condition: Record<string, Record<string, string>> = {};
        for (const [op, key, value] of entries) condition[op] = { ...condition[op], [key]: value };
        return { Effect: effect, Principal: principal, Action: action, ...(entries.length > 0 ? { Condition: condition } : {}) };
    });
const documentArb = fc.array(statementArb, { minLength: 1, maxLength: 3 }).map((statements): PolicyDocument => ({ Version: "2012-10-17", Statement: statements }));

const ask = (document: PolicyDocument, providerArn: string, sub: string) => evaluateTrustPolicy(document, { providerArn, sub, aud: STS });

describe("the trust-policy rules and the doctor's evaluator", () => {
    it("GIVEN any document without a mandatory finding THEN the evaluator lets no stranger in, from any cluster of the account", () => {
        let clean = 0;
        fc.assert(
            fc.property(documentArb, (document) => {
                fc.pre(mandatory(document).length === 0);
                clean++;
                for (const provider of [DEV, PROD, OTHER]) assert.equal(ask(document, provider, STRANGER).allowed, false, `${provider}\n${JSON.stringify(document)}`);
            }),
            { numRuns: 1500, seed: 19 },
        );
        assert.ok(clean > 200, `only ${clean} clean documents were exercised`);
    });

    it("GIVEN a statement the rules say never matches for a provider THEN the evaluator matches it for no service account of that provider", () => {
        let never = 0;
        fc.assert(
            fc.property(documentArb, (document) => {
                for (const f of checkTrustPolicy(document).filter((x) => x.rule === "irsa-condition-never-matches")) {
                    never++;
                    const provider = /trusts (arn:\S+) but requires/.exec(f.message)![1];
                    for (const sub of SUBJECTS) assert.equal(ask(document, provider, sub).statements[f.statement].matched, false, `${sub}\n${JSON.stringify(document)}`);
                }
            }),
            { numRuns: 800, seed: 1919 },
        );
        assert.ok(never > 100, `only ${never} never-matches findings were exercised`);
    });
});
