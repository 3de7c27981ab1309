// The trust-policy algebra: pure functions over IAM role trust policies, no I/O.
//
// The project owns a set of `sub` values for one OIDC provider in one role. Everything else in the
// document (other statements, Sids, other providers, StringLike and other condition keys, values
// it does not own) is carried through every edit unchanged. Changes to whole statements, and the
// composition of one operation's changes, are in ./trustChanges.
//
// IAM policy grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
// IRSA trust policy: https://docs.aws.amazon.com/eks/latest/userguide/associate-service-account-role.html

import { hasWildcard, parseOidcProviderArn } from "./subjects";

export const POLICY_VERSION = "2012-10-17";
export const WEB_IDENTITY_ACTION = "sts:AssumeRoleWithWebIdentity";
/** The audience EKS puts in projected service-account tokens meant for STS. */
export const STS_AUDIENCE = "sts.amazonaws.com";
/**
 * IAM's "Role trust policy length" quota (ACLSizePerRole, Service Quotas code L-C07B4B0D): 2048
 * characters by default, adjustable up to 8192 since 2026 (it was 4096 before).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_iam-quotas.html
 */
export const DEFAULT_MAX_POLICY_CHARS = 2048;
export const MAX_POLICY_CHARS_LIMIT = 8192;
/** What one more value adds to a JSON list: its two quotes and a comma. */
export const LIST_ITEM_OVERHEAD = 3;

export type ConditionValues = string | string[];
export type ConditionBlock = Record<string, Record<string, ConditionValues>>;

export interface PolicyStatement {
    Sid?: string;
    Effect: string;
    Principal?: string | Record<string, string | string[]>;
    Action?: string | string[];
    Condition?: ConditionBlock;
    [key: string]: unknown;
}

export interface PolicyDocument {
    Version?: string;
    Id?: string;
    Statement: PolicyStatement | PolicyStatement[];
    [key: string]: unknown;
}

/** How messages name a statement: its index in the document, and its Sid when it has one. */
export function label(index: number, sid: string | undefined): string {
    return sid ? `statement ${index} (Sid ${JSON.stringify(sid)})` : `statement ${index}`;
}

/** A document that cannot be read or edited the way the caller asked. */
export class TrustPolicyError extends Error {
    constructor(message: string) {
        super(message);
        this.name = "TrustPolicyError";
        // In the dynamic provider this class runs after Pulumi's closure serialization, which turns
        // it into a plain function calling `Error.call(this, message)`: that sets no message and no
        // stack, and the instances' prototype no longer reaches Error.prototype. Repair all three.
        const proto: object | null = Object.getPrototypeOf(this);
        if (!(this instanceof Error) && proto !== null && proto !== Object.prototype) Object.setPrototypeOf(proto, Error.prototype);
        if (this.message !== message) this.message = message;
        if (this.stack === undefined) this.stack = `${this.name}: ${message}\n${(new Error().stack ?? "").split("\n").slice(1).join("\n")}`;
    }
}

/** What to do to the owned subjects of one provider in one document. */
export interface SubjectChange {
    providerArn: string;
    add: readonly string[];
    remove: readonly string[];
}

export interface EditResult {
    document: PolicyDocument;
    changed: boolean;
}

function asList<T>(value: T | T[] | undefined): T[] {
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [value];
}

/** The statements of a document, in order (`Statement` may be one object or a list). */
export function statementsOf(document: PolicyDocument): PolicyStatement[] {
    return asList(document.Statement);
}

function decodedPolicyText(text: string): string {
    if (text.trimStart().startsWith("{")) return text;
    try {
        return decodeURIComponent(text);
    } catch (err) {
        throw new TrustPolicyError(`trust policy is neither JSON nor URL-encoded JSON: ${(err as Error).message}`);
    }
}

function tryParse(read: () => string): unknown {
    try {
        return JSON.parse(read());
    } catch {
        return undefined;
    }
}

/**
 * Parses a trust policy as IAM returns it: GetRole's `AssumeRolePolicyDocument` is URL-encoded
 * (RFC 3986); CloudFormation and the console give plain JSON. Both are accepted.
 */
