// The trust-policy rules (analysis/trustRules.ts) as the CLIs report them: per role, in JSON and
// as text lines. Shared by `npm run synth` and `npm run doctor`.

import { checkTrustPolicy, isMandatory, type Finding, type RuleOptions } from "../analysis/trustRules";
import type { PolicyDocument } from "../domain/trustPolicy";

/** A finding with the role whose trust policy it is in. */
export interface RoleFinding extends Finding {
    role: string;
}

export function roleFindings(role: string, document: PolicyDocument, options: RuleOptions): RoleFinding[] {
    return checkTrustPolicy(document, options).map((f) => ({ role, ...f }));
}

export const hasMandatory = (findings: readonly Finding[]) => findings.some(isMandatory);

/** `Finding [mandatory] irsa-aud-only (kf-user-…): <message>` and its fix, indented. */
export function findingLines(findings: readonly RoleFinding[]): string[] {
    if (findings.length === 0) return [];
    const mandatory = findings.filter(isMandatory).length;
    const lines = [`Findings: ${findings.length} (${mandatory} mandatory, ${findings.length - mandatory} advisory)`];
    for (const f of findings) lines.push(`  [${f.level}] ${f.rule} (${f.role}): ${f.message}`, `      fix: ${f.fix}`);
    return lines;
}
