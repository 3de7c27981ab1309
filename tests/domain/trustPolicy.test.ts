import { strict as assert } from "assert";
import {
    applySubjectChange,
    buildTrustPolicy,
    conditionKeys,
    parsePolicyDocument,
    policySize,
    presentSubjects,
    serializePolicy,
    statementsOf,
    TrustPolicyError,
    webIdentityStatement,
    type PolicyDocument,
    type PolicyStatement,
} from "../../domain/trustPolicy";

import { DEV, DEV_ISSUER, KF_USER, PROD, PROD_ISSUER, sa, sharedRolePolicy, STS, WEB } from "../support/fixtures";

/** Freezes a document deeply, so that an edit that mutates its input throws. */
function frozen<T>(value: T): T {
    if (typeof value === "object" && value !== null) {
        for (const v of Object.values(value)) frozen(v);
        Object.freeze(value);
    }
    return value;
}

/** Statements of `doc` by Sid (every fixture statement has one). */
function bySid(doc: PolicyDocument): Record<string, PolicyStatement> {
    return Object.fromEntries(statementsOf(doc).map((s) => [s.Sid ?? "(none)", s]));
}

function subOf(statement: PolicyStatement, issuer: string, operator = "StringEquals"): unknown {
    return statement.Condition?.[operator]?.[`${issuer}:sub`];
}

/** No statement may trust an audience without naming subjects: that trusts the whole cluster. */
function assertNoAudOnly(doc: PolicyDocument): void {
    for (const statement of statementsOf(doc)) {
        const keys = Object.values(statement.Condition ?? {}).flatMap((entries) => Object.keys(entries));
        if (keys.some((k) => k.endsWith(":aud"))) {
            assert.ok(keys.some((k) => k.endsWith(":sub")), `aud-only statement: ${JSON.stringify(statement)}`);
        }
    }
}

/** A role trusted by kfctl and alice on dev, alice on prod (a lone string), a CI pattern, a hand-restricted statement and EC2. */
const kitchenSink = (): PolicyDocument => sharedRolePolicy([KF_USER, sa("alice")], sa("alice"));

