// Reading IAM policy statements as IAM does: list-or-scalar values, IAM's string wildcards,
// action matching for sts:AssumeRoleWithWebIdentity, federated principals and condition operators
// (ForAnyValue/ForAllValues, IfExists), and the OIDC providers a policy trusts. Shared by the
// evaluator (analysis/trustEvaluation.ts) and the guardrail rules (analysis/trustRules.ts), so both
// read a statement the same way, and by the provider and placement, which ask whom a role trusts.

import { parseOidcProviderArn } from "./subjects";
import { statementsOf, WEB_IDENTITY_ACTION, type PolicyDocument, type PolicyStatement } from "./trustPolicy";

export function asList(value: unknown): unknown[] {
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [value];
}

/** Condition values may be JSON strings, numbers or booleans; IAM compares their text. */
export function asStrings(value: unknown): string[] {
    return asList(value)
        .filter((v) => typeof v === "string" || typeof v === "number" || typeof v === "boolean")
        .map((v) => String(v));
}

export const quote = (s: string): string => JSON.stringify(s);
export const quoteAll = (values: readonly string[]): string => (values.length === 1 ? quote(values[0]) : `[${values.map(quote).join(", ")}]`);

export { label } from "./trustPolicy";

function regexEscape(text: string): string {
    return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * IAM's string wildcards: `*` is any run of characters (also none), `?` exactly one. `${*}`,
 * `${?}` and `${$}` stand for the literal characters (policy-variable escapes).
 */
export function globToRegExp(pattern: string, ignoreCase = false): RegExp {
    let source = "";
    for (let i = 0; i < pattern.length; i++) {
        const escape = /^\$\{([*?$])\}/.exec(pattern.slice(i));
        if (escape) {
            source += regexEscape(escape[1]);
            i += escape[0].length - 1;
        } else if (pattern[i] === "*") {
            source += ".*";
        } else if (pattern[i] === "?") {
            source += ".";
        } else {
            source += regexEscape(pattern[i]);
        }
    }
    return new RegExp(`^${source}$`, ignoreCase ? "is" : "s");
}

export function globMatch(pattern: string, value: string, ignoreCase = false): boolean {
    return globToRegExp(pattern, ignoreCase).test(value);
}

export interface ElementCheck {
    matches: boolean;
    reason: string;
}

/** The federated principals a Principal (not NotPrincipal) element names. */
export function federatedOf(statement: PolicyStatement): string[] {
    const principal = statement.Principal;
    if (typeof principal !== "object" || principal === null) return [];
    return asStrings(principal.Federated);
}

/** The IAM OIDC providers a statement trusts by name. */
export function oidcProvidersOf(statement: PolicyStatement): string[] {
    return federatedOf(statement).filter((arn) => parseOidcProviderArn(arn) !== undefined);
}

/** Every IAM OIDC provider the policy names as a Federated principal, in order of appearance. */
export function trustedOidcProviders(document: PolicyDocument): string[] {
    return [...new Set(statementsOf(document).flatMap(oidcProvidersOf))];
}

/** Action names are case-insensitive and may hold `*` and `?`. */
export function checkAction(statement: PolicyStatement): ElementCheck {
    const covers = (patterns: string[]) => patterns.find((p) => globMatch(p, WEB_IDENTITY_ACTION, true));
    if ("Action" in statement) {
        const actions = asStrings(statement.Action);
        const hit = covers(actions);
        return hit
            ? { matches: true, reason: `Action ${quote(hit)} covers ${WEB_IDENTITY_ACTION}` }
            : { matches: false, reason: `Action ${quoteAll(actions)} does not include ${WEB_IDENTITY_ACTION}` };
    }
    if ("NotAction" in statement) {
        const actions = asStrings(statement.NotAction);
        const hit = covers(actions);
        return hit
            ? { matches: false, reason: `NotAction ${quote(hit)} excludes ${WEB_IDENTITY_ACTION}` }
            : { matches: true, reason: `NotAction ${quoteAll(actions)} does not exclude ${WEB_IDENTITY_ACTION}` };
    }
    return { matches: false, reason: "no Action or NotAction: the statement allows or denies nothing" };
}

export type SetQualifier = "ForAnyValue" | "ForAllValues";

export interface StringOperator {
    negated: boolean;
    /** StringLike/StringNotLike: policy values are patterns. */
    like?: boolean;
    compare: (policyValue: string, requestValue: string) => boolean;
}

export const STRING_OPERATORS: Record<string, StringOperator> = {
    StringEquals: { negated: false, compare: (p, v) => p === v },
    StringNotEquals: { negated: true, compare: (p, v) => p === v },
    StringEqualsIgnoreCase: { negated: false, compare: (p, v) => p.toLowerCase() === v.toLowerCase() },
    StringNotEqualsIgnoreCase: { negated: true, compare: (p, v) => p.toLowerCase() === v.toLowerCase() },
    StringLike: { negated: false, like: true, compare: (p, v) => globMatch(p, v) },
    StringNotLike: { negated: true, like: true, compare: (p, v) => globMatch(p, v) },
};

export interface ParsedOperator {
    name: string;
    set?: SetQualifier;
    base: string;
    ifExists: boolean;
    /** Undefined for `Null` and for operators this evaluator does not know. */
    string?: StringOperator;
}

export function parseOperator(name: string): ParsedOperator {
    let rest = name;
    let set: SetQualifier | undefined;
    for (const qualifier of ["ForAnyValue", "ForAllValues"] as const) {
        if (rest.startsWith(`${qualifier}:`)) {
            set = qualifier;
            rest = rest.slice(qualifier.length + 1);
        }
    }
    const ifExists = rest.endsWith("IfExists") && rest !== "IfExists";
    const base = ifExists ? rest.slice(0, -"IfExists".length) : rest;
    return { name, set, base, ifExists, string: STRING_OPERATORS[base] };
}

export interface ConditionEntry {
    op: ParsedOperator;
    key: string;
    values: string[];
}

export function conditionEntries(statement: PolicyStatement): ConditionEntry[] {
    const block: unknown = statement.Condition;
    if (typeof block !== "object" || block === null) return [];
    return Object.entries(block as Record<string, unknown>).flatMap(([opName, entries]) =>
        typeof entries === "object" && entries !== null
            ? Object.entries(entries as Record<string, unknown>).map(([key, values]) => ({ op: parseOperator(opName), key, values: asStrings(values) }))
            : [],
    );
}

/** Operators IAM knows besides the string ones; their names ending in these are negated. */
const KNOWN_OPERATOR = /^(String|Numeric|Date|Bool|Binary|IpAddress|NotIpAddress|Arn)/;
const NEGATED_OPERATOR = /^(StringNot|NumericNotEquals|DateNotEquals|ArnNot|NotIpAddress)/;

/**
 * Whether a condition entry holds when its key is not in the request, as IAM documents it
 * (reference_policies_elements_condition_operators.html, "…IfExists" and the set operators):
 * ForAllValues holds, ForAnyValue does not (whatever IfExists says), IfExists holds, a negated
 * operator holds, `Null "true"` holds, every other operator does not. Undefined for an operator
 * IAM does not know.
 */
export function holdsWhenMissing(op: ParsedOperator, policyValues: readonly string[]): boolean | undefined {
    if (op.set === "ForAllValues") return true;
    if (op.set === "ForAnyValue") return false;
    if (op.base === "Null") return op.ifExists || policyValues.some((v) => v.toLowerCase() === "true");
    if (!KNOWN_OPERATOR.test(op.base)) return undefined;
    return op.ifExists || NEGATED_OPERATOR.test(op.base);
}