export function parsePolicyDocument(text: string): PolicyDocument {
    let parsed: unknown;
    try {
        parsed = JSON.parse(decodedPolicyText(text));
    } catch (err) {
        if (err instanceof TrustPolicyError) throw err;
        // Form encoding (spaces as "+", as some IAM emulators send) is the one other spelling.
        const formDecoded = text.includes("+") ? tryParse(() => decodedPolicyText(text.replace(/\+/g, "%20"))) : undefined;
        if (formDecoded === undefined) throw new TrustPolicyError(`trust policy is not valid JSON: ${(err as Error).message}`);
        parsed = formDecoded;
    }
    if (typeof parsed !== "object" || parsed === null || Array.isArray(parsed)) {
        throw new TrustPolicyError("trust policy is not a JSON object");
    }
    const document = parsed as PolicyDocument;
    const statements = document.Statement;
    if (statements === undefined || typeof statements !== "object" || statements === null) {
        throw new TrustPolicyError("trust policy has no Statement");
    }
    for (const statement of asList(statements)) {
        if (typeof statement !== "object" || statement === null || typeof statement.Effect !== "string") {
            throw new TrustPolicyError("trust policy has a statement without an Effect");
        }
    }
    return document;
}

/** Minified JSON, the form IAM measures against the quota and the form we send. */
export function serializePolicy(document: PolicyDocument): string {
    return JSON.stringify(document);
}

/** A form of the document that ignores key order and white space, for telling documents apart. */
export function canonicalPolicy(document: PolicyDocument): string {
    const sortKeys = (value: unknown): unknown => {
        if (Array.isArray(value)) return value.map(sortKeys);
        if (typeof value !== "object" || value === null) return value;
        return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]));
    };
    return JSON.stringify(sortKeys(document));
}

/** Characters the document counts against the ACLSizePerRole quota (white space is not counted). */
export function policySize(document: PolicyDocument): number {
    return serializePolicy(document).length;
}

/** The condition keys of a provider: `<issuer>:sub` and `<issuer>:aud`. */
export function conditionKeys(providerArn: string): { sub: string; aud: string } {
    const provider = parseOidcProviderArn(providerArn);
    if (!provider) throw new TrustPolicyError(`"${providerArn}" is not an IAM OIDC provider ARN`);
    return { sub: `${provider.issuer}:sub`, aud: `${provider.issuer}:aud` };
}

/** StringEquals for exact subjects; StringLike for patterns with `*` or `?`. */
export function operatorFor(subject: string): "StringEquals" | "StringLike" {
    return hasWildcard(subject) ? "StringLike" : "StringEquals";
}

function sameSet(values: string[], expected: string[]): boolean {
    return values.length === expected.length && expected.every((v) => values.includes(v));
}

/**
 * Whether a statement is one this project may add subjects to for a provider and operator: it
 * allows exactly AssumeRoleWithWebIdentity to exactly that federated principal, and its only
 * conditions are the `sub` list under the operator and, optionally, `aud = sts.amazonaws.com`.
 * Adding a subject to any other statement would change what that statement means (its other
 * conditions would then apply to our subject), so such statements are left alone.
 */
function isManageable(statement: PolicyStatement, providerArn: string, operator: string): boolean {
    if (statement.Effect !== "Allow") return false;
    if ("NotPrincipal" in statement || "NotAction" in statement || "NotResource" in statement) return false;
    const principal = statement.Principal;
    if (typeof principal !== "object" || principal === null) return false;
    const principalKeys = Object.keys(principal);
    if (principalKeys.length !== 1 || principalKeys[0] !== "Federated") return false;
    if (!sameSet(asList(principal.Federated), [providerArn])) return false;
    if (!sameSet(asList(statement.Action), [WEB_IDENTITY_ACTION])) return false;

    const keys = conditionKeys(providerArn);
    let hasSub = false;
    for (const [op, entries] of Object.entries(statement.Condition ?? {})) {
        if (typeof entries !== "object" || entries === null) return false;
        for (const [key, values] of Object.entries(entries)) {
            if (key === keys.sub && op === operator) {
                hasSub = true;
            } else if (key === keys.aud && (op === "StringEquals" || op === operator)) {
                if (!sameSet(asList(values), [STS_AUDIENCE])) return false;
            } else {
                return false;
            }
        }
    }
    return hasSub;
}

function subValues(statement: PolicyStatement, providerArn: string, operator: string): string[] {
    const sub = conditionKeys(providerArn).sub;
    return asList(statement.Condition?.[operator]?.[sub]).filter((v): v is string => typeof v === "string");
}