describe("trustPolicy: the trust-policy algebra", () => {
    describe("building, parsing, serializing, measuring", () => {
        it("GIVEN subjects of one cluster WHEN a fresh trust policy is built THEN it is the IRSA document of the EKS docs, minified", () => {
            const doc = buildTrustPolicy(DEV, [sa("usera"), sa("userb")]);
            assert.deepEqual(doc, {
                Version: "2012-10-17",
                Statement: [
                    {
                        Effect: "Allow",
                        Principal: { Federated: DEV },
                        Action: WEB,
                        Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: [sa("usera"), sa("userb")] } },
                    },
                ],
            });
            const text = serializePolicy(doc);
            assert.equal(
                text,
                `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"${DEV}"},"Action":"${WEB}",` +
                    `"Condition":{"StringEquals":{"${DEV_ISSUER}:aud":"${STS}","${DEV_ISSUER}:sub":["${sa("usera")}","${sa("userb")}"]}}}]}`,
            );
            assert.equal(policySize(doc), text.length);
            assert.deepEqual(conditionKeys(PROD), { sub: `${PROD_ISSUER}:sub`, aud: `${PROD_ISSUER}:aud` });
        });

        it("GIVEN exact subjects and patterns WHEN built THEN they get separate statements (conditions under two operators would be ANDed)", () => {
            const doc = buildTrustPolicy(DEV, [sa("alice"), sa("team-*")]);
            const [exact, like] = statementsOf(doc);
            assert.deepEqual(exact.Condition, { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: [sa("alice")] } });
            assert.deepEqual(like.Condition, { StringEquals: { [`${DEV_ISSUER}:aud`]: STS }, StringLike: { [`${DEV_ISSUER}:sub`]: [sa("team-*")] } });
            assert.throws(() => webIdentityStatement(DEV, [sa("alice"), sa("team-*")]), TrustPolicyError);
        });

        it("GIVEN no subject WHEN a statement or policy is built THEN it refuses: an aud-only statement is never created", () => {
            assert.throws(() => buildTrustPolicy(DEV, []), TrustPolicyError);
            assert.throws(() => webIdentityStatement(DEV, []), /aud-only/);
            assert.throws(() => buildTrustPolicy("arn:aws:iam::123456789012:role/not-a-provider", [sa("a")]), /not an IAM OIDC provider ARN/);
        });

        it("GIVEN GetRole's URL-encoded, pretty-printed document WHEN parsed THEN it equals the JSON, and its size ignores white space", () => {
            const doc = kitchenSink();
            const pretty = JSON.stringify(doc, null, 2);
            const encoded = encodeURIComponent(pretty);
            assert.ok(encoded.startsWith("%7B"));
            const parsed = parsePolicyDocument(encoded);
            assert.deepEqual(parsed, doc);
            assert.deepEqual(parsePolicyDocument(`\n  ${pretty}`), doc); // console / CloudFormation: plain JSON
            // form encoding (spaces as "+"), as some IAM emulators answer
            assert.deepEqual(parsePolicyDocument(new URLSearchParams({ d: pretty }).toString().slice(2)), doc);
            assert.equal(policySize(parsed), JSON.stringify(doc).length);
            assert.ok(policySize(parsed) < pretty.length);
            assert.ok(!/\s/.test(serializePolicy(parsed).replace(/"[^"]*"/g, "")), "serialized form has white space outside strings");
            // a subject with characters that URL encoding must escape survives
            const odd = buildTrustPolicy(DEV, [sa("a-b", "x.y")]);
            assert.deepEqual(parsePolicyDocument(encodeURIComponent(serializePolicy(odd))), odd);
        });

        it("GIVEN documents that are not trust policies WHEN parsed THEN TrustPolicyError says why", () => {
            const bad: [string, RegExp][] = [
                ["%E0%A4%A", /neither JSON nor URL-encoded/],
                ["%7Bnot json", /not valid JSON/],
                ["[]", /not valid JSON|not a JSON object/],
                ['{"Version":"2012-10-17"}', /no Statement/],
                ['{"Statement":[{"Principal":"*"}]}', /without an Effect/],
                ['{"Statement":"Allow"}', /no Statement|without an Effect/],
            ];
            for (const [text, reason] of bad) {
                assert.throws(() => parsePolicyDocument(text), (err: Error) => err instanceof TrustPolicyError && reason.test(err.message), text);
            }
        });
    });

    describe("editing only what is owned (rule 1) and never leaving aud-only statements (rule 2)", () => {
        it("GIVEN a role shared by kfctl, a prod cluster, CI patterns, a restricted statement and EC2 WHEN subjects are added and removed for each cluster THEN only they change", () => {
            const original = frozen(kitchenSink());
            const untouched = (doc: PolicyDocument, ...sids: string[]) => {
                for (const sid of sids) assert.deepEqual(bySid(doc)[sid], bySid(original)[sid], `${sid} changed`);
                assertNoAudOnly(doc);
            };

            // ml-team:trainer is in RestrictedToMlTeam, whose extra condition would apply to it: that does not count.
            assert.deepEqual(presentSubjects(original, DEV).sort(), [KF_USER, sa("alice"), "system:serviceaccount:ci-*:runner"].sort());
            assert.deepEqual(presentSubjects(original, DEV, [sa("alice"), sa("ml-team", "trainer")]), [sa("alice")]);
            assert.deepEqual(presentSubjects(original, PROD), [sa("alice")]);

            // WHEN dev gains bob and dave
            const step1 = frozen(applySubjectChange(original, { providerArn: DEV, add: [sa("bob"), sa("dave")], remove: [] }));
            assert.equal(step1.changed, true);
            assert.deepEqual(subOf(bySid(step1.document).KubeflowUsers, DEV_ISSUER), [KF_USER, sa("alice"), sa("bob"), sa("dave")]);
            untouched(step1.document, "ProdCluster", "CiRunners", "RestrictedToMlTeam", "Ec2");
            assert.deepEqual(Object.keys(bySid(step1.document)), Object.keys(bySid(original)), "statement order or count changed");

            // WHEN dev loses alice and dave (bob is both added and removed: add wins)
            const step2 = frozen(applySubjectChange(step1.document, { providerArn: DEV, add: [sa("bob")], remove: [sa("alice"), sa("dave"), sa("bob")] }));
            assert.deepEqual(subOf(bySid(step2.document).KubeflowUsers, DEV_ISSUER), [KF_USER, sa("bob")]);
            untouched(step2.document, "ProdCluster", "CiRunners", "RestrictedToMlTeam", "Ec2");
            assert.deepEqual(presentSubjects(step2.document, PROD), [sa("alice")], "prod's alice is another cluster's subject");

            // WHEN prod gains carol: its lone string becomes a list, Sid, list-shaped Principal and Action stay
            const step3 = frozen(applySubjectChange(step2.document, { providerArn: PROD, add: [sa("carol")], remove: [] }));
            const prod3 = bySid(step3.document).ProdCluster;
            assert.deepEqual(prod3, { ...bySid(original).ProdCluster, Condition: { StringEquals: { [`${PROD_ISSUER}:aud`]: [STS], [`${PROD_ISSUER}:sub`]: [sa("alice"), sa("carol")] } } });
            untouched(step3.document, "CiRunners", "RestrictedToMlTeam", "Ec2");
            assert.deepEqual(bySid(step3.document).KubeflowUsers, bySid(step2.document).KubeflowUsers);

            // WHEN prod loses both: the statement goes, no aud-only statement remains
            const step4 = applySubjectChange(step3.document, { providerArn: PROD, add: [], remove: [sa("alice"), sa("carol")] });
            assert.deepEqual(Object.keys(bySid(step4.document)), ["KubeflowUsers", "CiRunners", "RestrictedToMlTeam", "Ec2"]);
            untouched(step4.document, "CiRunners", "RestrictedToMlTeam", "Ec2");
            assert.equal(serializePolicy(step4.document).includes(PROD_ISSUER), false);

            // WHEN a dev pattern is added: it joins the StringLike statement, whose lone string becomes a list
            const step5 = applySubjectChange(step4.document, { providerArn: DEV, add: [sa("team-*")], remove: [] });
            assert.deepEqual(subOf(bySid(step5.document).CiRunners, DEV_ISSUER, "StringLike"), ["system:serviceaccount:ci-*:runner", sa("team-*")]);
            assert.deepEqual(bySid(step5.document).KubeflowUsers, bySid(step4.document).KubeflowUsers);
            untouched(step5.document, "RestrictedToMlTeam", "Ec2");
        });

        // Legal shapes of a statement this project may edit.
        const manageable: [string, PolicyDocument][] = [
            [
                "Statement object; Principal, Action, sub and aud strings",
                { Version: "2012-10-17", Statement: { Sid: "One", Effect: "Allow", Principal: { Federated: DEV }, Action: WEB, Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: KF_USER } } } },
            ],
            [
                "Statement list; Principal, Action, sub and aud lists",
                { Version: "2012-10-17", Statement: [{ Sid: "One", Effect: "Allow", Principal: { Federated: [DEV] }, Action: [WEB], Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: [STS], [`${DEV_ISSUER}:sub`]: [KF_USER] } } }] },
            ],
            [
                "no aud condition, no Version",
                { Statement: [{ Sid: "One", Effect: "Allow", Principal: { Federated: DEV }, Action: WEB, Condition: { StringEquals: { [`${DEV_ISSUER}:sub`]: [KF_USER] } } }] },
            ],
        ];
        for (const [shape, doc] of manageable) {
            it(`GIVEN a manageable statement (${shape}) WHEN a subject is added, then replaced THEN the shape, Sid and foreign subject stay`, () => {
                const original = frozen(doc);
                const single = !Array.isArray(original.Statement);
                assert.deepEqual(presentSubjects(original, DEV), [KF_USER]);

                const added = applySubjectChange(original, { providerArn: DEV, add: [sa("alice")], remove: [] });
                assert.equal(Array.isArray(added.document.Statement), !single, "Statement changed between object and list");
                const [statement] = statementsOf(added.document);
                assert.equal(statementsOf(added.document).length, 1);
                assert.deepEqual(asArray(subOf(statement, DEV_ISSUER)), [KF_USER, sa("alice")]);
                assert.deepEqual({ ...statement, Condition: undefined }, { ...statementsOf(original)[0], Condition: undefined });
                assert.equal(added.document.Version, original.Version);

                // replacing alice with carol and removing the foreign one is not ours to do: we only remove owned
                const replaced = applySubjectChange(added.document, { providerArn: DEV, add: [sa("carol")], remove: [sa("alice")] });
                assert.deepEqual(asArray(subOf(statementsOf(replaced.document)[0], DEV_ISSUER)), [KF_USER, sa("carol")]);
                assert.equal(statementsOf(replaced.document)[0].Sid, "One");

                // idempotent: adding what is there, removing what is not, writes nothing
                const again = applySubjectChange(replaced.document, { providerArn: DEV, add: [sa("carol"), KF_USER], remove: [sa("zed")] });
                assert.equal(again.changed, false);
                assert.equal(again.document, replaced.document);
            });
        }

        // Statements that look alike but mean something else: they are never edited.
        const base = (patch: Partial<PolicyStatement>): PolicyStatement => ({
            Sid: "Foreign",
            Effect: "Allow",
            Principal: { Federated: DEV },
            Action: WEB,
            Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: [KF_USER] } },
            ...patch,
        });
        const foreign: [string, PolicyStatement][] = [
            ["a Deny", base({ Effect: "Deny" })],
            ["an extra condition key", base({ Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: [KF_USER] }, IpAddress: { "aws:SourceIp": "10.0.0.0/8" } } })],
            ["sub under both StringEquals and StringLike (ANDed)", base({ Condition: { StringEquals: { [`${DEV_ISSUER}:sub`]: [KF_USER] }, StringLike: { [`${DEV_ISSUER}:sub`]: "system:serviceaccount:kubeflow:*" } } })],
            ["another audience", base({ Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: "my-app", [`${DEV_ISSUER}:sub`]: [KF_USER] } } })],
            ["two federated providers", base({ Principal: { Federated: [DEV, PROD] } })],
            ["a second principal type", base({ Principal: { Federated: DEV, AWS: "arn:aws:iam::123456789012:root" } })],
            ["a second action", base({ Action: [WEB, "sts:TagSession"] })],
            ["a set operator", base({ Condition: { "ForAnyValue:StringEquals": { [`${DEV_ISSUER}:sub`]: [KF_USER] } } })],
        ];
        for (const [what, statement] of foreign) {
            it(`GIVEN a statement with ${what} WHEN a subject is added THEN that statement is NOT edited and a new one is added`, () => {
                const original = frozen({ Version: "2012-10-17", Statement: [statement] } as PolicyDocument);
                assert.deepEqual(presentSubjects(original, DEV), []);
                const { document, changed } = applySubjectChange(original, { providerArn: DEV, add: [sa("alice")], remove: [] });
                assert.equal(changed, true);
                const [kept, added] = statementsOf(document);
                assert.deepEqual(kept, statement);
                assert.deepEqual(added, webIdentityStatement(DEV, [sa("alice")]));
                assert.equal(statementsOf(document).length, 2);
                assertNoAudOnly(document);
            });
        }

        it("GIVEN our statement is the role's only one WHEN its last subject is removed THEN it fails clearly instead of writing an empty or permissive policy", () => {
            const only = frozen(buildTrustPolicy(DEV, [sa("alice")]));
            assert.throws(
                () => applySubjectChange(only, { providerArn: DEV, add: [], remove: [sa("alice")] }),
                (err: Error) => err instanceof TrustPolicyError && /no statement/.test(err.message) && /keep one subject/.test(err.message),
            );
            // replacing the last subject keeps the statement (and its place) instead of dropping and re-adding it
            const withSid = frozen({ Version: "2012-10-17", Statement: { ...webIdentityStatement(DEV, [sa("alice")]), Sid: "Profiles" } } as PolicyDocument);
            const replaced = applySubjectChange(withSid, { providerArn: DEV, add: [sa("bob")], remove: [sa("alice")] });
            assert.deepEqual(replaced.document, { Version: "2012-10-17", Statement: { ...webIdentityStatement(DEV, [sa("bob")]), Sid: "Profiles" } });
        });

        it("GIVEN owned subjects spread over two dev statements and a foreign statement after them WHEN all owned are removed THEN emptied statements go and the rest keeps its order", () => {
            const doc = frozen({
                Version: "2012-10-17",
                Statement: [
                    { ...webIdentityStatement(DEV, [sa("alice")]), Sid: "A" },
                    { ...webIdentityStatement(DEV, [sa("bob"), KF_USER]), Sid: "B" },
                    { ...webIdentityStatement(PROD, [sa("alice")]), Sid: "P" },
                ],
            } as PolicyDocument);
            const { document } = applySubjectChange(doc, { providerArn: DEV, add: [], remove: [sa("alice"), sa("bob")] });
            assert.deepEqual(Object.keys(bySid(document)), ["B", "P"]);
            assert.deepEqual(subOf(bySid(document).B, DEV_ISSUER), [KF_USER]);
            assert.deepEqual(bySid(document).P, bySid(doc).P);
            assertNoAudOnly(document);
            // a subject already trusted by the second statement is not added to the first
            const noop = applySubjectChange(doc, { providerArn: DEV, add: [sa("bob"), sa("alice")], remove: [] });
            assert.equal(noop.changed, false);
        });

        it("GIVEN a role with no statement for the cluster WHEN subjects and patterns are added THEN one statement per operator is appended", () => {
            const ec2 = frozen({ Version: "2012-10-17", Statement: { Effect: "Allow", Principal: { Service: "ec2.amazonaws.com" }, Action: "sts:AssumeRole" } } as PolicyDocument);
            const { document } = applySubjectChange(ec2, { providerArn: DEV, add: [sa("team-*"), sa("alice")], remove: [] });
            const statements = statementsOf(document);
            assert.equal(statements.length, 3);
            assert.deepEqual(statements[0], ec2.Statement);
            assert.deepEqual(statements.slice(1), statementsOf(buildTrustPolicy(DEV, [sa("alice"), sa("team-*")])));
            assert.deepEqual(presentSubjects(document, DEV).sort(), [sa("alice"), sa("team-*")]);
        });
    });
});

