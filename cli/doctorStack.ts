// The doctor's --stack mode (cli/doctor.ts): the stack's profiles, from the program run offline
// (cli/evaluate.ts), each service account judged against its role's live trust policy, the moves
// not finished (cli/doctorDrain.ts), and the stack report as text (also --offline's).

import type { IAMClient } from "@aws-sdk/client-iam";
import { parseRoleRef, roleKey, sameRole, subjectOf, type RoleRef } from "../domain/subjects";
import { trustedOidcProviders } from "../analysis/trustEvaluation";
import { STS_AUDIENCE } from "../domain/trustPolicy";
import { findingLines, type RoleFinding } from "./findings";
import { drainingLines, drainingRows, type DrainingRow } from "./doctorDrain";
import { DoctorError } from "./doctorToken";
import type { ProfileModel, StackModel } from "./evaluate";
import { forbid, type Flags } from "./doctorFlags";
import type { RoleTrust } from "./synthStack";
import { fetchClientIds, fetchRole, iamSettings, withClient, wrongAccount, type FetchedProvider, type LiveRole } from "./doctorIam";
import { checkProvider, roleReport, type RoleReport } from "./doctorVerdict";
import { checkProviderArn } from "./doctorRole";

export interface ProfileRow {
    name: string;
    namespace: string;
    serviceAccount: string;
    subject: string;
    role: string;
    roleArn: string;
    /** "skipped" when the stack gives the profile no IAM role. */
    status: "allowed" | "denied" | "skipped";
    reason: string;
    fix?: string;
    decidingStatement?: number;
    /**
     * --offline: what was judged — the role's whole trust policy after `up`, or, for a role the
     * stack does not create, only the statement the stack owns (its other statements are unknown).
     */
    judged?: RoleTrust["scope"];
}

export interface StackReport {
    stack: string;
    region: string;
    /** live: the roles' trust policies read from IAM; offline: the ones `up` would write (synth). */
    mode: "live" | "offline";
    allowed: boolean;
    profiles: ProfileRow[];
    warnings: string[];
    /** What the trust-policy rules find in the roles' documents (analysis/trustRules.ts). */
    findings: RoleFinding[];
    /** What the verdicts rest on (--offline), and config values not known offline. */
    notes?: string[];
    /** Live: moved service accounts their old role still trusts until kubeflow-irsa:finishMoves (cli/doctorDrain.ts). */
    draining?: DrainingRow[];
}

/**
 * The stack's profiles, from the program itself run offline (cli/evaluate.ts). Loaded only in this
 * mode: it brings in the Pulumi SDK and the program, which --role and --token do not need.
 */
export async function loadStack(flags: Flags, stack: string): Promise<StackModel> {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { evaluateStack } = require("./evaluate") as typeof import("./evaluate");
    const { parseConfigOverrides } = require("./configOverrides") as typeof import("./configOverrides");
    /* eslint-enable @typescript-eslint/no-require-imports */
    let overrides;
    try {
        overrides = parseConfigOverrides(flags.config ?? []);
    } catch (err) {
        throw new DoctorError((err as Error).message);
    }
    try {
        return await evaluateStack({ stack, overrides, ...(flags.projectDir !== undefined ? { projectDir: flags.projectDir } : {}) });
    } catch (err) {
        throw new DoctorError(`--stack ${stack}: ${err instanceof Error ? err.message : String(err)}`);
    }
}

function deniedReason(report: RoleReport): string {
    if (report.problems.length > 0) return "STS rejects the token before the trust policy";
    if (report.decidingStatement !== undefined) return `statement ${report.decidingStatement} explicitly denies it`;
    if (report.providers.length === 0) return "the role trusts no IAM OIDC provider";
    return "no statement allows it (implicit deny)";
}

/** One service account of a profile: what a row of the stack report judges. */
export type ProfileAccount = Omit<ProfileModel, "serviceAccounts"> & { serviceAccount: string };
export const accountsOf = (profiles: ProfileModel[]): ProfileAccount[] =>
    profiles.flatMap(({ serviceAccounts, ...profile }) => serviceAccounts.map((serviceAccount) => ({ ...profile, serviceAccount })));

