// The policy pack's policies driven with the argument shapes @pulumi/policy passes them: resource
// validations get the resource's inputs (behind the unknown-checking proxy), the stack validation
// gets every resource's outputs and the policy's configuration.
import { strict as assert } from "assert";
import { unknownCheckingProxy, UnknownValueError, type PolicyResource, type ResourceValidationArgs, type ResourceValidationPolicy, type StackValidationPolicy } from "@pulumi/policy";
import { policies, ROLE_TYPE, TRUST_SUBJECTS_TYPE } from "../../policy/policies";
import { TRUST_RULES } from "../../analysis/trustRules";
import { DEV, DEV_ISSUER, sa, sharedRolePolicy, STS, WEB } from "../support/fixtures";

/** Pulumi's unknown-string sentinel, as the engine sends a preview-time Output. */
const UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9";
const STACK = "urn:pulumi:prod::ml-platform";
const roleUrn = (name: string) => `${STACK}::aws:iam/role:Role::${name}`;

function resourceArgs(type: string, name: string, props: Record<string, unknown>): ResourceValidationArgs {
    return {
        type,
        name,
        urn: `${STACK}::${type}::${name}`,
        props: unknownCheckingProxy(props),
        opts: { protect: false, ignoreChanges: [], aliases: [], customTimeouts: { createSeconds: 0, updateSeconds: 0, deleteSeconds: 0 }, additionalSecretOutputs: [] },
        stackTags: new Map(),
        getConfig: <T extends object>() => ({}) as T,
        isType: () => false,
        asType: () => undefined,
        notApplicable: (reason?: string) => {
            throw new Error(`not applicable: ${reason}`);
        },
    } as unknown as ResourceValidationArgs;
}

const byName = (name: string) => policies.find((p) => p.name === name)!;

/** The violations one resource policy reports for one resource. */
function violations(policyName: string, type: string, props: Record<string, unknown>): string[] {
    const policy = byName(policyName) as ResourceValidationPolicy;
    const reported: string[] = [];
    const validate = policy.validateResource as (args: ResourceValidationArgs, report: (m: string, urn?: string) => void) => void;
    validate(resourceArgs(type, "r", props), (message) => reported.push(message));
    return reported;
}

const audOnly = JSON.stringify({ Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Federated: DEV }, Action: WEB, Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS } } }] });

