#!/usr/bin/env -S node --require ts-node/register/transpile-only
// `npm run doctor -- …`: can this service account assume this role? Reads the live trust policy
// (and the IAM OIDC provider) and explains IAM's verdict statement by statement, with the exact
// change that would fix a denial. Read-only: it calls iam:GetRole and iam:GetOpenIDConnectProvider.
// `--stack <name> --offline` judges, with the same evaluator and no AWS call, the trust policies
// `up` would write (cli/synth.ts's synthesis of the stack).
//
// Exit codes: 0 allowed, 1 denied, 2 usage or AWS error.

import type { IAMClient } from "@aws-sdk/client-iam";
import { awsSettingsFromConfig, createIamClient, getOidcProviderClientIds, getTrustPolicy, type AwsSettings } from "../providers/iam";
import {
    DEFAULT_EDITOR,
    issuerHostPath,
    namespaceProblem,
    oidcProviderArnProblem,
    parseRoleRef,
    roleKey,
    sameRole,
    serviceAccountProblem,
    subjectOf,
    type RoleRef,
} from "../domain/subjects";
import { audienceProblem, evaluateTrustPolicy, trustedOidcProviders, type StatementResult, type TrustEvaluation } from "../analysis/trustEvaluation";
import { DEFAULT_MAX_POLICY_CHARS, MAX_POLICY_CHARS_LIMIT, STS_AUDIENCE, type PolicyDocument } from "../domain/trustPolicy";
import { findingLines, roleFindings, type RoleFinding } from "./findings";
import { drainingLines, drainingRows, type DrainingRow } from "./doctorDrain";
import { renderS3Access, s3Access, type S3AccessReport } from "./s3Access";
import {
    DoctorError,
    expiryProblem,
    readToken,
    renderSignatureReport,
    signatureOf,
    signatureReport,
    tokenSummary,
    type SignatureReport,
    type TokenSummary,
} from "./doctorToken";
import type { ProfileModel, StackModel } from "./evaluate";
import { forbid, HELP, parseFlags, selectedProfile, type Flags } from "./doctorFlags";
import { muteNodeVersionSupportWarning } from "./outputHygiene";
import { placeholderNote, SynthError, synthesize, type RoleTrust, type Synthesis } from "./synth";

export const EXIT_ALLOWED = 0;
export const EXIT_DENIED = 1;
export const EXIT_ERROR = 2;
/** --s3: the policies `up` attaches do not allow it, but managed policies not known offline may. */
export const EXIT_UNKNOWN = 3;

/** Where the CLI writes; `process` fits, and tests pass collectors. */
export interface DoctorIo {
    stdout: { write(text: string): unknown };
    stderr: { write(text: string): unknown };
}

// ---------------------------------------------------------------------------------------------
// Arguments

function requireRole(flags: Flags): RoleRef {
    if (flags.role === undefined) throw new DoctorError("--role is required (a role name such as kf-user-us-west-2-kf-dev, or its ARN); run with --help for usage");
    const ref = parseRoleRef(flags.role);
    if (!ref) {
        throw new DoctorError(`--role "${flags.role}" is not an IAM role name or ARN: give "arn:aws:iam::<12-digit account>:role/<name>" or a name of 1-64 characters of [A-Za-z0-9+=,.@_-]`);
    }
    return ref;
}

function checkProviderArn(arn: string | undefined): void {
    const problem = arn === undefined ? undefined : oidcProviderArnProblem(arn);
    if (problem) throw new DoctorError(`--provider-arn: ${problem}`);
}

// ---------------------------------------------------------------------------------------------
// AWS

function iamSettings(flags: Flags, stackRegion?: string): AwsSettings {
    const settings = awsSettingsFromConfig(() => undefined);
    return { ...settings, region: flags.region ?? stackRegion ?? settings.region, profile: flags.profile ?? settings.profile };
}

/** An AWS failure as a DoctorError, with what this read-only tool needs. */
function awsFailure(err: unknown): DoctorError {
    const message = err instanceof Error ? err.message : String(err);
    let hint = "";
    if (/Could not load credentials|CredentialsProviderError/.test(message)) {
        hint = "; give credentials with --profile, AWS_PROFILE or AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY";
    } else if (/ECONNREFUSED|ENOTFOUND|ETIMEDOUT|EAI_AGAIN|ECONNRESET/.test(message)) {
        hint = "; IAM could not be reached: check the network or proxy, and AWS_ENDPOINT_URL_IAM if it is set";
    } else if (/AccessDenied/.test(message)) {
        hint = "; doctor only reads: it needs iam:GetRole on the role and iam:GetOpenIDConnectProvider on the provider";
    }
    return new DoctorError(`${message}${hint}`);
}

