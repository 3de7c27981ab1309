// The doctor's reads from IAM (cli/doctor.ts): a role's trust policy and an OIDC provider's client
// ids, through the provider's own client (providers/iam.ts), read-only (iam:GetRole,
// iam:GetOpenIDConnectProvider); an AWS failure becomes a DoctorError that says what to do.

import type { IAMClient } from "@aws-sdk/client-iam";
import { awsSettingsFromConfig, createIamClient, getOidcProviderClientIds, getTrustPolicy, type AwsSettings } from "../providers/iam";
import { parseRoleRef, sameRole, type RoleRef } from "../domain/subjects";
import type { PolicyDocument } from "../domain/trustPolicy";
import { DoctorError } from "./doctorToken";
import type { Flags } from "./doctorFlags";

export function iamSettings(flags: Flags, stackRegion?: string): AwsSettings {
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

export interface LiveRole {
    name: string;
    roleArn: string;
    document: PolicyDocument;
}

/** The role's trust policy; undefined when the role does not exist. */
export async function fetchRole(client: IAMClient, ref: RoleRef): Promise<LiveRole | undefined> {
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
export function wrongAccount(ref: RoleRef, role: LiveRole): string | undefined {
    if (sameRole(ref.arn ?? ref.name, role.roleArn)) return undefined;
    const found = parseRoleRef(role.roleArn)?.accountId;
    return `${ref.arn} is in account ${ref.accountId}, but the AWS credentials reach account ${found} (where ${role.roleArn} is another role); use --profile or credentials for account ${ref.accountId}`;
}

export async function fetchRoleOrFail(client: IAMClient, ref: RoleRef): Promise<LiveRole> {
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

export async function fetchClientIds(client: IAMClient, providerArn: string): Promise<string[] | undefined> {
    try {
        return await getOidcProviderClientIds(client, providerArn);
    } catch (err) {
        throw awsFailure(err);
    }
}

export async function withClient<T>(settings: AwsSettings, use: (client: IAMClient) => Promise<T>): Promise<T> {
    const client = createIamClient(settings);
    try {
        return await use(client);
    } finally {
        client.destroy(); // the SDK keeps connections alive; let the process exit
    }
}

/** What IAM said about the provider, when it was asked (`clientIds` undefined: no such provider). */
export interface FetchedProvider {
    clientIds: string[] | undefined;
}
