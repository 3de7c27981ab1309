// The doctor's command line (cli/doctor.ts): its flags, how they combine, and its --help.

import { parseArgs } from "node:util";
import { DEFAULT_EDITOR, namespaceProblem } from "../domain/subjects";
import { STS_AUDIENCE } from "../domain/trustPolicy";
import { configFlagHelp } from "./configOverrides";
import { DoctorError } from "./doctorToken";
import type { ProfileModel, StackModel } from "./evaluate";

export const HELP = `Usage:
  npm run doctor -- --role <arn|name> --namespace <ns> [--service-account ${DEFAULT_EDITOR}]
                    [--provider-arn <arn>] [--audience ${STS_AUDIENCE}]
  npm run doctor -- --role <arn|name> --token <file>
  npm run doctor -- --stack <name> [--offline] [--config key=value ...]
  npm run doctor -- --stack <name> --offline --namespace <ns> [--service-account <sa>]
  npm run doctor -- --stack <name> --offline --namespace <ns> --s3 s3://<bucket>/<key>

Explains whether a Kubernetes service account can assume an IAM role through IRSA
(sts:AssumeRoleWithWebIdentity): the role's trust policy statement by statement, IAM's verdict
(an explicit Deny wins, else any matching Allow, else implicit deny) and the exact fix. Beside
the verdict it lists what the trust-policy rules find in each document it reads (irsa-aud-only,
irsa-sub-matches-every-namespace, trust-open-principal: mandatory; irsa-wildcard-under-string-equals,
irsa-condition-never-matches, irsa-audience, trust-policy-headroom: advisory), each naming the
statement and the fix.

Modes:
  --role, --namespace     check system:serviceaccount:<ns>:<service account> against the role.
                          With --provider-arn, also check that the IAM OIDC provider exists and
                          accepts the audience; without it, check every OIDC provider the role trusts.
  --role, --token <file>  check a projected service-account token (a JWT, e.g. the pod's
                          /var/run/secrets/eks.amazonaws.com/serviceaccount/token): its iss, sub,
                          aud and exp. With --jwks <keys.json|synth dir> its signature is verified
                          offline too (jose); without it only the claims are read.
  --token <file> --jwks <keys.json|synth output dir>
                          no --role: only the token's signature and claims, offline (a self-managed
                          cluster's issuer: the JWKS synth writes to oidc-issuer/keys.json).
  --stack <name>          check every profile of the stack (Pulumi.<name>.yaml, evaluated offline)
                          against its live role; with --provider-arn, against that provider, else
                          against every OIDC provider each role trusts.
  --stack <name> --offline
                          no AWS call: check every profile against the trust policy \`up\` would
                          write (what \`npm run synth\` computes), with the same evaluator. For a role
                          the stack does not create (awsIamRole), only the statement the stack owns
                          is known offline, and that is what is judged. With --namespace (and
                          --service-account), only that profile (and account).

Options:
  --service-account <name>  service account in the namespace (default ${DEFAULT_EDITOR})
  --provider-arn <arn>      arn:aws:iam::<account>:oidc-provider/oidc.eks.<region>.amazonaws.com/id/<ID>
  --audience <aud>          token audience (default ${STS_AUDIENCE})
  --project-dir <dir>       with --stack: where Pulumi.yaml is (default: this project)
${configFlagHelp(28)}
  --offline                 with --stack: judge the synthesized trust policies; reads no AWS
  --s3 s3://<bucket>/<key>  with --stack --offline --namespace [--service-account]: can that profile's
                            pods read, write and list there, judged from the permission policies \`up\`
                            would attach (Pod Identity session tags included). Exit 0 if it can read.
  --trust-policy-max-chars <n>
                            the account's trust-policy quota, 2048–8192, for trust-policy-headroom
                            (default 2048; with --stack, the stack's kubeflow-irsa:trustPolicyMaxChars)
  --region <region>         AWS region (default: AWS_REGION, the profile's, or the stack's)
  --profile <name>          AWS shared-config profile (default: AWS_PROFILE / the standard chain)
  --json                    print the result as JSON (run as \`npm run -s doctor -- …\` or
                            \`npx kubeflow-irsa-doctor …\`: without -s npm prints a banner to stdout)
  -h, --help                this text

Exit codes: 0 allowed, 1 denied, 2 usage or AWS error, 3 (--s3) unknown offline. Findings do not change the exit code:
the verdict is IAM's; a mandatory finding means the role lets in more than it should.
Needs iam:GetRole on the role and iam:GetOpenIDConnectProvider on the provider (nothing with --offline).
`;