export function rowOf(profile: ProfileAccount, report: RoleReport): ProfileRow {
    return {
        name: profile.name,
        namespace: profile.name,
        serviceAccount: profile.serviceAccount,
        subject: report.subject,
        role: report.role,
        roleArn: report.roleArn,
        status: report.allowed ? "allowed" : "denied",
        reason: report.allowed ? `statement ${report.decidingStatement} allows it` : deniedReason(report),
        ...(report.fix ? { fix: report.fix } : {}),
        ...(report.decidingStatement !== undefined ? { decidingStatement: report.decidingStatement } : {}),
    };
}

interface StackContext {
    client: IAMClient;
    roles: Map<string, Promise<LiveRole | undefined>>;
    /** The --provider-arn provider, fetched once for all profiles. */
    provider?: FetchedProvider;
    /** Profiles whose role the stack config names (awsIamRole) rather than creates. */
    explicitRoles: Set<string>;
    warnings: Set<string>;
    /** The stack's trust-policy quota (kubeflow-irsa:trustPolicyMaxChars). */
    maxPolicyChars: number;
    /** Rule findings by role, each role once. */
    findings: Map<string, RoleFinding[]>;
}

async function checkProfile(ctx: StackContext, flags: Flags, profile: ProfileAccount): Promise<ProfileRow> {
    // The program profile's name is its namespace (Kubeflow: one profile, one namespace).
    const subject = subjectOf(profile.name, profile.serviceAccount);
    const base = { name: profile.name, namespace: profile.name, serviceAccount: profile.serviceAccount, subject };
    const ref = profile.roleArn === "" ? undefined : parseRoleRef(profile.roleArn);
    if (!ref) {
        const reason = profile.roleArn === "" ? "the stack gives this profile no IAM role (enablePodIamPolicy is false)" : `"${profile.roleArn}" is not a role ARN`;
        return { ...base, role: "", roleArn: profile.roleArn, status: profile.roleArn === "" ? "skipped" : "denied", reason };
    }
    // Roles the stack creates are fetched by name: the program's ARNs carry a placeholder account.
    // A role named by awsIamRole keeps its account, which the credentials must reach.
    const explicit = ctx.explicitRoles.has(profile.name);
    const lookup: RoleRef = explicit ? ref : { name: ref.name };
    const key = roleKey(lookup.arn ?? lookup.name);
    if (!ctx.roles.has(key)) ctx.roles.set(key, fetchRole(ctx.client, lookup));
    const role = await ctx.roles.get(key);
    if (!role) {
        const fix = ctx.explicitRoles.has(profile.name)
            ? `the profile's awsIamRole names ${ref.name}, which this account does not have: create it, or correct awsIamRole`
            : `run \`pulumi up\` for the stack: it creates ${ref.name}`;
        return { ...base, role: ref.name, roleArn: profile.roleArn, status: "denied", reason: "the role does not exist", fix };
    }
    const elsewhere = wrongAccount(lookup, role);
    if (elsewhere) return { ...base, role: ref.name, roleArn: profile.roleArn, status: "denied", reason: elsewhere };
    const caller = { subject, audience: [STS_AUDIENCE] };
    const checks =
        flags.providerArn !== undefined
            ? [checkProvider(role.document, caller, flags.providerArn, ctx.provider)]
            : trustedOidcProviders(role.document).map((arn) => checkProvider(role.document, caller, arn));
    const report = roleReport(role, caller, checks, ctx.maxPolicyChars);
    for (const w of report.warnings) ctx.warnings.add(`${role.name}: ${w}`);
    ctx.findings.set(role.name, report.findings);
    return rowOf(profile, report);
}

export function requireIrsa(model: StackModel, stack: string): void {
    if (model.config.identityMode !== "irsa") {
        throw new DoctorError(
            `--stack ${stack}: the stack uses identityMode ${model.config.identityMode}: its roles trust pods.eks.amazonaws.com through Pod Identity associations, not OIDC tokens; the doctor checks IRSA trust policies only`,
        );
    }
}

/**
 * The roles a moved profile may still be trusted by: every role the profiles use, and the kf-user
 * shards beyond userRoleShards that still exist (a lowered count keeps them while they drain).
 */