function asArray(value: unknown): unknown[] {
    return Array.isArray(value) ? value : [value];
}

describe("trustPolicy: statements a person hardened are never bypassed", () => {
    const ours = (condition: Record<string, Record<string, string | string[]>>) =>
        ({
            Version: "2012-10-17",
            Statement: [{ Sid: "KubeflowIrsa", Effect: "Allow", Principal: { Federated: DEV }, Action: WEB, Condition: condition }],
        }) as PolicyDocument & { Statement: PolicyStatement[] };

    it("GIVEN our statement with an aws:SourceIp condition a person added WHEN a subject is added or removed THEN the edit is refused, naming the statement, the subjects and the fix", () => {
        const doc = ours({ StringEquals: { [`${DEV_ISSUER}:sub`]: [sa("alice"), sa("bob")], [`${DEV_ISSUER}:aud`]: STS }, IpAddress: { "aws:SourceIp": "10.0.0.0/8" } });
        assert.throws(
            () => applySubjectChange(doc, { providerArn: DEV, add: [sa("alice")], remove: [sa("bob")] }),
            /statement 0 \(Sid "KubeflowIrsa"\) trusts system:serviceaccount:alice:default-editor, system:serviceaccount:bob:default-editor under conditions kubeflow-irsa does not write \(.*IpAddress aws:SourceIp\).*nothing was changed\. Fix: take these subjects out of that statement/,
        );
        assert.throws(() => applySubjectChange(doc, { providerArn: DEV, add: [sa("alice"), sa("bob"), sa("carol")], remove: [] }), /would trust them without those conditions/);
    });

    it("GIVEN the sub key spelled with the issuer in another case (IAM compares keys case-insensitively) WHEN its subject is removed THEN the edit is refused instead of leaving it trusted", () => {
        const doc = ours({ StringEquals: { [`${DEV_ISSUER.toUpperCase()}:sub`]: [sa("alice")] } });
        assert.throws(() => applySubjectChange(doc, { providerArn: DEV, add: [], remove: [sa("alice")] }), /statement 0 .*trusts system:serviceaccount:alice:default-editor/);
    });

    it("GIVEN a hardened statement that holds none of the stack's subjects THEN it is left alone and the edit goes on", () => {
        const doc = ours({ StringEquals: { [`${DEV_ISSUER}:sub`]: [sa("ci")] }, IpAddress: { "aws:SourceIp": "10.0.0.0/8" } });
        const edit = applySubjectChange(doc, { providerArn: DEV, add: [sa("alice")], remove: [] });
        assert.equal(edit.changed, true);
        assert.deepEqual(presentSubjects(edit.document, DEV), [sa("alice")]);
        assert.deepEqual((edit.document.Statement as unknown[])[0], doc.Statement[0]);
    });
});