interface LiveRole {
    name: string;
    roleArn: string;
    document: PolicyDocument;
}

/** The role's trust policy; undefined when the role does not exist. */
async function fetchRole(client: IAMClient, ref: RoleRef): Promise<LiveRole | undefined> {
    try {
        const found = await getTrustPolicy(client, ref.name);
        return found && { name: ref.name, roleArn: found.roleArn, document: found.document };
    } catch (err) {
        throw awsFailure(err);
    }
}

/**
 * Why the role found is not the one asked for: an ARN names an account, and a same-named role in
 * the account the credentials reach is another role.
 */
function wrongAccount(ref: RoleRef, role: LiveRole): string | undefined {
    if (sameRole(ref.arn ?? ref.name, role.roleArn)) return undefined;
    const found = parseRoleRef(role.roleArn)?.accountId;
    return `${ref.arn} is in account ${ref.accountId}, but the AWS credentials reach account ${found} (where ${role.roleArn} is another role); use --profile or credentials for account ${ref.accountId}`;
}

async function fetchRoleOrFail(client: IAMClient, ref: RoleRef): Promise<LiveRole> {
    const role = await fetchRole(client, ref);
    if (!role) {
        throw new DoctorError(
            `--role: role "${ref.name}" does not exist (iam:GetRole answered NoSuchEntity); check the name, and that --profile / the AWS credentials reach the account that owns it`,
        );
    }
    const problem = wrongAccount(ref, role);
    if (problem) throw new DoctorError(`--role: ${problem}`);
    return role;
}

async function fetchClientIds(client: IAMClient, providerArn: string): Promise<string[] | undefined> {
    try {
        return await getOidcProviderClientIds(client, providerArn);
    } catch (err) {
        throw awsFailure(err);
    }
}

async function withClient<T>(settings: AwsSettings, use: (client: IAMClient) => Promise<T>): Promise<T> {
    const client = createIamClient(settings);
    try {
        return await use(client);
    } finally {
        client.destroy(); // the SDK keeps connections alive; let the process exit
    }
}

// ---------------------------------------------------------------------------------------------
// Checking one caller against one role

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

