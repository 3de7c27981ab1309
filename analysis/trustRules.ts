// Guardrails for role trust policies: the well-known IRSA mistakes as pure rules over a policy
// document. One implementation, enforced by the Pulumi policy pack (policy/), by `npm run synth`
// over every trust policy it synthesizes, and by `npm run doctor` over the live documents it reads.
// The TrustSubjects provider never writes a document that breaks a mandatory rule (a property
// test over generated edits keeps it so).

import {
    asStrings,
    checkAction,
    conditionEntries,
    label,
    holdsWhenMissing,
    oidcProvidersOf,
    quote,
    type ConditionEntry,
    type ParsedOperator,
} from "../domain/policyReading";
import { parseOidcProviderArn, SUBJECT_PREFIX } from "../domain/subjects";
import { DEFAULT_MAX_POLICY_CHARS, policySize, statementsOf, STS_AUDIENCE, WEB_IDENTITY_ACTION, type PolicyDocument, type PolicyStatement } from "../domain/trustPolicy";

/** As Pulumi's policy packs name them: mandatory blocks a deployment, advisory warns. */
export type RuleLevel = "mandatory" | "advisory";

export type RuleId =
    | "irsa-aud-only"
    | "irsa-sub-matches-every-namespace"
    | "irsa-wildcard-under-string-equals"
    | "irsa-condition-never-matches"
    | "irsa-audience"
    | "trust-policy-headroom"
    | "trust-open-principal";

export interface TrustRule {
    id: RuleId;
    level: RuleLevel;
    description: string;
}

/** The rules, in the order findings are reported. */
export const TRUST_RULES: readonly TrustRule[] = [
    {
        id: "irsa-aud-only",
        level: "mandatory",
        description: "An Allow of sts:AssumeRoleWithWebIdentity for an OIDC provider must restrict <issuer>:sub; with only an aud condition every service account of the cluster can assume the role.",
    },
    {
        id: "irsa-sub-matches-every-namespace",
        level: "mandatory",
        description: "A StringLike <issuer>:sub pattern must not match every namespace (system:serviceaccount:*:…); a namespace created later would get the role.",
    },
    {
        id: "irsa-wildcard-under-string-equals",
        level: "advisory",
        description: "* and ? are literal characters under StringEquals: a sub value holding them never matches a real service account.",
    },
    {
        id: "irsa-condition-never-matches",
        level: "advisory",
        description:
            "A condition key STS never sets for a provider's tokens (written with https://, or keyed to another provider of the Federated list) makes the statement deny every service account of that provider.",
    },
    {
        id: "irsa-audience",
        level: "advisory",
        description: "An IRSA statement should require <issuer>:aud, and for an EKS issuer exactly sts.amazonaws.com.",
    },
    {
        id: "trust-policy-headroom",
        level: "advisory",
        description: "A trust policy close to the account's ACLSizePerRole quota (default: above 90% of it) cannot take many more subjects.",
    },
    {
        id: "trust-open-principal",
        level: "mandatory",
        description:
            'An Allow for Principal "*", {"AWS": "*"} or an open web identity (Federated "*", or Google, Facebook, Amazon or Cognito without a condition on their keys) must limit who by a condition (aws:PrincipalOrgID, aws:PrincipalAccount, aws:PrincipalArn, aws:SourceAccount, …); any other condition lets every principal in.',
    },
];

export const DEFAULT_HEADROOM_THRESHOLD = 0.9;

export interface RuleOptions {
    /** The account's trust-policy quota. @default 2048 */
    maxPolicyChars?: number;
    /** The share of the quota above which trust-policy-headroom reports. @default 0.9 */
    headroomThreshold?: number;
}

export interface Finding {
    rule: RuleId;
    level: RuleLevel;
    /** The statement's index in the document (the largest statement, for trust-policy-headroom). */
    statement: number;
    sid?: string;
    /** What is wrong, naming the statement. */
    message: string;
    /** What to change. */
    fix: string;
}

const levelOf = (id: RuleId): RuleLevel => TRUST_RULES.find((r) => r.id === id)!.level;

interface Located {
    statement: PolicyStatement;
    index: number;
    sid?: string;
    name: string;
}

type Report = (rule: RuleId, at: Located, message: string, fix: string) => void;

/** An Allow that grants sts:AssumeRoleWithWebIdentity (also through `sts:*`, `*`, or NotAction). */
function allowsWebIdentity(statement: PolicyStatement): boolean {
    return statement.Effect === "Allow" && "Principal" in statement && checkAction(statement).matches;
}