/**
 * The subjects of `subjects` that a manageable statement for the provider already trusts; without
 * `subjects`, every subject those statements trust.
 */
export function presentSubjects(document: PolicyDocument, providerArn: string, subjects?: readonly string[]): string[] {
    const trusted = new Set<string>();
    for (const statement of statementsOf(document)) {
        for (const operator of ["StringEquals", "StringLike"]) {
            if (isManageable(statement, providerArn, operator)) {
                for (const value of subValues(statement, providerArn, operator)) trusted.add(value);
            }
        }
    }
    return subjects ? subjects.filter((s) => trusted.has(s)) : [...trusted];
}

/** The statement the project writes for a provider when the document has none it can use. */
export function webIdentityStatement(providerArn: string, subjects: readonly string[]): PolicyStatement {
    const keys = conditionKeys(providerArn);
    const exact = subjects.filter((s) => operatorFor(s) === "StringEquals");
    const patterns = subjects.filter((s) => operatorFor(s) === "StringLike");
    // Without a subject the statement would trust every service account of the cluster (aud only).
    if (subjects.length === 0) {
        throw new TrustPolicyError("a web-identity statement needs at least one subject: an aud-only statement trusts every service account of the cluster");
    }
    // Conditions under different operators are ANDed: one statement with exact subjects under
    // StringEquals and patterns under StringLike would trust only subjects matching both.
    if (exact.length > 0 && patterns.length > 0) {
        throw new TrustPolicyError("exact subjects and wildcard patterns need separate statements (their conditions would be ANDed); use buildTrustPolicy");
    }
    const condition: ConditionBlock = { StringEquals: { [keys.aud]: STS_AUDIENCE } };
    if (exact.length > 0) condition.StringEquals[keys.sub] = [...exact];
    if (patterns.length > 0) condition.StringLike = { [keys.sub]: [...patterns] };
    return {
        Effect: "Allow",
        Principal: { Federated: providerArn },
        Action: WEB_IDENTITY_ACTION,
        Condition: condition,
    };
}

/**
 * The trust policy of a role created for IRSA: one statement per operator needed, trusting the
 * given subjects of one OIDC provider with audience sts.amazonaws.com.
 */
export function buildTrustPolicy(providerArn: string, subjects: readonly string[]): PolicyDocument {
    if (subjects.length === 0) {
        throw new TrustPolicyError("a trust policy needs at least one subject");
    }
    const exact = subjects.filter((s) => operatorFor(s) === "StringEquals");
    const patterns = subjects.filter((s) => operatorFor(s) === "StringLike");
    const statements = [exact, patterns].filter((group) => group.length > 0).map((group) => webIdentityStatement(providerArn, group));
    return { Version: POLICY_VERSION, Statement: statements };
}

function withSubValues(statement: PolicyStatement, sub: string, operator: string, values: string[]): PolicyStatement {
    const previous = statement.Condition![operator][sub];
    // Keep the author's shape: a lone string stays a string.
    const shaped: ConditionValues = typeof previous === "string" && values.length === 1 ? values[0] : values;
    return {
        ...statement,
        Condition: { ...statement.Condition, [operator]: { ...statement.Condition![operator], [sub]: shaped } },
    };
}

/**
 * Adds and removes owned subjects of one provider. Subjects already trusted by a manageable
 * statement are not added again; new ones go to the first manageable statement (keeping its Sid and
 * position), or to a new statement when there is none. Subjects are removed from every manageable
 * statement; a statement left without subjects is removed rather than left as an aud-only
 * statement, which would trust every service account in the cluster. Throws when nothing would be
 * left.
 */
