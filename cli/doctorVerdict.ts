// The doctor's verdict on one caller (a service account's subject and audience) against one role's
// trust policy: per OIDC provider, STS's own checks and then IAM's evaluation
// (analysis/trustEvaluation.ts), combined into the report --role and --token print, with the
// rules' findings (cli/findings.ts); and that report as text.

import { audienceProblem, evaluateTrustPolicy, type StatementResult, type TrustEvaluation } from "../analysis/trustEvaluation";
import type { PolicyDocument } from "../domain/trustPolicy";
import { findingLines, roleFindings, type RoleFinding } from "./findings";
import type { TokenSummary } from "./doctorToken";
import type { FetchedProvider, LiveRole } from "./doctorIam";

/** One provider's verdict: STS's own checks (`problems`) and then the trust policy's. */
export interface ProviderCheck extends TrustEvaluation {
    providerArn: string;
    /** Reasons STS rejects the token before reading the trust policy. */
    problems: string[];
}

/** The `--role` / `--token` result: the evaluator's structure for the deciding provider, plus context. */
export interface RoleReport extends TrustEvaluation {
    role: string;
    roleArn: string;
    subject: string;
    audience: string[];
    providerArn?: string;
    /** Reasons the request fails before the trust policy (expired token, unknown provider, audience). */
    problems: string[];
    token?: TokenSummary;
    /** Every provider checked (one with --provider-arn or --token). */
    providers: Array<{ providerArn: string; allowed: boolean; decidingStatement?: number; fix?: string }>;
    /** What the trust-policy rules find in the role's document, whoever asks (analysis/trustRules.ts). */
    findings: RoleFinding[];
}

export interface Caller {
    subject: string;
    audience: string[];
}

function providerProblems(providerArn: string, clientIds: string[] | undefined, audience: string[]): string[] {
    if (clientIds === undefined) {
        return [
            `the IAM OIDC provider ${providerArn} does not exist, so STS rejects every token of that cluster; ` +
                `create it for the cluster's issuer (eksctl utils associate-iam-oidc-provider --cluster <name> --approve), or check --provider-arn`,
        ];
    }
    const problem = audienceProblem(audience, clientIds, providerArn);
    return problem ? [problem] : [];
}

export function checkProvider(document: PolicyDocument, caller: Caller, providerArn: string, fetched?: FetchedProvider): ProviderCheck {
    const evaluation = evaluateTrustPolicy(document, { providerArn, sub: caller.subject, aud: caller.audience });
    const problems = fetched ? providerProblems(providerArn, fetched.clientIds, caller.audience) : [];
    const allowed = evaluation.allowed && problems.length === 0;
    const fix = problems.length > 0 ? [problems[0], evaluation.fix].filter(Boolean).join("; then ") : evaluation.fix;
    return { providerArn, ...evaluation, allowed, problems, ...(fix ? { fix } : {}) };
}

function noProviderReport(role: LiveRole, caller: Caller, findings: RoleFinding[]): RoleReport {
    return {
        findings,
        role: role.name,
        roleArn: role.roleArn,
        subject: caller.subject,
        audience: caller.audience,
        allowed: false,
        statements: [],
        warnings: [],
        problems: [],
        providers: [],
        fix: `the trust policy of ${role.name} names no IAM OIDC provider, so no service account can assume it; run again with --provider-arn <your cluster's provider> to see the statement to add`,
    };
}

export function roleReport(role: LiveRole, caller: Caller, checks: ProviderCheck[], maxPolicyChars: number, extraProblems: string[] = []): RoleReport {
    const findings = roleFindings(role.name, role.document, { maxPolicyChars });
    if (checks.length === 0) return noProviderReport(role, caller, findings);
    // Without --provider-arn every cluster the role trusts is checked, and the verdict must hold
    // for each: "allowed" for a namespace only one cluster's statement trusts would mislead.
    const denied = checks.filter((c) => !c.allowed);
    const primary = denied[0] ?? checks[0];
    const allowed = denied.length === 0 && extraProblems.length === 0;
    const warnings = [...new Set(checks.flatMap((c) => c.warnings))];
    if (checks.length > 1) {
        warnings.push(`the role trusts ${checks.length} OIDC providers and the verdict is for all of them; pass --provider-arn to check the pod's own cluster`);
    }
    const problems = [...extraProblems, ...primary.problems];
    let fix: string | undefined;
    if (!allowed) {
        const fixes = checks.length === 1 ? [primary.fix] : denied.map((c) => c.fix && `for ${c.providerArn}: ${c.fix}`);
        fix = [...extraProblems, ...fixes].filter((f): f is string => Boolean(f)).join("; ");
    }
    return {
        role: role.name,
        roleArn: role.roleArn,
        subject: caller.subject,
        audience: caller.audience,
        providerArn: primary.providerArn,
        allowed,
        ...(primary.decidingStatement !== undefined ? { decidingStatement: primary.decidingStatement } : {}),
        statements: primary.statements,
        warnings,
        problems,
        ...(fix ? { fix } : {}),
        providers: checks.map((c) => ({
            providerArn: c.providerArn,
            allowed: c.allowed,
            ...(c.decidingStatement !== undefined ? { decidingStatement: c.decidingStatement } : {}),
            ...(c.fix ? { fix: c.fix } : {}),
        })),
        findings,
    };
}

function statementHeading(s: StatementResult): string {
    const name = s.sid ? `statement ${s.index} (Sid "${s.sid}")` : `statement ${s.index}`;
    return `  ${name}, ${s.effect}: ${s.matched ? "MATCHES" : "does not match"}`;
}

function verdictLine(report: RoleReport): string {
    const who = `${report.subject} ${report.allowed ? "can" : "cannot"} assume ${report.role}`;
    if (report.allowed) return `ALLOWED: ${who} (statement ${report.decidingStatement} allows it)`;
    if (report.problems.length > 0) return `DENIED: ${who}: STS rejects the token before the trust policy`;
    if (report.decidingStatement !== undefined) return `DENIED: ${who}: statement ${report.decidingStatement} explicitly denies it (an explicit Deny overrides every Allow)`;
    return `DENIED: ${who}: no statement allows it (implicit deny)`;
}

export function renderRoleReport(report: RoleReport): string {
    const lines = [`Role ${report.role} (${report.roleArn})`];
    if (report.token) {
        const t = report.token;
        const expiry = t.expiresAt ? `, expires ${t.expiresAt}${t.expired ? " (EXPIRED)" : ""}` : ", no exp claim";
        const signed = t.signature ? (t.signature.verified ? `signature verified against ${t.signature.jwks} (kid ${t.signature.kid ?? "none"})` : "signature DOES NOT VERIFY") : "signature not verified (give --jwks)";
        lines.push(`Token: iss ${t.issuer}, sub ${t.subject}, aud ${t.audience.join(", ")}${expiry}; ${signed}`);
    }
    lines.push(`Caller: ${report.subject}, audience ${report.audience.join(", ")}`);
    for (const p of report.providers) {
        lines.push("", `Provider ${p.providerArn}: ${p.allowed ? "allowed" : "denied"}`);
        if (p.providerArn === report.providerArn) {
            for (const s of report.statements) lines.push(statementHeading(s), ...s.reasons.map((r) => `    - ${r}`));
        }
    }
    lines.push("", verdictLine(report));
    // The fix starts with the STS problems (expired token, unknown provider, audience), if any.
    if (report.fix) lines.push(`Fix: ${report.fix}`);
    lines.push(...findingLines(report.findings));
    for (const warning of report.warnings) lines.push(`Warning: ${warning}`);
    return lines.join("\n") + "\n";
}