/** A condition operator that lets only listed values in (not negated, not Null, not unknown). */
const restricts = (op: ParsedOperator) => op.string !== undefined && !op.string.negated;

/**
 * Whether a StringLike `sub` pattern matches service accounts of every namespace: a `*` before
 * `system:serviceaccount:` is spelled out, or a namespace part of wildcards only (`*`, `?*`, `*?`;
 * a namespace has at least one character, so one `?` with a `*` still matches them all).
 */
export function matchesEveryNamespace(pattern: string): boolean {
    for (let i = 0; i < SUBJECT_PREFIX.length; i++) {
        if (i >= pattern.length) return false;
        if (pattern[i] === "*") return true;
        if (pattern[i] !== "?" && pattern[i] !== SUBJECT_PREFIX[i]) return false;
    }
    const namespace = pattern.slice(SUBJECT_PREFIX.length).split(":")[0];
    return /^[*?]+$/.test(namespace) && namespace.includes("*") && (namespace.match(/\?/g) ?? []).length <= 1;
}

const EKS_ISSUER = /^oidc\.eks\.[a-z0-9-]+\.amazonaws\.com(\.cn)?\/id\/[0-9A-Za-z]+$/;

/**
 * Why STS never puts `key` in a web-identity request for `issuer`'s tokens, with the fix; undefined
 * when it may. `others`: the issuers of the statement's other Federated providers.
 */
function absentKey(key: string, issuer: string, others: readonly string[]): { why: string; fix: string } | undefined {
    const lower = key.toLowerCase();
    if (/^https?:\/\//.test(lower)) {
        return { why: `${quote(key)} is written with its scheme, and condition keys name the issuer without it`, fix: `write the key as ${key.replace(/^https?:\/\//i, "")}` };
    }
    const other = others.find((o) => lower.startsWith(`${o.toLowerCase()}:`));
    if (other === undefined) return undefined;
    return {
        why: `${quote(key)} is the key of ${other}, another provider of the Federated list, and the statement's conditions are ANDed for every provider it names`,
        fix: `give each provider its own statement, with its own <issuer>:sub and <issuer>:aud keys (${issuer}:sub, ${other}:sub)`,
    };
}

function checkWebIdentity(at: Located, report: Report): void {
    const entries = conditionEntries(at.statement);
    const issuers = oidcProvidersOf(at.statement).map((arn) => parseOidcProviderArn(arn)!.issuer);
    for (const providerArn of oidcProvidersOf(at.statement)) {
        const issuer = parseOidcProviderArn(providerArn)!.issuer;
        const others = issuers.filter((i) => i.toLowerCase() !== issuer.toLowerCase());
        // A condition on a key absent from every request of this provider, false when absent: IAM denies.
        const never = entries.flatMap((e) => {
            const absent = holdsWhenMissing(e.op, e.values) === false ? absentKey(e.key, issuer, others) : undefined;
            return absent ? [{ entry: e, ...absent }] : [];
        });
        if (never.length > 0) {
            report(
                "irsa-condition-never-matches",
                at,
                `${at.name} trusts ${providerArn} but requires ${never.map((n) => `${n.entry.op.name} ${n.entry.key}`).join(" and ")}, a key STS never sets for that provider's tokens (${never[0].why}): IAM denies every service account of that cluster through this statement`,
                [...new Set(never.map((n) => n.fix))].join("; "),
            );
            continue;
        }
        const subKey = `${issuer}:sub`;
        const audKey = `${issuer}:aud`;
        const of = (key: string) => entries.filter((e) => e.key.toLowerCase() === key.toLowerCase());
        const sub = of(subKey);
        const restricting = sub.filter((e) => restricts(e.op));
        if (restricting.length === 0) {
            const what =
                entries.length === 0 ? "has no condition" : sub.length > 0 ? "only excludes some subjects" : `checks only ${[...new Set(entries.map((e) => e.key))].join(", ")}`;
            report(
                "irsa-aud-only",
                at,
                `${at.name} allows ${WEB_IDENTITY_ACTION} from ${providerArn} and ${what}, without restricting ${subKey}: every service account in that cluster can assume this role`,
                `add StringEquals ${subKey} with the service accounts that need the role ("${SUBJECT_PREFIX}<namespace>:<name>")`,
            );
        }
        for (const entry of restricting) {
            const like = entry.op.string!.like === true;
            for (const value of entry.values) {
                if (like && matchesEveryNamespace(value)) {
                    report(
                        "irsa-sub-matches-every-namespace",
                        at,
                        `${at.name} trusts ${entry.op.name} ${subKey} ${quote(value)}, which matches service accounts of every namespace, including ones created later`,
                        `name each namespace (StringEquals ${subKey} "${SUBJECT_PREFIX}<namespace>:<name>"), or at least a fixed namespace prefix`,
                    );
                }
                if (!like && /[*?]/.test(value)) {
                    report(
                        "irsa-wildcard-under-string-equals",
                        at,
                        `${at.name} lists ${quote(value)} under ${entry.op.name} ${subKey}: there * and ? are literal characters, so it never matches a service account`,
                        `move the pattern under StringLike ${subKey}, or list each service account exactly`,
                    );
                }
            }
        }
        const aud = of(audKey).filter((e) => restricts(e.op));
        if (aud.length === 0) {
            report(
                "irsa-audience",
                at,
                `${at.name} trusts ${providerArn} without a ${audKey} condition: STS then accepts a token of that issuer for any audience in the provider's client-id list, so a client id added there later for another use lets those tokens in too`,
                `add StringEquals ${audKey} "${STS_AUDIENCE}"`,
            );
        } else if (EKS_ISSUER.test(issuer)) {
            const others = [...new Set(aud.flatMap((e) => e.values))].filter((v) => v !== STS_AUDIENCE);
            if (others.length > 0) {
                report(
                    "irsa-audience",
                    at,
                    `${at.name} accepts ${audKey} ${others.map(quote).join(", ")}; EKS's projected tokens for IRSA carry the audience "${STS_AUDIENCE}"`,
                    `require StringEquals ${audKey} "${STS_AUDIENCE}" only`,
                );
            }
        }
    }
}

