// Decides, without any I/O, whether a role trust policy lets one projected service-account token
// through `sts:AssumeRoleWithWebIdentity`, statement by statement, and says what to change when it
// does not. Used by `cli/doctor.ts`; the rules below are IAM's documented ones:
//
// - evaluation: an explicit Deny wins, else any matching Allow allows, else the request is
//   implicitly denied —
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
// - condition operators, IfExists, and what a missing key does —
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
// - ForAnyValue / ForAllValues on multivalued keys —
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
// - several keys / operators are ANDed, several values of one key are ORed —
//   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html

import { parseOidcProviderArn, SUBJECT_PREFIX } from "./subjects";
import {
    statementsOf,
    STS_AUDIENCE,
    webIdentityStatement,
    WEB_IDENTITY_ACTION,
    type PolicyDocument,
    type PolicyStatement,
} from "./trustPolicy";

/** What STS puts in the request context when a pod exchanges its token. */
export interface WebIdentityRequest {
    /** The IAM OIDC provider the token's issuer resolves to: the federated principal. */
    providerArn: string;
    /** The issuer as condition keys spell it (no `https://`); by default the provider ARN's. */
    issuer?: string;
    /** The token's `sub` claim, `system:serviceaccount:<namespace>:<name>` for EKS. */
    sub: string;
    /** The token's `aud` claim; a JWT may carry one audience or several. */
    aud: string | readonly string[];
}

export interface StatementResult {
    index: number;
    sid?: string;
    effect: string;
    /** True when the statement applies to the request (its effect then counts). */
    matched: boolean;
    reasons: string[];
}

export interface TrustEvaluation {
    allowed: boolean;
    /** The Deny that denied, or the first Allow that allowed; absent for an implicit deny. */
    decidingStatement?: number;
    statements: StatementResult[];
    warnings: string[];
    /** One concrete change that would let the request through, when it is denied. */
    fix?: string;
}

/** `system:serviceaccount:` (subjects.ts keeps the constant private; this derives it from there). */

// ---------------------------------------------------------------------------------------------
// Small helpers

function asList(value: unknown): unknown[] {
    if (value === undefined) return [];
    return Array.isArray(value) ? value : [value];
}

/** Condition values may be JSON strings, numbers or booleans; IAM compares their text. */
function asStrings(value: unknown): string[] {
    return asList(value)
        .filter((v) => typeof v === "string" || typeof v === "number" || typeof v === "boolean")
        .map((v) => String(v));
}

const quote = (s: string): string => JSON.stringify(s);
const quoteAll = (values: readonly string[]): string => (values.length === 1 ? quote(values[0]) : `[${values.map(quote).join(", ")}]`);

function label(index: number, sid: string | undefined): string {
    return sid ? `statement ${index} (Sid ${quote(sid)})` : `statement ${index}`;
}

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

// ---------------------------------------------------------------------------------------------
// Principal and action

interface ElementCheck {
    matches: boolean;
    reason: string;
}

/** The federated principals a Principal (not NotPrincipal) element names. */
function federatedOf(statement: PolicyStatement): string[] {
    const principal = statement.Principal;
    if (typeof principal !== "object" || principal === null) return [];
    return asStrings(principal.Federated);
}

/** Whether a Principal/NotPrincipal value names the web-identity caller of `providerArn`. */
function namesCaller(value: unknown, providerArn: string): { named: boolean; listed: string[] } {
    if (value === "*") return { named: true, listed: ["*"] };
    if (typeof value !== "object" || value === null || Array.isArray(value)) return { named: false, listed: asStrings(value) };
    const entries = Object.entries(value as Record<string, unknown>);
    const listed = entries.flatMap(([type, names]) => asStrings(names).map((n) => `${type} ${n}`));
    // {"AWS": "*"} is documented as equivalent to "*": every principal, federated ones included.
    const everyone = entries.some(([type, names]) => type === "AWS" && asStrings(names).includes("*"));
    const federated = entries.some(([type, names]) => type === "Federated" && asStrings(names).includes(providerArn));
    return { named: everyone || federated, listed };
}