// ---------------------------------------------------------------------------------------------
// Arguments

export interface Flags {
    role?: string;
    namespace?: string;
    serviceAccount?: string;
    providerArn?: string;
    audience?: string;
    token?: string;
    stack?: string;
    projectDir?: string;
    region?: string;
    profile?: string;
    offline?: true;
    /** The account's trust-policy quota, for trust-policy-headroom (role and token modes). */
    maxPolicyChars?: string;
    /** `s3://bucket/key`: with --stack --offline --namespace, can that namespace's pods reach it. */
    s3?: string;
    /** With --token: the issuer's JWKS (keys.json or a synth output directory), to verify the signature offline. */
    jwks?: string;
    /** With --stack: `key=value` config overrides, as synth takes them (cli/configOverrides.ts). */
    config?: string[];
    json: boolean;
    help: boolean;
}

const OPTIONS = {
    role: { type: "string" },
    namespace: { type: "string" },
    "service-account": { type: "string" },
    "provider-arn": { type: "string" },
    audience: { type: "string" },
    token: { type: "string" },
    stack: { type: "string" },
    "project-dir": { type: "string" },
    region: { type: "string" },
    profile: { type: "string" },
    offline: { type: "boolean" },
    "trust-policy-max-chars": { type: "string" },
    s3: { type: "string" },
    jwks: { type: "string" },
    config: { type: "string", multiple: true },
    json: { type: "boolean" },
    help: { type: "boolean", short: "h" },
} as const;

export function parseFlags(argv: string[]): Flags {
    let values;
    try {
        ({ values } = parseArgs({ args: argv, options: OPTIONS, strict: true, allowPositionals: false }));
    } catch (err) {
        throw new DoctorError(`${(err as Error).message}; run with --help for usage`);
    }
    return {
        role: values.role,
        namespace: values.namespace,
        serviceAccount: values["service-account"],
        providerArn: values["provider-arn"],
        audience: values.audience,
        token: values.token,
        stack: values.stack,
        projectDir: values["project-dir"],
        region: values.region,
        profile: values.profile,
        ...(values.offline ? { offline: true as const } : {}),
        maxPolicyChars: values["trust-policy-max-chars"],
        s3: values.s3,
        jwks: values.jwks,
        config: values.config,
        json: values.json ?? false,
        help: values.help ?? false,
    };
}

export function forbid(flags: Flags, names: Array<keyof Flags>, because: string): void {
    const flagName = (n: string) => `--${n.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    const given = names.filter((n) => flags[n] !== undefined);
    if (given.length > 0) throw new DoctorError(`${given.map(flagName).join(", ")} cannot be used ${because}`);
}

/**
 * The profile --namespace names (a profile's name is its namespace), and the account
 * --service-account names in it; a DoctorError names the flag and what the stack has instead.
 */
export function selectedProfile(model: StackModel, namespace: string, serviceAccount?: string): ProfileModel {
    const problem = namespaceProblem(namespace);
    if (problem) throw new DoctorError(`--namespace: ${problem}`);
    const profile = model.profiles.find((p) => p.name === namespace);
    if (!profile) throw new DoctorError(`--namespace: the stack has no profile "${namespace}" (profiles: ${model.profiles.map((p) => p.name).join(", ") || "none"})`);
    if (serviceAccount !== undefined && !profile.serviceAccounts.includes(serviceAccount)) {
        throw new DoctorError(`--service-account: profile "${namespace}" lists ${profile.serviceAccounts.join(", ")}, not "${serviceAccount}": that account gets no role from the stack`);
    }
    return profile;
}