export function applySubjectChange(document: PolicyDocument, change: SubjectChange): EditResult {
    const keys = conditionKeys(change.providerArn);
    const removing = new Set(change.remove.filter((s) => !change.add.includes(s)));
    let statements = statementsOf(document).slice();
    let changed = false;
    const hardened = hardenedProblem(statements, change.providerArn, [...new Set([...change.add, ...change.remove])]);
    if (hardened) throw new TrustPolicyError(hardened);

    for (const operator of ["StringEquals", "StringLike"] as const) {
        const manageable = statements.map((s) => isManageable(s, change.providerArn, operator));
        const present = new Set(statements.flatMap((s, i) => (manageable[i] ? subValues(s, change.providerArn, operator) : [])));
        const toAdd = [...new Set(change.add.filter((s) => operatorFor(s) === operator && !present.has(s)))];
        // Add before removing, so that replacing the last subject of a statement keeps the statement.
        const target = manageable.indexOf(true);
        const next: PolicyStatement[] = [];
        statements.forEach((statement, i) => {
            if (!manageable[i]) {
                next.push(statement);
                return;
            }
            const values = subValues(statement, change.providerArn, operator);
            const kept = values.filter((v) => !removing.has(v));
            const added = i === target ? toAdd : [];
            if (kept.length === values.length && added.length === 0) {
                next.push(statement);
                return;
            }
            changed = true;
            const result = [...kept, ...added];
            if (result.length > 0) next.push(withSubValues(statement, keys.sub, operator, result));
            // else: drop it; an aud-only statement would trust every service account of the cluster
        });
        if (target < 0 && toAdd.length > 0) {
            changed = true;
            next.push(webIdentityStatement(change.providerArn, toAdd));
        }
        statements = next;
    }

    if (!changed) return { document, changed: false };
    if (statements.length === 0) {
        throw new TrustPolicyError(
            "removing these subjects would leave the trust policy with no statement, and IAM has no empty trust policy; " +
                "keep one subject on the role, add a statement of your own to it, or delete the role",
        );
    }
    const single = !Array.isArray(document.Statement) && statements.length === 1;
    return { document: { ...document, Statement: single ? statements[0] : statements }, changed: true };
}

/**
 * Why owned subjects cannot be edited here: a statement this project may not edit (isManageable:
 * a person added a condition such as `aws:SourceIp`, or spelled the `sub` key's issuer in another
 * case — IAM compares condition keys case-insensitively) lets some of them in. Adding them to a
 * statement of our own would trust them without that statement's conditions; removing them from
 * ours would leave a removed profile trusted inside it. Undefined when no such statement holds one.
 */
export function hardenedProblem(statements: PolicyStatement[], providerArn: string, owned: readonly string[]): string | undefined {
    if (owned.length === 0) return undefined;
    const sub = conditionKeys(providerArn).sub.toLowerCase();
    const wanted = new Set(owned);
    const found: string[] = [];
    statements.forEach((statement, index) => {
        const principal = statement.Principal;
        if (statement.Effect !== "Allow" || typeof principal !== "object" || principal === null || !asList(principal.Federated).includes(providerArn)) return;
        if (isManageable(statement, providerArn, "StringEquals") || isManageable(statement, providerArn, "StringLike")) return;
        const held = Object.values(statement.Condition ?? {}).flatMap((entries) =>
            Object.entries(typeof entries === "object" && entries !== null ? entries : {})
                .filter(([key]) => key.toLowerCase() === sub)
                .flatMap(([, values]) => asList(values).filter((v): v is string => typeof v === "string" && wanted.has(v))),
        );
        if (held.length > 0) {
            const keys = Object.entries(statement.Condition ?? {}).flatMap(([op, entries]) => Object.keys(entries ?? {}).map((key) => `${op} ${key}`));
            found.push(`${label(index, statement.Sid)} trusts ${[...new Set(held)].sort().join(", ")} under conditions kubeflow-irsa does not write (${keys.join("; ")})`);
        }
    });
    if (found.length === 0) return undefined;
    return (
        `${found.join("; ")}. Editing this stack's subjects next to it would trust them without those conditions (in a statement of its own), ` +
        "or leave a removed profile trusted inside it, so nothing was changed. Fix: take these subjects out of that statement " +
        "(keep its extra conditions for subjects of your own), or give its conditions up so that kubeflow-irsa may edit it " +
        "(only the `sub` list and `aud` = sts.amazonaws.com, the issuer spelled as in the OIDC provider's ARN); then run `pulumi up`"
    );
}

/**
 * How many subjects of `subjectLength` characters fit under `maxChars` in a role whose trust
 * policy holds only the project's statement for one provider.
 */
export function subjectsThatFit(providerArn: string, subjectLength: number, maxChars: number): number {
    const base = policySize(buildTrustPolicy(providerArn, ["x".repeat(subjectLength)]));
    if (base > maxChars) return 0;
    return 1 + Math.floor((maxChars - base) / (subjectLength + LIST_ITEM_OVERHEAD));
}
