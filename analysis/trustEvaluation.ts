// Decides, without any I/O, whether a role trust policy lets one projected service-account token
// through `sts:AssumeRoleWithWebIdentity`, statement by statement, and says what to change when it
// does not. Used by the doctor (`cli/doctor*.ts`); the rules below are IAM's documented ones:
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

import {
    asStrings,
    checkAction,
    federatedOf,
    holdsWhenMissing,
    label,
    oidcProvidersOf,
    parseOperator,
    quote,
    quoteAll,
    type ElementCheck,
    type ParsedOperator,
    type StringOperator,
} from "../domain/policyReading";
import { parseOidcProviderArn } from "../domain/subjects";

export { trustedOidcProviders } from "../domain/policyReading";

export { globMatch, globToRegExp } from "../domain/policyReading";
import {
    statementsOf,
    STS_AUDIENCE,
    webIdentityStatement,
    WEB_IDENTITY_ACTION,
    type PolicyDocument,
    type PolicyStatement,
} from "../domain/trustPolicy";

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

// ---------------------------------------------------------------------------------------------
// Principal and action

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

// ---------------------------------------------------------------------------------------------
// Conditions

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

function missingKeyResult(op: ParsedOperator, policyValues: string[]): { satisfied: boolean; why: string } {
    const satisfied = holdsWhenMissing(op, policyValues) ?? false;
    const how = op.set ?? (op.ifExists ? op.name : op.string?.negated ? op.base : op.name);
    return { satisfied, why: `${how} is ${satisfied} when the key is missing` };
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
        const { satisfied, why } = missingKeyResult(operator, policyValues);
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
    // What is wrong with the document itself, whoever asks, is for the rules (trustRules.ts).
    const warnings = requestWarnings(analyses, request);
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
