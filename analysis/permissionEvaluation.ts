// Decides, without I/O, whether a role's identity policies allow one request (an action on a
// resource, with a request context such as a Pod Identity session's tags). IAM's documented rules,
// for what this project's policies use: an explicit Deny wins, else a matching Allow, else an
// implicit deny; Action/NotAction and Resource/NotResource with IAM's wildcards (actions ignore
// case); policy variables (`${aws:PrincipalTag/kubernetes-namespace}`) filled from the context — a
// statement whose variable has no value does not match; string condition operators with
// ForAnyValue/ForAllValues and IfExists. Other operators are reported as not evaluated. With a
// `principal` it reads resource policies instead (a role's trust policy, for sts:AssumeRole).
// Used by `npm run doctor -- --s3`; the tests cross-check it with an independent simulator.

import { asStrings, conditionEntries, globMatch, holdsWhenMissing, label, type ParsedOperator } from "../domain/policyReading";
import { statementsOf, type PolicyDocument, type PolicyStatement } from "../domain/trustPolicy";

export interface PermissionRequest {
    action: string;
    resource: string;
    /** Context keys (case-insensitive) and their values, e.g. `aws:PrincipalTag/kubernetes-namespace`. */
    context: Record<string, string | string[]>;
    /**
     * Who asks, as a Principal element names it, when the policies are resource policies (a
     * role's trust policy: its statements name a Principal and no Resource, the role being implied).
     */
    principal?: { type: "AWS" | "Service" | "Federated"; name: string };
}

export interface PermissionVerdict {
    /** undetermined: a statement whose action and resource match has a condition not evaluated here, and it could change the answer. */
    decision: "allowed" | "explicitly denied" | "implicitly denied" | "undetermined";
    /** `<policy name>: statement i (Sid …)` that decided, when one did. */
    decidedBy?: string;
    /** Statements not evaluated (an unknown condition operator): the verdict may be wrong there. */
    unsupported: string[];
}

const VARIABLE = /\$\{([^}]+)\}/g;

/** The text with policy variables filled from the context; undefined when one has no value. */
function substitute(text: string, context: Map<string, string[]>): string | undefined {
    let missing = false;
    const filled = text.replace(VARIABLE, (whole, name: string) => {
        if (name === "*" || name === "?" || name === "$") return whole; // escapes, kept for globMatch
        const [key, fallback] = name.split(/,\s*/);
        const values = context.get(key.trim().toLowerCase());
        if (values && values.length === 1) return values[0];
        if (fallback !== undefined) return fallback.replace(/^'|'$/g, "");
        missing = true;
        return whole;
    });
    return missing ? undefined : filled;
}

function matchesAny(patterns: string[], value: string, context: Map<string, string[]>, ignoreCase: boolean): boolean {
    return patterns.some((p) => {
        const filled = substitute(p, context);
        return filled !== undefined && globMatch(filled, value, ignoreCase);
    });
}

/** One condition entry; undefined when the operator is not evaluated here. */
function conditionHolds(op: ParsedOperator, key: string, policyValues: string[], context: Map<string, string[]>): boolean | undefined {
    const values = context.get(key.toLowerCase());
    if (op.base === "Null") {
        const wantsMissing = policyValues.some((v) => v.toLowerCase() === "true");
        return wantsMissing === (values === undefined);
    }
    const str = op.string;
    if (!str) return undefined;
    if (values === undefined) return holdsWhenMissing(op, policyValues);
    const filled = policyValues.map((v) => substitute(v, context)).filter((v): v is string => v !== undefined);
    const matchOne = (value: string) => filled.some((p) => str.compare(p, value));
    if (op.set === "ForAllValues") return values.every((v) => (str.negated ? !matchOne(v) : matchOne(v)));
    const any = values.some(matchOne);
    return str.negated ? !any : any;
}

/** Whether a Principal/NotPrincipal value names the caller ("*" and {"AWS": "*"} name everyone). */
function namesPrincipal(value: unknown, principal: NonNullable<PermissionRequest["principal"]>): boolean {
    if (value === "*") return true;
    if (typeof value !== "object" || value === null) return false;
    const element = value as Record<string, unknown>;
    return asStrings(element.AWS).includes("*") || asStrings(element[principal.type]).includes(principal.name);
}

function principalMatches(s: PolicyStatement, principal: PermissionRequest["principal"]): boolean {
    if (!principal) return !("Principal" in s) && !("NotPrincipal" in s); // an identity policy names no principal
    if ("Principal" in s) return namesPrincipal(s.Principal, principal);
    if ("NotPrincipal" in s) return !namesPrincipal(s.NotPrincipal, principal);
    return false;
}

function applies(statement: PolicyStatement, request: PermissionRequest, context: Map<string, string[]>): { matches: boolean; unsupported: boolean } {
    // unsupported: action and resource match, no evaluated condition fails, and one is not evaluated.
    const s = statement as PolicyStatement & { Resource?: unknown; NotResource?: unknown };
    const actionOk = "Action" in s ? matchesAny(asStrings(s.Action), request.action, context, true) : "NotAction" in s ? !matchesAny(asStrings(s.NotAction), request.action, context, true) : false;
    // A trust policy names no Resource: the role it belongs to is the resource.
    const resourceOk =
        "Resource" in s
            ? matchesAny(asStrings(s.Resource), request.resource, context, false)
            : "NotResource" in s
              ? !matchesAny(asStrings(s.NotResource), request.resource, context, false)
              : request.principal !== undefined;
    if (!actionOk || !resourceOk || !principalMatches(s, request.principal)) return { matches: false, unsupported: false };
    let unsupported = false;
    for (const entry of conditionEntries(statement)) {
        const holds = conditionHolds(entry.op, entry.key, entry.values, context);
        if (holds === undefined) unsupported = true;
        else if (!holds) return { matches: false, unsupported: false };
    }
    // A statement with an operator not evaluated here is taken as not matching.
    return { matches: !unsupported, unsupported };
}

/** IAM's verdict for one request against a role's identity policies (name → document). */
export function evaluatePermissions(policies: ReadonlyArray<{ name: string; document: PolicyDocument }>, request: PermissionRequest): PermissionVerdict {
    const context = new Map(Object.entries(request.context).map(([k, v]) => [k.toLowerCase(), asStrings(v)]));
    const unsupported: string[] = [];
    let allow: string | undefined;
    let unsureDeny = false;
    let unsureAllow = false;
    for (const { name, document } of policies) {
        for (const [index, statement] of statementsOf(document).entries()) {
            const where = `${name}: ${label(index, typeof statement.Sid === "string" && statement.Sid !== "" ? statement.Sid : undefined)}`;
            const { matches, unsupported: notEvaluated } = applies(statement, request, context);
            if (notEvaluated) {
                unsupported.push(where);
                if (statement.Effect === "Deny") unsureDeny = true;
                else unsureAllow = true;
            }
            if (!matches) continue;
            if (statement.Effect === "Deny") return { decision: "explicitly denied", decidedBy: where, unsupported };
            if (statement.Effect === "Allow") allow ??= where;
        }
    }
    // A Deny that may apply could overturn an allow; an Allow that may apply, an implicit deny.
    if (allow) return unsureDeny ? { decision: "undetermined", unsupported } : { decision: "allowed", decidedBy: allow, unsupported };
    return unsureAllow ? { decision: "undetermined", unsupported } : { decision: "implicitly denied", unsupported };
}