/**
 * Global keys that name who is asking (the caller, its account or organization, or the resource
 * a service acts for); IAM matches key names case-insensitively. A positive condition on one of
 * them limits an open principal; STS leaves them out of a web-identity request, so there it denies.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html
 */
const WHO_KEYS = new Set(
    ["aws:PrincipalArn", "aws:PrincipalAccount", "aws:PrincipalOrgID", "aws:PrincipalOrgPaths", "aws:SourceAccount", "aws:SourceArn", "aws:SourceOrgID", "aws:SourceOrgPaths", "aws:SourceOwner", "aws:userid"].map(
        (k) => k.toLowerCase(),
    ),
);

/** Web-identity providers STS trusts with no IAM provider of the account: anyone may sign in there. */
const PUBLIC_WEB_IDENTITIES = ["accounts.google.com", "graph.facebook.com", "www.amazon.com", "cognito-identity.amazonaws.com"];

/**
 * A condition entry that lets only the listed values of a key in: a positive string or ARN
 * operator, without IfExists or ForAllValues (both hold when the key is absent), and no wildcard
 * under a Like operator (AWS lists these keys as ones where a wildcard has no valid use).
 */
function limits(entry: ConditionEntry, keyCounts: (lowerKey: string) => boolean): boolean {
    const { op, values } = entry;
    if (!keyCounts(entry.key.toLowerCase()) || op.ifExists || op.set === "ForAllValues" || values.length === 0) return false;
    const positive = (op.string !== undefined && !op.string.negated) || /^Arn(Equals|Like)$/.test(op.base);
    const like = op.string?.like === true || op.base === "ArnLike";
    // A policy variable matches the caller itself (`aws:PrincipalAccount` = "${aws:PrincipalAccount}").
    if (!positive || values.some((v) => v.includes("${"))) return false;
    return !like || values.every((v) => scopedPattern(entry.key.toLowerCase(), v));
}

/**
 * Whether a Like pattern still names whose it is: an ARN pattern with a literal account
 * (`arn:aws:iam::111122223333:role/ci-*`), an organization path under a literal organization
 * (`o-a1b2c3d4e5/r-ab12/ou-ab12-11111111/*`). Any other wildcard may match anyone.
 */
function scopedPattern(lowerKey: string, value: string): boolean {
    if (!/[*?]/.test(value)) return true;
    if (lowerKey === "aws:principalarn" || lowerKey === "aws:sourcearn") {
        const parts = value.split(":");
        return parts.length >= 6 && /^[0-9]{12}$/.test(parts[4]);
    }
    if (lowerKey === "aws:principalorgpaths" || lowerKey === "aws:sourceorgpaths") return /^o-[a-z0-9]{10,32}\//.test(value);
    return false;
}