async function stackRoles(ctx: StackContext, model: StackModel): Promise<LiveRole[]> {
    const roles = (await Promise.all(ctx.roles.values())).filter((r): r is LiveRole => r !== undefined);
    // kf-user's name, as the program exported it (shards are `<kf-user>-<n>`); shards are contiguous,
    // and the export lists as many as the program plans (userRoleShards, or the count `auto` picked).
    const kfUsers = (model.run.outputs.kfUserRoleArns as string[] | undefined) ?? [];
    const stem = kfUsers[0] ? parseRoleRef(kfUsers[0])?.name : undefined;
    for (let shard = Math.max(kfUsers.length, 1); stem !== undefined; shard++) {
        const name = `${stem}-${shard}`;
        if (roles.some((r) => sameRole(r.name, name))) continue;
        const role = await fetchRole(ctx.client, { name });
        if (!role) break;
        roles.push(role);
    }
    return roles;
}

export async function stackMode(flags: Flags, stack: string): Promise<StackReport> {
    forbid(flags, ["role", "namespace", "serviceAccount", "token", "audience", "maxPolicyChars"], "with --stack: the stack names the profiles, their roles and its quota (kubeflow-irsa:trustPolicyMaxChars)");
    checkProviderArn(flags.providerArn);
    const model = await loadStack(flags, stack);
    requireIrsa(model, stack);
    return withClient(iamSettings(flags, model.region), async (client) => {
        const provider = flags.providerArn !== undefined ? { clientIds: await fetchClientIds(client, flags.providerArn) } : undefined;
        const explicitRoles = new Set(model.config.profiles.filter((p) => p.awsIamRole).map((p) => p.name));
        const ctx: StackContext = { client, roles: new Map(), provider, explicitRoles, warnings: new Set(), maxPolicyChars: model.config.trustPolicyMaxChars, findings: new Map() };
        const profiles: ProfileRow[] = [];
        for (const profile of accountsOf(model.profiles)) profiles.push(await checkProfile(ctx, flags, profile));
        const findings = [...ctx.findings.values()].flat();
        const draining = drainingRows(await stackRoles(ctx, model), profiles);
        const notes = unknownNotes(model);
        return { stack, region: model.region, mode: "live", allowed: profiles.every((p) => p.status !== "denied"), profiles, warnings: [...ctx.warnings], findings, draining, ...(notes.length > 0 ? { notes } : {}) };
    });
}

/** The config values the evaluation went without (encrypted, and no result depends on them). */
export const unknownNotes = (model: StackModel) => model.unknownConfig.map((u) => u.note);

export function renderStackReport(report: StackReport): string {
    const header = ["NAMESPACE", "SERVICE ACCOUNT", "ROLE", "RESULT"];
    const roleCell = (p: ProfileRow) => (p.role ? `${p.role}${p.judged === "owned-statement" ? " *" : ""}` : "-");
    const rows = report.profiles.map((p) => [p.namespace, p.serviceAccount, roleCell(p), p.status === "allowed" ? `allowed: ${p.reason}` : `${p.status.toUpperCase()}: ${p.reason}`]);
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
    const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]))).join("  ");
    const against = report.mode === "offline" ? "against the trust policies `up` would write (offline, no AWS call)" : "against the live roles";
    // One row per service account of a profile: say so when a profile lists more than default-editor.
    const profileCount = new Set(report.profiles.map((p) => p.name)).size;
    const counted = profileCount === report.profiles.length ? `${profileCount} profile(s)` : `${profileCount} profile(s), ${report.profiles.length} service accounts,`;
    const lines = [`Stack ${report.stack} (region ${report.region}): ${counted} ${against}`, "", line(header)];
    report.profiles.forEach((p, i) => {
        lines.push(line(rows[i]));
        if (p.fix) lines.push(`    fix: ${p.fix}`);
    });
    const denied = report.profiles.filter((p) => p.status === "denied").length;
    const skipped = report.profiles.filter((p) => p.status === "skipped").length;
    const unit = profileCount === report.profiles.length ? "profile(s)" : "service accounts";
    const verdict = denied > 0 ? `${denied} of ${report.profiles.length} ${unit} DENIED.` : skipped > 0 ? `No profile DENIED; ${skipped} skipped (no IAM role).` : "Every profile can assume its role.";
    lines.push("", verdict, ...findingLines(report.findings), ...drainingLines(report.draining ?? []));
    for (const note of report.notes ?? []) lines.push(`Note: ${note}`);
    for (const warning of report.warnings) lines.push(`Warning: ${warning}`);
    return lines.join("\n") + "\n";
}
