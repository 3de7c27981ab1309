// The doctor's --role and --token modes (cli/doctor.ts): a role named on the command line, read
// from IAM, judged for a service account given by --namespace / --service-account or by a
// projected token's claims (with --jwks, its signature too; alone, --token --jwks checks only the
// token).

import type { IAMClient } from "@aws-sdk/client-iam";
import { DEFAULT_EDITOR, issuerHostPath, namespaceProblem, oidcProviderArnProblem, parseRoleRef, serviceAccountProblem, subjectOf, type RoleRef } from "../domain/subjects";
import { trustedOidcProviders } from "../analysis/trustEvaluation";
import { DEFAULT_MAX_POLICY_CHARS, MAX_POLICY_CHARS_LIMIT, STS_AUDIENCE } from "../domain/trustPolicy";
import { DoctorError, expiryProblem, readToken, signatureOf, signatureReport, tokenSummary, type SignatureReport } from "./doctorToken";
import { forbid, type Flags } from "./doctorFlags";
import { fetchClientIds, fetchRoleOrFail, iamSettings, withClient, type LiveRole } from "./doctorIam";
import { checkProvider, roleReport, type Caller, type ProviderCheck, type RoleReport } from "./doctorVerdict";

function requireRole(flags: Flags): RoleRef {
    if (flags.role === undefined) throw new DoctorError("--role is required (a role name such as kf-user-us-west-2-kf-dev, or its ARN); run with --help for usage");
    const ref = parseRoleRef(flags.role);
    if (!ref) {
        throw new DoctorError(`--role "${flags.role}" is not an IAM role name or ARN: give "arn:aws:iam::<12-digit account>:role/<name>" or a name of 1-64 characters of [A-Za-z0-9+=,.@_-]`);
    }
    return ref;
}

export function checkProviderArn(arn: string | undefined): void {
    const problem = arn === undefined ? undefined : oidcProviderArnProblem(arn);
    if (problem) throw new DoctorError(`--provider-arn: ${problem}`);
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

export async function roleMode(flags: Flags): Promise<RoleReport> {
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

/** `arn:<partition>:iam::<account of the role>:oidc-provider/<issuer without https://>`. */
function providerArnForIssuer(roleArn: string, issuer: string): string {
    const role = parseRoleRef(roleArn);
    return `arn:${role?.partition ?? "aws"}:iam::${role?.accountId ?? ""}:oidc-provider/${issuerHostPath(issuer)}`;
}

export async function signatureMode(flags: Flags, tokenPath: string): Promise<SignatureReport> {
    forbid(flags, ["namespace", "serviceAccount", "audience", "providerArn", "stack"], "with --token --jwks alone: it checks the token's signature and claims offline");
    return signatureReport(tokenPath, flags.jwks!);
}

export async function tokenMode(flags: Flags, tokenPath: string): Promise<RoleReport> {
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