interface Caller {
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

/** What IAM said about the provider, when it was asked (`clientIds` undefined: no such provider). */
interface FetchedProvider {
    clientIds: string[] | undefined;
}

function checkProvider(document: PolicyDocument, caller: Caller, providerArn: string, fetched?: FetchedProvider): ProviderCheck {
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

function roleReport(role: LiveRole, caller: Caller, checks: ProviderCheck[], maxPolicyChars: number, extraProblems: string[] = []): RoleReport {
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

/** --trust-policy-max-chars, checked like the stack key it mirrors. */
function maxPolicyCharsOf(flags: Flags): number {
    if (flags.maxPolicyChars === undefined) return DEFAULT_MAX_POLICY_CHARS;
    const n = /^\d+$/.test(flags.maxPolicyChars) ? Number(flags.maxPolicyChars) : NaN;
    if (!(n >= DEFAULT_MAX_POLICY_CHARS && n <= MAX_POLICY_CHARS_LIMIT)) {
        throw new DoctorError(`--trust-policy-max-chars: "${flags.maxPolicyChars}" is not a whole number from ${DEFAULT_MAX_POLICY_CHARS} to ${MAX_POLICY_CHARS_LIMIT}; give the account's "Role trust policy length" quota`);
    }
    return n;
}

/** With a provider: that one, and its client ids; without: every provider the policy trusts. */
async function checkCaller(client: IAMClient, role: LiveRole, caller: Caller, providerArn: string | undefined): Promise<ProviderCheck[]> {
    if (providerArn !== undefined) {
        return [checkProvider(role.document, caller, providerArn, { clientIds: await fetchClientIds(client, providerArn) })];
    }
    return trustedOidcProviders(role.document).map((arn) => checkProvider(role.document, caller, arn));
}

async function roleMode(flags: Flags): Promise<RoleReport> {
    const ref = requireRole(flags);
    if (flags.namespace === undefined) throw new DoctorError("--namespace is required with --role (or give --token <file>); run with --help for usage");
    const nsProblem = namespaceProblem(flags.namespace);
    if (nsProblem) throw new DoctorError(`--namespace: ${nsProblem}`);
    const serviceAccount = flags.serviceAccount ?? DEFAULT_EDITOR;
    const saProblem = serviceAccountProblem(serviceAccount);
    if (saProblem) throw new DoctorError(`--service-account: ${saProblem}`);
    if (flags.audience === "") throw new DoctorError(`--audience is empty: give the token's audience (normally ${STS_AUDIENCE})`);
    checkProviderArn(flags.providerArn);
    const caller = { subject: subjectOf(flags.namespace, serviceAccount), audience: [flags.audience ?? STS_AUDIENCE] };
    const maxPolicyChars = maxPolicyCharsOf(flags);

    return withClient(iamSettings(flags), async (client) => {
        const role = await fetchRoleOrFail(client, ref);
        return roleReport(role, caller, await checkCaller(client, role, caller, flags.providerArn), maxPolicyChars);
    });
}

// ---------------------------------------------------------------------------------------------
// Tokens

/** `arn:<partition>:iam::<account of the role>:oidc-provider/<issuer without https://>`. */
function providerArnForIssuer(roleArn: string, issuer: string): string {
    const role = parseRoleRef(roleArn);
    return `arn:${role?.partition ?? "aws"}:iam::${role?.accountId ?? ""}:oidc-provider/${issuerHostPath(issuer)}`;
}

async function signatureMode(flags: Flags, tokenPath: string): Promise<SignatureReport> {
    forbid(flags, ["namespace", "serviceAccount", "audience", "providerArn", "stack"], "with --token --jwks alone: it checks the token's signature and claims offline");
    return signatureReport(tokenPath, flags.jwks!);
}

async function tokenMode(flags: Flags, tokenPath: string): Promise<RoleReport> {
    forbid(flags, ["namespace", "serviceAccount", "audience"], "with --token: the token's sub and aud claims name the service account and audience");
    const ref = requireRole(flags);
    checkProviderArn(flags.providerArn);
    const claims = readToken(tokenPath);
    const maxPolicyChars = maxPolicyCharsOf(flags);
    const now = Date.now();
    const caller = { subject: claims.subject, audience: claims.audience };

    return withClient(iamSettings(flags), async (client) => {
        const role = await fetchRoleOrFail(client, ref);
        const providerArn = providerArnForIssuer(role.roleArn, claims.issuer);
        if (flags.providerArn !== undefined && flags.providerArn !== providerArn) {
            throw new DoctorError(`--provider-arn ${flags.providerArn} does not match the token's issuer ${claims.issuer} (provider ${providerArn}); leave --provider-arn out with --token`);
        }
        const check = checkProvider(role.document, caller, providerArn, { clientIds: await fetchClientIds(client, providerArn) });
        const expired = expiryProblem(claims, now);
        const signature = flags.jwks !== undefined ? await signatureOf(tokenPath, flags.jwks) : undefined;
        const early = [...(signature?.problem ? [signature.problem] : []), ...(expired ? [expired] : [])];
        const report = roleReport(role, caller, [check], maxPolicyChars, early);
        return { ...report, token: tokenSummary(claims, now, signature) };
    });
}

// ---------------------------------------------------------------------------------------------
// Stacks

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
async function loadStack(flags: Flags, stack: string): Promise<StackModel> {
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
type ProfileAccount = Omit<ProfileModel, "serviceAccounts"> & { serviceAccount: string };
const accountsOf = (profiles: ProfileModel[]): ProfileAccount[] =>
    profiles.flatMap(({ serviceAccounts, ...profile }) => serviceAccounts.map((serviceAccount) => ({ ...profile, serviceAccount })));

function rowOf(profile: ProfileAccount, report: RoleReport): ProfileRow {
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

function requireIrsa(model: StackModel, stack: string): void {
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

async function stackMode(flags: Flags, stack: string): Promise<StackReport> {
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

// ---------------------------------------------------------------------------------------------
// Stacks, offline

const OFFLINE_FLAGS: Array<keyof Flags> = ["role", "token", "audience", "providerArn", "region", "profile", "maxPolicyChars"];
const OFFLINE_ONLY = "--offline judges, with no AWS call, the trust policies `up` would write for each profile of a --stack";
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

/** The config values the evaluation went without (encrypted, and no result depends on them). */
const unknownNotes = (model: StackModel) => model.unknownConfig.map((u) => u.note);

/** The service accounts judged: every profile's, or with --namespace that profile's (with --service-account, that one). */
function selectedAccounts(model: StackModel, flags: Flags): ProfileAccount[] {
    if (flags.namespace === undefined) {
        if (flags.serviceAccount !== undefined) throw new DoctorError("--service-account goes with --namespace <ns>: the profile whose service account to check");
        return accountsOf(model.profiles);
    }
    const profile = selectedProfile(model, flags.namespace, flags.serviceAccount);
    return accountsOf([profile]).filter((a) => flags.serviceAccount === undefined || a.serviceAccount === flags.serviceAccount);
}

async function offlineStackMode(flags: Flags, stack: string): Promise<StackReport> {
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

// ---------------------------------------------------------------------------------------------
// Output

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

function renderRoleReport(report: RoleReport): string {
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

function renderStackReport(report: StackReport): string {
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

// ---------------------------------------------------------------------------------------------
// Entry point

async function s3Mode(flags: Flags): Promise<S3AccessReport> {
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

async function run(flags: Flags): Promise<{ allowed: boolean; text: string; json: unknown; exit?: number }> {
    if (flags.s3 !== undefined) {
        const report = await s3Mode(flags);
        return { allowed: report.allowed, text: renderS3Access(report), json: report, ...(report.verdict === "unknown" ? { exit: EXIT_UNKNOWN } : {}) };
    }
    if (flags.offline) {
        forbid(flags, OFFLINE_FLAGS, `with --offline: ${OFFLINE_ONLY}; --role, --token and --provider-arn check live IAM, --region and --profile choose it (leave out --offline for those)`);
        if (flags.stack === undefined) throw new DoctorError(`--offline needs --stack <name>: ${OFFLINE_ONLY}; run with --help for usage`);
        const report = await offlineStackMode(flags, flags.stack);
        return { allowed: report.allowed, text: renderStackReport(report), json: report };
    }
    if (flags.stack !== undefined) {
        const report = await stackMode(flags, flags.stack);
        return { allowed: report.allowed, text: renderStackReport(report), json: report };
    }
    forbid(flags, ["projectDir", "config"], "without --stack: they say where the stack is and set its config values");
    if (flags.role === undefined && flags.namespace === undefined && flags.token === undefined) {
        throw new DoctorError("give --role with --namespace or --token, or --stack; run with --help for usage");
    }
    if (flags.token !== undefined && flags.jwks !== undefined && flags.role === undefined) {
        const report = await signatureMode(flags, flags.token);
        return { allowed: report.allowed, text: renderSignatureReport(report), json: report };
    }
    if (flags.jwks !== undefined && flags.token === undefined) throw new DoctorError("--jwks goes with --token <file>: it verifies that token's signature");
    const report = flags.token !== undefined ? await tokenMode(flags, flags.token) : await roleMode(flags);
    return { allowed: report.allowed, text: renderRoleReport(report), json: report };
}

/** Runs the doctor; resolves to the exit code. Expected failures never throw. */
export async function main(argv: string[], io: DoctorIo): Promise<number> {
    let json = argv.includes("--json");
    try {
        const flags = parseFlags(argv);
        json = flags.json;
        if (flags.help) {
            io.stdout.write(HELP);
            return EXIT_ALLOWED;
        }
        const result = await run(flags);
        io.stdout.write(json ? JSON.stringify(result.json, null, 2) + "\n" : result.text);
        return result.exit ?? (result.allowed ? EXIT_ALLOWED : EXIT_DENIED);
    } catch (err) {
        if (!(err instanceof DoctorError)) throw err;
        io.stderr.write(`doctor: ${err.message}\n`);
        if (json) io.stdout.write(JSON.stringify({ error: err.message }, null, 2) + "\n");
        return EXIT_ERROR;
    }
}

if (require.main === module) {
    muteNodeVersionSupportWarning();
    main(process.argv.slice(2), process).then(
        (code) => {
            process.exitCode = code;
        },
        (err: unknown) => {
            // Only a bug lands here; show everything.
            process.stderr.write(`doctor: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
            process.exitCode = EXIT_ERROR;
        },
    );
}