function checkPrincipal(statement: PolicyStatement, providerArn: string): ElementCheck {
    if ("Principal" in statement) {
        const { named, listed } = namesCaller(statement.Principal, providerArn);
        if (named) {
            const how = federatedOf(statement).includes(providerArn) ? "Federated names this provider" : `${listed.join(", ")} matches every caller`;
            return { matches: true, reason: `Principal ${how}` };
        }
        const nearMiss = federatedOf(statement).find((f) => f.toLowerCase() === providerArn.toLowerCase());
        const hint = nearMiss ? " (it differs only in letter case; ARNs are compared exactly)" : "";
        return { matches: false, reason: `Principal trusts ${listed.join(", ") || "nobody"}, not ${providerArn}${hint}` };
    }
    if ("NotPrincipal" in statement) {
        const { named, listed } = namesCaller(statement.NotPrincipal, providerArn);
        return named
            ? { matches: false, reason: `NotPrincipal excludes ${providerArn} (${listed.join(", ")})` }
            : { matches: true, reason: `NotPrincipal ${listed.join(", ")} does not exclude ${providerArn}` };
    }
    return { matches: false, reason: "no Principal or NotPrincipal: a trust-policy statement applies to nobody without one" };
}

/** Action names are case-insensitive and may hold `*` and `?`. */
function checkAction(statement: PolicyStatement): ElementCheck {
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

// ---------------------------------------------------------------------------------------------
// Conditions

type SetQualifier = "ForAnyValue" | "ForAllValues";

interface StringOperator {
    negated: boolean;
    /** StringLike/StringNotLike: policy values are patterns. */
    like?: boolean;
    compare: (policyValue: string, requestValue: string) => boolean;
}

const STRING_OPERATORS: Record<string, StringOperator> = {
    StringEquals: { negated: false, compare: (p, v) => p === v },
    StringNotEquals: { negated: true, compare: (p, v) => p === v },
    StringEqualsIgnoreCase: { negated: false, compare: (p, v) => p.toLowerCase() === v.toLowerCase() },
    StringNotEqualsIgnoreCase: { negated: true, compare: (p, v) => p.toLowerCase() === v.toLowerCase() },
    StringLike: { negated: false, like: true, compare: (p, v) => globMatch(p, v) },
    StringNotLike: { negated: true, like: true, compare: (p, v) => globMatch(p, v) },
};

interface ParsedOperator {
    name: string;
    set?: SetQualifier;
    base: string;
    ifExists: boolean;
    /** Undefined for `Null` and for operators this evaluator does not know. */
    string?: StringOperator;
}

function parseOperator(name: string): ParsedOperator {
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

export type KeyKind = "sub" | "aud" | "other";

interface ConditionCheck {
    operator: ParsedOperator;
    key: string;
    kind: KeyKind;
    policyValues: string[];
    satisfied: boolean;
    /** True when the operator is unknown or not evaluated here (the result is a guess). */
    unsupported: boolean;
    reason: string;
}

/** The request context of AssumeRoleWithWebIdentity: only `<issuer>:sub` and `<issuer>:aud` exist. */
interface RequestContext {
    issuer: string;
    values: Map<string, string[]>;
}

function contextOf(request: WebIdentityRequest, issuer: string): RequestContext {
    const values = new Map<string, string[]>();
    // Condition key names are case-insensitive (IAM user guide, Condition element).
    values.set(`${issuer}:sub`.toLowerCase(), [request.sub]);
    const aud = asStrings(request.aud);
    if (aud.length > 0) values.set(`${issuer}:aud`.toLowerCase(), aud);
    return { issuer, values };
}

function kindOf(key: string, issuer: string): KeyKind {
    const k = key.toLowerCase();
    if (k === `${issuer}:sub`.toLowerCase()) return "sub";
    if (k === `${issuer}:aud`.toLowerCase()) return "aud";
    return "other";
}

function missingKeyResult(op: ParsedOperator): { satisfied: boolean; why: string } {
    // Missing-key rules: ForAllValues is vacuously true, ForAnyValue false (whatever IfExists says),
    // IfExists true, negated operators true, every other operator false.
    if (op.set === "ForAllValues") return { satisfied: true, why: "ForAllValues is true when the key is missing" };
    if (op.set === "ForAnyValue") return { satisfied: false, why: "ForAnyValue is false when the key is missing" };
    if (op.ifExists) return { satisfied: true, why: `${op.name} is true when the key is missing` };
    if (op.string?.negated) return { satisfied: true, why: `${op.base} is true when the key is missing` };
    return { satisfied: false, why: `${op.name} is false when the key is missing` };
}

function checkNull(op: ParsedOperator, key: string, policyValues: string[], present: boolean): { satisfied: boolean; reason: string } {
    // Null "true": the key must be absent; Null "false": it must be present.
    const wanted = policyValues.map((v) => v.toLowerCase() === "true");
    const satisfied = wanted.some((absent) => absent === !present);
    return { satisfied, reason: `Null ${key}: the key is ${present ? "present" : "missing"}, the condition wants it ${wanted.map((a) => (a ? "missing" : "present")).join(" or ")}` };
}

function valuesReason(
    str: StringOperator,
    satisfied: boolean,
    policyValues: string[],
    requestValues: string[],
    matchOf: (v: string) => string | undefined,
): string {
    const shown = quoteAll(requestValues);
    const hit = requestValues.map(matchOf).find((m) => m !== undefined);
    const among = `${str.like ? "matches none of" : policyValues.length === 1 ? "is not" : "is not among"} ${quoteAll(policyValues)}`;
    if (str.negated) return satisfied ? `${shown} ${among}, so it is not excluded` : `${shown} is excluded by ${quote(hit ?? policyValues[0])}`;
    if (satisfied) return `${shown} matches ${quote(hit ?? "")}`;
    return hit === undefined ? `${shown} ${among}` : `${shown}: not every value matches ${quoteAll(policyValues)}`;
}

function checkPresent(op: ParsedOperator, str: StringOperator, key: string, policyValues: string[], requestValues: string[]): { satisfied: boolean; reason: string } {
    const matchOf = (v: string) => policyValues.find((p) => str.compare(p, v));
    const valueOk = (v: string) => (matchOf(v) === undefined) === str.negated;
    let satisfied: boolean;
    if (op.set === "ForAllValues") satisfied = requestValues.every(valueOk);
    else if (op.set === "ForAnyValue") satisfied = requestValues.some(valueOk);
    // No set operator: one request value is compared as is; several (a multi-audience token) match
    // when any of them does, and a negated operator is the complement of that.
    else satisfied = requestValues.some((v) => matchOf(v) !== undefined) !== str.negated;

    return { satisfied, reason: `${op.name} ${key}: ${valuesReason(str, satisfied, policyValues, requestValues, matchOf)}` };
}

function checkCondition(opName: string, key: string, rawValues: unknown, context: RequestContext): ConditionCheck {
    const operator = parseOperator(opName);
    const policyValues = asStrings(rawValues);
    const kind = kindOf(key, context.issuer);
    const requestValues = context.values.get(key.toLowerCase());
    const base = { operator, key, kind, policyValues };

    if (operator.base === "Null" && !operator.set && !operator.ifExists) {
        return { ...base, unsupported: false, ...checkNull(operator, key, policyValues, requestValues !== undefined) };
    }
    const str = operator.string;
    if (!str) {
        const known = /^(Numeric|Date|Bool|Binary|IpAddress|NotIpAddress|Arn)/.test(operator.base);
        const why = known
            ? `${opName} compares numbers, dates, booleans, addresses or ARNs, and STS puts only strings (sub, aud) in a web-identity request; treated as not matching`
            : `unknown condition operator ${quote(opName)}; treated as not matching (IAM would reject the policy)`;
        return { ...base, satisfied: false, unsupported: true, reason: `${opName} ${key}: ${why}` };
    }
    if (requestValues === undefined) {
        const { satisfied, why } = missingKeyResult(operator);
        const note = kind === "other" ? ` (STS sets only ${context.issuer}:sub and ${context.issuer}:aud for this provider)` : "";
        return { ...base, satisfied, unsupported: false, reason: `${opName} ${key}: the key is not in the request${note}; ${why}` };
    }
    return { ...base, unsupported: false, ...checkPresent(operator, str, key, policyValues, requestValues) };
}

function checkConditions(statement: PolicyStatement, context: RequestContext): { checks: ConditionCheck[]; problem?: string } {
    const block: unknown = statement.Condition;
    if (block === undefined) return { checks: [] };
    if (typeof block !== "object" || block === null || Array.isArray(block)) {
        return { checks: [], problem: "Condition is not an object; treated as not matching" };
    }
    const checks: ConditionCheck[] = [];
    for (const [opName, entries] of Object.entries(block as Record<string, unknown>)) {
        if (typeof entries !== "object" || entries === null || Array.isArray(entries)) {
            return { checks, problem: `Condition ${opName} is not an object of keys; treated as not matching` };
        }
        for (const [key, values] of Object.entries(entries as Record<string, unknown>)) {
            checks.push(checkCondition(opName, key, values, context));
        }
    }
    return { checks };
}

// ---------------------------------------------------------------------------------------------
// Statements

interface StatementAnalysis {
    statement: PolicyStatement;
    result: StatementResult;
    effect?: "Allow" | "Deny";
    principal: ElementCheck;
    action: ElementCheck;
    conditions: ConditionCheck[];
    conditionProblem?: string;
}

function analyseStatement(statement: PolicyStatement, index: number, request: WebIdentityRequest, context: RequestContext): StatementAnalysis {
    const sid = typeof statement.Sid === "string" && statement.Sid !== "" ? statement.Sid : undefined;
    const effect = statement.Effect === "Allow" || statement.Effect === "Deny" ? statement.Effect : undefined;
    const principal = checkPrincipal(statement, request.providerArn);
    const action = checkAction(statement);
    const { checks, problem } = checkConditions(statement, context);
    const reasons: string[] = [];
    if (!effect) reasons.push(`Effect ${quote(String(statement.Effect))} is neither Allow nor Deny; the statement never applies`);
    reasons.push(principal.reason, action.reason);
    if (checks.length === 0 && !problem) reasons.push("no Condition: nothing else is checked");
    reasons.push(...checks.map((c) => c.reason));
    if (problem) reasons.push(problem);
    const matched = effect !== undefined && principal.matches && action.matches && !problem && checks.every((c) => c.satisfied);
    return {
        statement,
        result: { index, ...(sid ? { sid } : {}), effect: String(statement.Effect), matched, reasons },
        effect,
        principal,
        action,
        conditions: checks,
        conditionProblem: problem,
    };
}

// ---------------------------------------------------------------------------------------------
// Dangerous statements (independent of the request)

/**
 * True when a `sub` pattern's namespace part (between `system:serviceaccount:` and the next ':')
 * holds `*` or `?`, or when a wildcard comes before that prefix is even spelled out.
 */
function namespaceHasWildcard(pattern: string): boolean {
    if (!pattern.startsWith(SUBJECT_PREFIX)) return /[*?]/.test(pattern);
    const namespace = pattern.slice(SUBJECT_PREFIX.length).split(":")[0];
    return /[*?]/.test(namespace);
}

/** The OIDC providers a statement trusts by name (Federated principals that are IAM OIDC provider ARNs). */
function oidcProvidersOf(statement: PolicyStatement): string[] {
    return federatedOf(statement).filter((arn) => parseOidcProviderArn(arn) !== undefined);
}

function conditionEntries(statement: PolicyStatement): Array<{ op: ParsedOperator; key: string; values: string[] }> {
    const block: unknown = statement.Condition;
    if (typeof block !== "object" || block === null) return [];
    return Object.entries(block as Record<string, unknown>).flatMap(([opName, entries]) =>
        typeof entries === "object" && entries !== null
            ? Object.entries(entries as Record<string, unknown>).map(([key, values]) => ({ op: parseOperator(opName), key, values: asStrings(values) }))
            : [],
    );
}

function statementWarnings(statement: PolicyStatement, index: number): string[] {
    if (statement.Effect !== "Allow" || !checkAction(statement).matches) return [];
    const sid = typeof statement.Sid === "string" && statement.Sid !== "" ? statement.Sid : undefined;
    const name = label(index, sid);
    const warnings: string[] = [];
    const entries = conditionEntries(statement);
    for (const providerArn of oidcProvidersOf(statement)) {
        const issuer = parseOidcProviderArn(providerArn)?.issuer ?? "";
        const subKey = `${issuer}:sub`.toLowerCase();
        const subEntries = entries.filter((e) => e.key.toLowerCase() === subKey);
        const restricting = subEntries.filter((e) => e.op.string !== undefined && !e.op.string.negated);
        if (restricting.length === 0) {
            const excludes = subEntries.length > 0;
            const what = entries.length === 0 ? "has no condition" : excludes ? "only excludes some subjects" : "checks only " + [...new Set(entries.map((e) => e.key))].join(", ");
            warnings.push(
                `DANGEROUS: ${name} allows ${WEB_IDENTITY_ACTION} from ${providerArn} and ${what}, without restricting ${issuer}:sub: ` +
                    `every ${excludes ? "other " : ""}service account in that cluster can assume this role; add StringEquals ${issuer}:sub with the service accounts that need it`,
            );
        }
        for (const entry of restricting.filter((e) => e.op.base === "StringLike")) {
            for (const pattern of entry.values.filter(namespaceHasWildcard)) {
                warnings.push(
                    `DANGEROUS: ${name} trusts ${entry.op.name} ${issuer}:sub ${quote(pattern)}, a wildcard in the namespace part: ` +
                        `service accounts of any matching namespace, including ones created later, can assume this role; name each namespace instead`,
                );
            }
        }
    }
    return warnings;
}

/** Warnings about statements that trust more service accounts than anyone likely meant. */
export function dangerousStatements(document: PolicyDocument): string[] {
    return statementsOf(document).flatMap((statement, index) => statementWarnings(statement, index));
}

/** Every IAM OIDC provider the policy names as a Federated principal, in order of appearance. */
export function trustedOidcProviders(document: PolicyDocument): string[] {
    return [...new Set(statementsOf(document).flatMap(oidcProvidersOf))];
}

// ---------------------------------------------------------------------------------------------
// Fix

function denyFix(analysis: StatementAnalysis, request: WebIdentityRequest): string {
    const name = label(analysis.result.index, analysis.result.sid);
    return `${name} explicitly denies ${request.sub}, and an explicit Deny overrides every Allow: remove that statement or narrow its conditions so they exclude this service account`;
}

function conditionFix(check: ConditionCheck, name: string, request: WebIdentityRequest): string {
    const op = check.operator;
    const negated = op.string?.negated ?? false;
    const audience = quoteAll(asStrings(request.aud));
    if (check.kind === "sub" && op.string && !negated) return `add ${request.sub} to ${op.name} ${check.key} of ${name}`;
    if (check.kind === "sub" && negated) return `remove the value matching ${request.sub} from ${op.name} ${check.key} of ${name}`;
    if (check.kind === "aud" && op.string && !negated) {
        return `the token's audience is ${audience}; ${name} expects ${quoteAll(check.policyValues)} (${op.name} ${check.key}): issue the token for that audience or change the condition`;
    }
    if (check.kind === "aud" && negated) return `the token's audience ${audience} is excluded by ${op.name} ${check.key} of ${name}`;
    return `${name} cannot match a web-identity request: ${check.reason}`;
}

function newStatementText(request: WebIdentityRequest): string {
    return JSON.stringify(webIdentityStatement(request.providerArn, [request.sub]));
}

function implicitDenyFix(analyses: StatementAnalysis[], request: WebIdentityRequest): string {
    const allows = analyses.filter((a) => a.effect === "Allow");
    const forProvider = allows.filter((a) => a.principal.matches);
    if (forProvider.length === 0) {
        const others = [...new Set(allows.flatMap((a) => oidcProvidersOf(a.statement)))];
        return others.length > 0
            ? `the role trusts provider ${others.join(", ")}, not this cluster's provider ${request.providerArn}: add a statement ${newStatementText(request)}`
            : `no Allow statement trusts ${request.providerArn}: add a statement ${newStatementText(request)}`;
    }
    const withAction = forProvider.filter((a) => a.action.matches);
    if (withAction.length === 0) {
        const first = forProvider[0].result;
        return `${label(first.index, first.sid)} trusts ${request.providerArn} but not the action: add ${WEB_IDENTITY_ACTION} to its Action`;
    }
    // The statement that is closest to matching: fewest unsatisfied conditions, then the first.
    const failing = (a: StatementAnalysis) => a.conditions.filter((c) => !c.satisfied);
    const best = withAction.reduce((b, a) => (failing(a).length < failing(b).length ? a : b));
    const name = label(best.result.index, best.result.sid);
    if (best.conditionProblem) return `fix the Condition of ${name}: ${best.conditionProblem}`;
    return failing(best).map((c) => conditionFix(c, name, request)).join("; and ");
}

// ---------------------------------------------------------------------------------------------
// Evaluation

function requestWarnings(analyses: StatementAnalysis[], request: WebIdentityRequest): string[] {
    const warnings: string[] = [];
    const audiences = asStrings(request.aud);
    const plainOnAud = analyses.flatMap((a) => a.conditions).filter((c) => c.kind === "aud" && c.operator.string && !c.operator.set);
    if (audiences.length > 1 && plainOnAud.length > 0) {
        warnings.push(
            `the token has ${audiences.length} audiences and ${[...new Set(plainOnAud.map((c) => c.operator.name))].join(", ")} on ${plainOnAud[0].key} has no ForAnyValue/ForAllValues; ` +
                `IAM documents multivalued keys only with those, so it was evaluated as "any audience matches"`,
        );
    }
    for (const a of analyses.filter((x) => x.effect === "Deny" && x.principal.matches && x.action.matches)) {
        for (const c of a.conditions.filter((x) => x.unsupported)) {
            warnings.push(`${label(a.result.index, a.result.sid)} is a Deny with ${c.operator.name}, which this tool does not evaluate; it was treated as not matching, so STS may still deny`);
        }
    }
    return warnings;
}

/**
 * Evaluates a role trust policy for one `sts:AssumeRoleWithWebIdentity` request. Never throws for
 * odd statements: each gets `matched: false` and a reason.
 */
export function evaluateTrustPolicy(document: PolicyDocument, request: WebIdentityRequest): TrustEvaluation {
    const issuer = request.issuer ?? parseOidcProviderArn(request.providerArn)?.issuer;
    if (issuer === undefined) throw new Error(`"${request.providerArn}" is not an IAM OIDC provider ARN and no issuer was given`);
    const context = contextOf(request, issuer);
    const statements = statementsOf(document);
    const analyses = statements.map((s, i) => analyseStatement(s, i, request, context));
    const warnings = [...dangerousStatements(document), ...requestWarnings(analyses, request)];
    const results = analyses.map((a) => a.result);

    const deny = analyses.find((a) => a.effect === "Deny" && a.result.matched);
    if (deny) return { allowed: false, decidingStatement: deny.result.index, statements: results, warnings, fix: denyFix(deny, request) };
    const allow = analyses.find((a) => a.effect === "Allow" && a.result.matched);
    if (allow) return { allowed: true, decidingStatement: allow.result.index, statements: results, warnings };
    return { allowed: false, statements: results, warnings, fix: implicitDenyFix(analyses, request) };
}

/**
 * STS rejects a token before any trust policy is read when none of its audiences is a client id of
 * the IAM OIDC provider. Returns why, or undefined when one audience is registered.
 */
export function audienceProblem(aud: string | readonly string[], clientIds: readonly string[], providerArn: string): string | undefined {
    const audiences = asStrings(aud);
    if (audiences.some((a) => clientIds.includes(a))) return undefined;
    const expected = clientIds.length > 0 ? quoteAll([...clientIds]) : "no client id at all";
    return (
        `the token's audience is ${quoteAll(audiences)}; the OIDC provider ${providerArn} accepts ${expected}, so STS rejects the token ` +
        `(InvalidIdentityToken) before reading the trust policy: ` +
        (clientIds.includes(STS_AUDIENCE) ? `request tokens for ${STS_AUDIENCE}` : `add ${quoteAll(audiences)} to the provider's client ids`)
    );
}
