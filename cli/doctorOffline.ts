// The doctor's offline modes (cli/doctor.ts), no AWS call: --stack --offline judges each profile
// against the trust policy `up` would write (synth's Synthesis, cli/synthStack.ts), and --s3 the
// permission policies `up` would attach to a profile's role (cli/s3Access.ts).

import { DEFAULT_EDITOR, parseRoleRef, sameRole, subjectOf } from "../domain/subjects";
import { trustedOidcProviders } from "../analysis/trustEvaluation";
import { STS_AUDIENCE } from "../domain/trustPolicy";
import { roleFindings } from "./findings";
import { s3Access, type S3AccessReport } from "./s3Access";
import { DoctorError } from "./doctorToken";
import type { StackModel } from "./evaluate";
import { forbid, selectedProfile, type Flags } from "./doctorFlags";
import { placeholderNote, SynthError, synthesize, type Synthesis } from "./synthStack";
import { checkProvider, roleReport } from "./doctorVerdict";
import { accountsOf, loadStack, requireIrsa, rowOf, unknownNotes, type ProfileAccount, type ProfileRow, type StackReport } from "./doctorStack";

export const OFFLINE_FLAGS: Array<keyof Flags> = ["role", "token", "audience", "providerArn", "region", "profile", "maxPolicyChars"];
export const OFFLINE_ONLY = "--offline judges, with no AWS call, the trust policies `up` would write for each profile of a --stack";
const OWNED_ONLY_NOTE =
    "not created by this stack: only the statement the stack owns in it is known offline, and only that was judged; " +
    "its other statements (an explicit Deny, say) are not. Run without --offline to check the live role";

/** The profile against the synthesized trust policy of its role (no IAM: `synthesis` is all there is). */
function offlineRow(synthesis: Synthesis, profile: ProfileAccount, warnings: Set<string>): ProfileRow {
    const subject = subjectOf(profile.name, profile.serviceAccount);
    const base = { name: profile.name, namespace: profile.name, serviceAccount: profile.serviceAccount, subject };
    if (profile.roleArn === "") {
        return { ...base, role: "", roleArn: "", status: "skipped", reason: "the stack gives this profile no IAM role (enablePodIamPolicy is false)" };
    }
    const trust = synthesis.roles.find((r) => sameRole(r.arn, profile.roleArn));
    if (!trust) {
        const role = parseRoleRef(profile.roleArn)?.name ?? profile.roleArn;
        return { ...base, role, roleArn: profile.roleArn, status: "denied", reason: "`up` would write no trust policy for the profile's role (the stack neither creates it nor edits it)" };
    }
    const caller = { subject, audience: [STS_AUDIENCE] };
    const checks = trustedOidcProviders(trust.document).map((arn) => checkProvider(trust.document, caller, arn));
    const report = roleReport({ name: trust.role, roleArn: trust.arn, document: trust.document }, caller, checks, trust.limit);
    for (const w of report.warnings) warnings.add(`${trust.role}: ${w}`);
    const row = rowOf(profile, report);
    if (trust.scope === "owned-statement") row.reason += " (the statement this stack owns)";
    return { ...row, judged: trust.scope };
}

/** What `up` would write; what `pulumi preview` would refuse (a trust policy over quota, a bad subject) leaves no policy to judge. */
function synthesized(model: StackModel): Synthesis {
    try {
        return synthesize(model);
    } catch (err) {
        if (err instanceof SynthError) throw new DoctorError(`--stack ${model.stack}: ${err.message}`);
        throw err;
    }
}

/** The service accounts judged: every profile's, or with --namespace that profile's (with --service-account, that one). */
function selectedAccounts(model: StackModel, flags: Flags): ProfileAccount[] {
    if (flags.namespace === undefined) {
        if (flags.serviceAccount !== undefined) throw new DoctorError("--service-account goes with --namespace <ns>: the profile whose service account to check");
        return accountsOf(model.profiles);
    }
    const profile = selectedProfile(model, flags.namespace, flags.serviceAccount);
    return accountsOf([profile]).filter((a) => flags.serviceAccount === undefined || a.serviceAccount === flags.serviceAccount);
}

export async function offlineStackMode(flags: Flags, stack: string): Promise<StackReport> {
    const model = await loadStack(flags, stack);
    requireIrsa(model, stack);
    const synthesis = synthesized(model);
    const warnings = new Set<string>();
    const profiles = selectedAccounts(model, flags).map((p) => offlineRow(synthesis, p, warnings));
    // Every trust policy `up` would write, kf-admin's and the components' too (for a role the
    // stack does not create, the statement it owns); with --namespace, that profile's role's.
    const judged = flags.namespace === undefined ? synthesis.roles : synthesis.roles.filter((r) => profiles.some((p) => p.roleArn !== "" && sameRole(p.roleArn, r.arn)));
    const findings = judged.flatMap((r) => roleFindings(r.role, r.document, { maxPolicyChars: r.limit }));
    const ownedOnly = synthesis.roles.filter((r) => r.scope === "owned-statement" && profiles.some((p) => p.judged === "owned-statement" && p.roleArn === r.arn));
    const notes = [
        "offline: judged against the trust policies `pulumi up` would write, as `npm run synth` computes them; no AWS call was made",
        ...ownedOnly.map((r) => `${r.role} * (${r.arn}) is ${OWNED_ONLY_NOTE}`),
        placeholderNote(synthesis.placeholderAccount, synthesis.accountFromConfig),
        ...unknownNotes(model),
    ];
    return { stack, region: model.region, mode: "offline", allowed: profiles.every((p) => p.status !== "denied"), profiles, warnings: [...warnings], findings, notes };
}

export async function s3Mode(flags: Flags): Promise<S3AccessReport> {
    forbid(flags, ["role", "token", "audience", "providerArn", "region", "profile", "maxPolicyChars"], "with --s3: it judges the policies `up` would attach, offline");
    if (flags.stack === undefined || !flags.offline || flags.namespace === undefined) {
        throw new DoctorError("--s3 needs --stack <name> --offline --namespace <ns> (and optionally --service-account): it judges, with no AWS call, the policies `up` would attach to that profile's role");
    }
    const model = await loadStack(flags, flags.stack);
    const synthesis = synthesized(model);
    let report: S3AccessReport;
    try {
        report = s3Access(model, synthesis, flags.namespace, flags.serviceAccount ?? DEFAULT_EDITOR, flags.s3!);
    } catch (err) {
        throw err instanceof DoctorError ? err : new DoctorError((err as Error).message);
    }
    return { ...report, notes: [...report.notes, ...unknownNotes(model)] };
}