describe("policy pack (policy/)", () => {
    it("GIVEN the pack THEN it has one policy per rule, named and enforced as the rules say", () => {
        assert.deepEqual(
            policies.map((p) => [p.name, p.enforcementLevel]),
            TRUST_RULES.map((r) => [r.id, r.level]),
        );
        assert.ok("validateStack" in byName("trust-policy-headroom"), "headroom reads outputs (policyChars)");
    });

    describe("GIVEN an aws.iam.Role of any stack", () => {
        it("WHEN its assumeRolePolicy is aud-only (JSON text, as @pulumi/aws sends it) THEN irsa-aud-only reports it, naming the statement and the fix", () => {
            const [message, ...rest] = violations("irsa-aud-only", ROLE_TYPE, { name: "legacy-kf-user", assumeRolePolicy: audOnly });
            assert.deepEqual(rest, []);
            assert.match(message, /^statement 0 allows sts:AssumeRoleWithWebIdentity from .* without restricting .*:sub: every service account in that cluster can assume this role; fix: add StringEquals/);
        });

        it("WHEN its assumeRolePolicy is an object, URL-encoded text, or an open principal THEN the right rule reports", () => {
            const open = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole" }] };
            assert.equal(violations("trust-open-principal", ROLE_TYPE, { assumeRolePolicy: open }).length, 1);
            assert.equal(violations("irsa-aud-only", ROLE_TYPE, { assumeRolePolicy: encodeURIComponent(audOnly) }).length, 1);
            assert.deepEqual(violations("trust-open-principal", ROLE_TYPE, { assumeRolePolicy: audOnly }), []);
        });

        it("WHEN an open principal carries a condition that does not limit who, or a sub key is written with https:// THEN the mandatory and the advisory rule report it", () => {
            const secure = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { AWS: "*" }, Action: "sts:AssumeRole", Condition: { Bool: { "aws:SecureTransport": "true" } } }] };
            assert.equal(byName("trust-open-principal").enforcementLevel, "mandatory");
            assert.equal(violations("trust-open-principal", ROLE_TYPE, { assumeRolePolicy: JSON.stringify(secure) }).length, 1);
            const https = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Federated: DEV }, Action: WEB, Condition: { StringEquals: { [`https://${DEV_ISSUER}:sub`]: "system:serviceaccount:team-a:default-editor", [`${DEV_ISSUER}:aud`]: STS } } }] };
            assert.equal(byName("irsa-condition-never-matches").enforcementLevel, "advisory");
            assert.equal(violations("irsa-condition-never-matches", ROLE_TYPE, { assumeRolePolicy: JSON.stringify(https) }).length, 1);
            assert.deepEqual(violations("irsa-aud-only", ROLE_TYPE, { assumeRolePolicy: JSON.stringify(https) }), []);
        });

        it("WHEN it is a clean shared role THEN no policy reports; other resource types are not judged", () => {
            for (const p of policies.filter((x) => "validateResource" in x)) {
                assert.deepEqual(violations(p.name, ROLE_TYPE, { assumeRolePolicy: JSON.stringify(sharedRolePolicy([sa("a")], sa("b"))) }), [], p.name);
                assert.deepEqual(violations(p.name, "aws:s3/bucket:Bucket", { policy: audOnly }), [], p.name);
            }
        });

        it("WHEN its trust policy is unknown at preview THEN the policy raises UnknownValueError, which the analyzer reports as not checked yet", () => {
            assert.throws(() => violations("irsa-aud-only", ROLE_TYPE, { assumeRolePolicy: UNKNOWN }), UnknownValueError);
        });
    });

    describe("GIVEN a kubeflow-irsa TrustSubjects resource", () => {
        const inputs = (subjects: string[], allowWildcards = false) => ({
            role: "arn:aws:iam::123456789012:role/kf-user-us-west-2-kf-dev",
            providerArn: DEV,
            subjects,
            anchors: [sa("kubeflow", "kf-user")],
            maxPolicyChars: 2048,
            allowWildcards,
            retiredStatements: [],
        });

        it("WHEN its subjects are namespaces THEN the statement it would own passes every rule", () => {
            for (const p of policies.filter((x) => "validateResource" in x)) assert.deepEqual(violations(p.name, TRUST_SUBJECTS_TYPE, inputs([sa("team-a"), sa("team-b")])), [], p.name);
        });

        it("WHEN a wildcard subject matches every namespace THEN irsa-sub-matches-every-namespace reports it", () => {
            const reported = violations("irsa-sub-matches-every-namespace", TRUST_SUBJECTS_TYPE, inputs(["system:serviceaccount:*:default-editor"], true));
            assert.equal(reported.length, 1);
            assert.match(reported[0], /"system:serviceaccount:\*:default-editor", which matches service accounts of every namespace/);
        });

        it("WHEN its provider is unknown at preview THEN the check waits for it (UnknownValueError)", () => {
            assert.throws(() => violations("irsa-aud-only", TRUST_SUBJECTS_TYPE, { ...inputs([sa("a")]), providerArn: UNKNOWN }), UnknownValueError);
        });
    });

    describe("GIVEN the stack's outputs (trust-policy-headroom)", () => {
        const run = (resources: PolicyResource[], config: object = {}) => {
            const policy = byName("trust-policy-headroom") as StackValidationPolicy;
            const reported: { message: string; urn?: string }[] = [];
            policy.validateStack(
                { resources, stackTags: new Map(), getConfig: <T extends object>() => config as T, notApplicable: () => undefined } as never,
                (message, urn) => reported.push({ message, urn }),
            );
            return reported;
        };
        const resource = (type: string, name: string, props: Record<string, unknown>) => ({ type, name, urn: type === ROLE_TYPE ? roleUrn(name) : `${STACK}::${type}::${name}`, props }) as unknown as PolicyResource;

        it("WHEN a TrustSubjects resource's role is at 1,900 of 2,048 characters THEN it is reported against that resource; at 1,500 it is not", () => {
            const busy = resource(TRUST_SUBJECTS_TYPE, "trust-kf-user", { roleName: "kf-user-us-west-2-kf-dev", policyChars: 1900, maxPolicyChars: 2048 });
            const calm = resource(TRUST_SUBJECTS_TYPE, "trust-kf-admin", { roleName: "kf-admin-us-west-2-kf-dev", policyChars: 1500, maxPolicyChars: 2048 });
            const reported = run([busy, calm]);
            assert.equal(reported.length, 1);
            assert.equal(reported[0].urn, busy.urn);
            assert.match(reported[0].message, /^role kf-user-us-west-2-kf-dev: the trust policy is 1900 of 2048 characters \(93%, above 90%\); fix: plan for more roles/);
        });

        it("WHEN a role's own trust policy is measured THEN the configured quota and threshold apply", () => {
            const subjects = Array.from({ length: 30 }, (_, i) => sa(`team-${String(i).padStart(3, "0")}`));
            const policy = { Version: "2012-10-17", Statement: [{ Effect: "Allow", Principal: { Federated: DEV }, Action: WEB, Condition: { StringEquals: { [`${DEV_ISSUER}:aud`]: STS, [`${DEV_ISSUER}:sub`]: subjects } } }] };
            const role = resource(ROLE_TYPE, "legacy", { assumeRolePolicy: JSON.stringify(policy) });
            assert.equal(run([role]).length, 1, "about 1,900 characters: above 90% of the default 2,048");
            assert.equal(run([role], { maxPolicyChars: 4096 }).length, 0);
            assert.equal(run([role], { maxPolicyChars: 4096, threshold: 0.4 }).length, 1);
        });
    });
});
