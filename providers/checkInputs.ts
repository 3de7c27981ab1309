// What `check` does with a TrustSubjects resource's inputs: validated and normalized, each failure
// reported on its property with a reason a person can act on. Pure, no I/O: the preview-time quota
// check against the live role is the provider's (./trustSubjectsProvider).

import type * as pulumi from "@pulumi/pulumi";
import { isUnknown, trusted, UNKNOWN, type TrustSubjectsInputs } from "./ownership";
import { quotaProblem } from "./reconcile";
import { oidcProviderArnProblem, parseRoleRef, subjectProblem } from "../domain/subjects";
import { buildTrustPolicy, DEFAULT_MAX_POLICY_CHARS, MAX_POLICY_CHARS_LIMIT, type PolicyStatement } from "../domain/trustPolicy";

/**
 * Validates and normalizes inputs. Returns the failures Pulumi shows per property; unknown values
 * (preview) are passed through unchecked.
 */
export function checkInputs(news: Record<string, unknown>): { inputs: TrustSubjectsInputs; failures: pulumi.dynamic.CheckFailure[] } {
    const failures: pulumi.dynamic.CheckFailure[] = [];
    const role = news.role;
    if (typeof role !== "string" || (role !== UNKNOWN && !parseRoleRef(role))) {
        failures.push({
            property: "role",
            reason: `${JSON.stringify(role)} is neither an IAM role name (1–64 of [A-Za-z0-9+=,.@_-]) nor a role ARN ("arn:aws:iam::<account>:role/<name>")`,
        });
    }
    const providerArn = news.providerArn === undefined ? "" : news.providerArn;
    const providerProblem =
        typeof providerArn !== "string" ? `${JSON.stringify(providerArn)} is not an OIDC provider ARN` : providerArn === UNKNOWN || providerArn === "" ? undefined : oidcProviderArnProblem(providerArn);
    if (providerProblem) failures.push({ property: "providerArn", reason: providerProblem });

    const allowWildcards = news.allowWildcards === undefined ? false : news.allowWildcards;
    if (typeof allowWildcards !== "boolean" && allowWildcards !== UNKNOWN) {
        failures.push({ property: "allowWildcards", reason: `${JSON.stringify(allowWildcards)} is not a boolean` });
    }
    const maxPolicyChars = news.maxPolicyChars === undefined ? DEFAULT_MAX_POLICY_CHARS : news.maxPolicyChars;
    if (maxPolicyChars !== UNKNOWN && (!Number.isInteger(maxPolicyChars) || (maxPolicyChars as number) < DEFAULT_MAX_POLICY_CHARS || (maxPolicyChars as number) > MAX_POLICY_CHARS_LIMIT)) {
        failures.push({
            property: "maxPolicyChars",
            reason: `${JSON.stringify(maxPolicyChars)} is not the account's trust-policy quota: IAM allows ${DEFAULT_MAX_POLICY_CHARS} by default and at most ${MAX_POLICY_CHARS_LIMIT}`,
        });
    }

    // An unknown allowWildcards (preview) is checked at `up`, when it is known.
    const wildcardsOk = allowWildcards === true || allowWildcards === UNKNOWN;
    const subjects = checkSubjectList("subjects", news.subjects, wildcardsOk, failures);
    const anchors = news.anchors === undefined ? [] : checkSubjectList("anchors", news.anchors, wildcardsOk, failures);
    const retiredStatements = checkStatementList("retiredStatements", news.retiredStatements, failures);
    const statements = checkStatementList("statements", news.statements, failures);
    if (providerArn === "" && failures.length === 0 && (trustedCount(subjects) > 0 || trustedCount(anchors) > 0)) {
        failures.push({ property: "providerArn", reason: "providerArn is required with subjects or anchors: they are trusted only for tokens of one OIDC provider" });
    }
    if (providerArn === "" && statements.length === 0 && failures.length === 0) {
        failures.push({ property: "providerArn", reason: "providerArn is required unless the resource owns whole statements (statements): otherwise it would own nothing" });
    }

    const owner = news.owner === undefined ? "" : news.owner;
    if (typeof owner !== "string") failures.push({ property: "owner", reason: `${JSON.stringify(owner)} is not a string naming the stack` });

    const inputs: TrustSubjectsInputs = {
        owner: typeof owner === "string" ? owner : "",
        role: role as string,
        providerArn: providerArn as string,
        subjects,
        maxPolicyChars: maxPolicyChars as number,
        allowWildcards: allowWildcards as boolean,
        anchors,
        retiredStatements,
        statements,
    };
    // The project's statement alone must fit: known before any IAM call.
    const all = trusted(inputs);
    if (failures.length === 0 && all.length > 0 && providerArn !== "" && !isUnknown(providerArn) && maxPolicyChars !== UNKNOWN) {
        const alone = buildTrustPolicy(inputs.providerArn, all);
        const problem = quotaProblem(inputs.role, alone, inputs);
        if (problem) failures.push({ property: "subjects", reason: problem });
    }
    return { inputs, failures };
}

const trustedCount = (list: string[]) => (isUnknown(list) ? 1 : list.length);

/** A validated list of policy statements (objects with an Effect); unknown or invalid gives []. */
function checkStatementList(property: string, value: unknown, failures: pulumi.dynamic.CheckFailure[]): PolicyStatement[] {
    if (value === undefined || value === UNKNOWN) return [];
    const statementLike = (s: unknown) => typeof s === "object" && s !== null && !Array.isArray(s) && typeof (s as { Effect?: unknown }).Effect === "string";
    if (!Array.isArray(value) || !value.every(statementLike)) {
        failures.push({ property, reason: `${JSON.stringify(value)} is not a list of policy statements (objects with an Effect)` });
        return [];
    }
    return value as PolicyStatement[];
}

/** A validated, deduplicated, sorted list of subjects; an unknown list passes through. */
function checkSubjectList(property: string, value: unknown, wildcardsOk: boolean, failures: pulumi.dynamic.CheckFailure[]): string[] {
    if (value === UNKNOWN) return value as unknown as string[];
    if (!Array.isArray(value)) {
        failures.push({ property, reason: `${property} must be a list of service-account subjects` });
        return [];
    }
    for (const subject of value) {
        if (subject === UNKNOWN) continue;
        const problem = typeof subject === "string" ? subjectProblem(subject, wildcardsOk) : `${JSON.stringify(subject)} is not a string`;
        if (problem) failures.push({ property, reason: problem });
    }
    return [...new Set(value as string[])].sort();
}