function checkOpenPrincipal(at: Located, report: Report): void {
    if (at.statement.Effect !== "Allow" || !("Principal" in at.statement)) return;
    const principal = at.statement.Principal;
    const typed = typeof principal === "object" && principal !== null && !Array.isArray(principal) ? (principal as Record<string, unknown>) : {};
    const entries = conditionEntries(at.statement);
    const limitedBy = (own: (k: string) => boolean) => entries.some((e) => limits(e, (k) => WHO_KEYS.has(k) || own(k)));
    const conditions = entries.length === 0 ? "with no condition" : `with conditions that do not limit who (${[...new Set(entries.map((e) => `${e.op.name} ${e.key}`))].join(", ")})`;
    const everyone = principal === "*" ? 'Principal "*"' : asStrings(typed.AWS).includes("*") ? 'Principal {"AWS": "*"}' : asStrings(typed.Federated).includes("*") ? 'Federated "*"' : undefined;
    if (everyone && !limitedBy(() => false)) {
        const webIdentity = checkAction(at.statement).matches ? " and any web-identity token STS accepts," : "";
        report(
            "trust-open-principal",
            at,
            `${at.name} allows ${everyone} ${conditions}: every AWS principal, in any account,${webIdentity} can assume this role`,
            "name the principals (an account, role or OIDC provider ARN), or limit who with StringEquals aws:PrincipalOrgID, aws:PrincipalAccount or aws:PrincipalArn",
        );
        return;
    }
    const federated = asStrings(typed.Federated).map((f) => f.toLowerCase());
    const webIdentity = checkAction(at.statement).matches;
    for (const idp of PUBLIC_WEB_IDENTITIES.filter((p) => webIdentity && federated.includes(p))) {
        if (limitedBy((k) => k.startsWith(`${idp}:`) && k !== `${idp}:amr`)) continue;
        report(
            "trust-open-principal",
            at,
            `${at.name} allows Federated ${quote(idp)} ${conditions}: anyone who signs in there (for any application) can assume this role`,
            `add StringEquals ${idp}:aud with your application's id (for Cognito, the identity pool id)`,
        );
    }
}

/**
 * trust-policy-headroom's test and words for a policy of `size` characters (as IAM counts them),
 * or undefined when it has room. `largest` names the statement to look at, if known.
 */
export function headroomProblem(size: number, options: RuleOptions, largest?: string): { message: string; fix: string } | undefined {
    const maxChars = options.maxPolicyChars ?? DEFAULT_MAX_POLICY_CHARS;
    const threshold = options.headroomThreshold ?? DEFAULT_HEADROOM_THRESHOLD;
    if (size <= threshold * maxChars) return undefined;
    return {
        message: `the trust policy is ${size} of ${maxChars} characters (${Math.round((100 * size) / maxChars)}%, above ${Math.round(threshold * 100)}%)${largest ? `; ${largest} is the largest` : ""}`,
        fix:
            size > maxChars
                ? `it is over the quota: IAM refuses it; move subjects to another role or raise the "Role trust policy length" quota (Service Quotas, IAM, L-C07B4B0D)`
                : `plan for more roles (kubeflow-irsa:userRoleShards) or raise the "Role trust policy length" quota (Service Quotas, IAM, L-C07B4B0D) before it fills up`,
    };
}

function checkHeadroom(document: PolicyDocument, located: Located[], options: RuleOptions, report: Report): void {
    if (located.length === 0) return;
    const sizes = located.map((at) => policySize({ Version: document.Version, Statement: [at.statement] }));
    const largest = located[sizes.indexOf(Math.max(...sizes))];
    const problem = headroomProblem(policySize(document), options, largest.name);
    if (problem) report("trust-policy-headroom", largest, problem.message, problem.fix);
}

/** Every finding of every rule in a trust policy, in statement order (the headroom finding last). */
export function checkTrustPolicy(document: PolicyDocument, options: RuleOptions = {}): Finding[] {
    const findings: Finding[] = [];
    const report: Report = (rule, at, message, fix) =>
        findings.push({ rule, level: levelOf(rule), statement: at.index, ...(at.sid ? { sid: at.sid } : {}), message, fix });
    const located = statementsOf(document).map((statement, index) => {
        const sid = typeof statement.Sid === "string" && statement.Sid !== "" ? statement.Sid : undefined;
        return { statement, index, ...(sid ? { sid } : {}), name: label(index, sid) };
    });
    for (const at of located) {
        checkOpenPrincipal(at, report);
        if (allowsWebIdentity(at.statement)) checkWebIdentity(at, report);
    }
    checkHeadroom(document, located, options, report);
    return findings;
}

export const isMandatory = (f: Finding) => f.level === "mandatory";

/** One line per finding: `[mandatory] irsa-aud-only: <message>; fix: <fix>`. */
export function formatFinding(f: Finding): string {
    return `[${f.level}] ${f.rule}: ${f.message}; fix: ${f.fix}`;
}
