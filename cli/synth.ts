#!/usr/bin/env -S node --require ts-node/register/transpile-only
// `npm run synth -- --stack <name> [--out <dir>]`: what `pulumi up` of a stack would put in IAM and
// Kubernetes, offline. The real program (index.ts) runs under Pulumi's mock runtime with the
// stack's config (cli/evaluate.ts); everything written here is derived from the resources it
// registered, through the same trust-policy algebra the TrustSubjects provider applies at `up`.
// Nothing about placement, sharding or naming is re-implemented here.
//
// This file is the command line: flags, --help, the run, what it prints, the exit codes. The rest
// of synth: synthStack.ts (what `up` would apply: the Synthesis), synthSummary.ts (summary.json,
// and the changes since the previous run), synthRender.ts (the files and the summary table),
// synthKubernetes.ts (the Kubernetes objects and their YAML), synthFiles.ts (the output directory).
//
// Writes, under --out (default synth.out/<stack>/):
//   trust-policies/<role>.json      trust policy per role the stack manages or edits, pretty-printed
//                                   for review and diff (its size is counted minified, as IAM does)
//   permission-policies/<role>/<policy>.json
//                                   each inline permission policy (aws.iam.RolePolicy) the stack
//                                   puts on a role, as sent to IAM, pretty-printed
//   kubernetes.yaml                 the Kubernetes objects (Profile CRs, ServiceAccount patches) as
//                                   applied; a patch is headed by a `# Patch` comment
//   kubernetes-after-kubeflow.yaml  before Kubeflow (kubeflowInstalled false): the objects the
//                                   second `up`, with kubeflowInstalled true, adds (Profiles, and
//                                   patches annotating a profile's other service accounts)
//   pod-identity-associations.yaml  the EKS Pod Identity associations (podIdentity mode)
//   summary.json                    per role: subjects, characters used, quota, headroom; the
//                                   phase; profiles added and removed since the previous synth
// and prints a summary table.
//
// The trust-policy rules (analysis/trustRules.ts) run over every synthesized trust policy; their
// findings are printed and in summary.json.
//
// Exit codes: 0 written; 1 unexpected failure (a bug: printed with its stack); 2 bad usage or a
// stack that `pulumi preview` would reject (the program's own message, or a mandatory rule
// finding, as with the policy pack: the files are then still written). A failed run removes the
// files an earlier run wrote to the output directory, so they cannot pass for this one's.

import * as path from "node:path";
import { parseArgs } from "node:util";
import type { ConfigValues, StackModel } from "./evaluate";
import { findingLines, hasMandatory } from "./findings";
import { isMandatory } from "../analysis/trustRules";
import { muteNodeVersionSupportWarning } from "./outputHygiene";
import { AFTER_KUBEFLOW_FILE, ISSUER_DIR, KUBERNETES_FILE, PERMISSION_DIR, POD_IDENTITY_FILE, removePreviousOutput, SUMMARY_FILE, TRUST_DIR, writeFiles } from "./synthFiles";
import { addedObjects, objectCounts, qualifiedName } from "./synthKubernetes";
import { apiServerFlags } from "../components/issuerDocuments";
import { placeholderNote, program, SynthError, synthesize } from "./synthStack";
import { AFTER_KUBEFLOW, BEFORE_KUBEFLOW, changeLines, KUBEFLOW_INSTALLED_KEY, profileChanges, readPreviousSummary, synthesisFindings, type SynthContext } from "./synthSummary";
import { renderFiles, summaryTable } from "./synthRender";

export type { Summary } from "./synthSummary";

export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_INVALID = 2;

/** Where the CLI writes; `process` fits, and tests pass collectors. */
export interface SynthIo {
    stdout: { write(text: string): unknown };
    stderr: { write(text: string): unknown };
}

const help = (configHelp: string, account: string) => `Usage:
  npm run synth -- --stack <name> [--out <dir>] [--project-dir <dir>] [--config key=value ...]

Runs the program offline (Pulumi mock runtime; no AWS, no Pulumi CLI) with Pulumi.yaml and
Pulumi.<stack>.yaml, and writes what \`pulumi up\` would apply:
  ${TRUST_DIR}/<role>.json  the trust policy each role the stack creates has after \`up\`
      (pretty-printed; sizes count it minified, as IAM does); for a role it only edits (a
      profile's awsIamRole), ${TRUST_DIR}/<account>-<role>.json with just the statement it owns
  ${PERMISSION_DIR}/<role>/<policy>.json  each inline permission policy the stack puts on
      a role it creates, as sent to IAM (pretty-printed)
  ${KUBERNETES_FILE}  the Kubernetes objects as applied (multi-document YAML): Profiles, and
      the ServiceAccount patches that annotate a profile's other service accounts (IRSA)
  ${AFTER_KUBEFLOW_FILE}  while ${KUBEFLOW_INSTALLED_KEY} is false: the objects
      the \`up\` after setting it to true adds (the program evaluated a second time)
  ${POD_IDENTITY_FILE}  the EKS Pod Identity associations (identityMode podIdentity)
  ${ISSUER_DIR}/.well-known/openid-configuration and ${ISSUER_DIR}/keys.json  a self-managed
      cluster's issuer documents, as the stack hosts them (note the hidden .well-known/)
  ${SUMMARY_FILE}  per role: subjects, characters used, quota, headroom; the phase; the
      namespaces added and removed since the previous synth in the same directory
and prints the summary table.
${placeholderNote(account)}.

Options:
  --stack <name>        the stack (Pulumi.<name>.yaml)
  --out <dir>           output directory (default synth.out/<stack>)
  --project-dir <dir>   where Pulumi.yaml is (default: this project)
${configHelp}
  -h, --help            this text

Every trust policy is checked with the trust-policy rules (the policy pack's, see policy/);
findings are printed and in ${SUMMARY_FILE}.

Exit codes: 0 written; 1 unexpected failure; 2 bad usage or configuration, or a mandatory rule
finding (the files are written). On failure the files an earlier run wrote to the output
directory are removed (stderr says so).
`;

// ---------------------------------------------------------------------------------------------
// Command line

interface Flags {
    stack?: string;
    out?: string;
    projectDir?: string;
    config: string[];
    help: boolean;
}

function parseFlags(argv: string[]): Flags {
    let values;
    try {
        ({ values } = parseArgs({
            args: argv,
            options: {
                stack: { type: "string" },
                out: { type: "string" },
                "project-dir": { type: "string" },
                config: { type: "string", multiple: true },
                help: { type: "boolean", short: "h" },
            },
            strict: true,
            allowPositionals: false,
        }));
    } catch (err) {
        throw new SynthError(`${(err as Error).message}; run with --help for usage`);
    }
    return { stack: values.stack, out: values.out, projectDir: values["project-dir"], config: values.config ?? [], help: values.help ?? false };
}

const isConfigError = (err: unknown): err is Error => err instanceof Error && err.name === "ConfigError";

const shown = (dir: string) => {
    const relative = path.relative(process.cwd(), dir);
    return relative === "" ? "." : relative.startsWith("..") ? dir : relative;
};

/** The phase lines of the stdout summary. */
function phaseLines(context: SynthContext, objects: string): string[] {
    if (!context.afterKubeflow) {
        return [`Phase: ${AFTER_KUBEFLOW} (${KUBEFLOW_INSTALLED_KEY} is true): \`up\` applies the roles above and ${KUBERNETES_FILE} (${objects}).`];
    }
    const profiles = context.afterKubeflow.filter((o) => !o.patch && o.object.kind === "Profile").map(qualifiedName);
    const patches = context.afterKubeflow.filter((o) => o.patch);
    return [
        `Phase: ${BEFORE_KUBEFLOW} (${KUBEFLOW_INSTALLED_KEY} is false): \`up\` applies the roles above and ${KUBERNETES_FILE} (${objects}).`,
        `After Kubeflow is installed, \`pulumi config set ${KUBEFLOW_INSTALLED_KEY} true\` and \`up\` apply ${profiles.length} Profile(s)` +
            (profiles.length > 0 ? `: ${profiles.join(", ")}` : "") +
            (patches.length > 0 ? `, and ${objectCounts(patches)}: ${patches.map(qualifiedName).join(", ")}` : "") +
            ` (${AFTER_KUBEFLOW_FILE}).`,
    ];
}

/** Runs the command; returns the exit code. Writes only through `io` and to the output directory. */
export async function main(argv: string[], io: SynthIo): Promise<number> {
    const started = Date.now();
    let outDir: string | undefined;
    /** A failed run leaves no earlier output that could pass for this configuration's. */
    const discardPrevious = () => {
        if (outDir === undefined) return;
        const removed = removePreviousOutput(outDir);
        if (removed.length > 0) {
            io.stderr.write(`synth: removed the ${removed.length} file(s) an earlier run wrote to ${shown(outDir)}/: they described another configuration, not this one\n`);
        }
    };
    try {
        const flags = parseFlags(argv);
        const { MOCK_ACCOUNT, configFlagHelp, evaluateStack, parseConfigOverrides, readStackFile } = program();
        if (flags.help) {
            io.stdout.write(help(configFlagHelp(24), MOCK_ACCOUNT));
            return EXIT_OK;
        }
        if (!flags.stack) throw new SynthError("--stack is required (e.g. --stack dev, for Pulumi.dev.yaml); run with --help for usage");
        const stack = flags.stack;
        outDir = path.resolve(flags.out ?? path.join("synth.out", stack));
        const projectDir = path.resolve(flags.projectDir ?? path.join(__dirname, ".."));
        let overrides: ConfigValues;
        try {
            overrides = parseConfigOverrides(flags.config);
            readStackFile(projectDir, stack); // the files' own problems: no such stack, YAML
        } catch (err) {
            throw new SynthError((err as Error).message);
        }
        const evaluate = async (extra: ConfigValues, during = ""): Promise<StackModel> => {
            try {
                return await evaluateStack({ stack, projectDir, overrides: { ...overrides, ...extra } });
            } catch (err) {
                // `pulumi preview` shows the program's ConfigError message; so does synth, without a stack trace.
                if (isConfigError(err)) throw new SynthError(`${during}${err.message}`);
                throw err;
            }
        };
        const model = await evaluate({});
        const evaluated = Date.now();
        const synthesis = synthesize(model);

        // The two-phase first `up`: before Kubeflow the program registers no Profile CRs (nor the
        // ServiceAccount patches of their namespaces); the second evaluation shows what the `up`
        // with kubeflowInstalled true adds.
        const context: SynthContext = { phase: model.config.kubeflowInstalled ? AFTER_KUBEFLOW : BEFORE_KUBEFLOW };
        let secondMs: number | undefined;
        if (context.phase === BEFORE_KUBEFLOW) {
            const secondStarted = Date.now();
            const second = await evaluate({ [KUBEFLOW_INSTALLED_KEY]: "true" }, `with ${KUBEFLOW_INSTALLED_KEY}=true (the \`up\` after Kubeflow is installed): `);
            secondMs = Date.now() - secondStarted;
            context.afterKubeflow = addedObjects(synthesis.kubernetes, synthesize(second).kubernetes);
        }
        const previous = readPreviousSummary(outDir, synthesis.project, stack);
        if (previous) context.changes = profileChanges(previous, synthesis, model.config.deleteRemovedProfiles, model.config.finishMoves);

        writeFiles(outDir, renderFiles(synthesis, context));
        const findings = synthesisFindings(synthesis);

        const out = io.stdout;
        out.write(`${synthesis.project} stack "${stack}": region ${synthesis.region}, cluster ${synthesis.clusterName}, identityMode ${synthesis.identityMode}\n`);
        out.write(`${placeholderNote(synthesis.placeholderAccount, synthesis.accountFromConfig)}.\n${synthesis.unknownConfig.map((note) => `Note: ${note}.\n`).join("")}\n`);
        out.write(`${summaryTable(synthesis)}\n\n`);
        const objects = objectCounts(synthesis.kubernetes);
        out.write(`${phaseLines(context, objects).join("\n")}\n`);
        if (context.changes) out.write(`${changeLines(context.changes).join("\n")}\n`);
        if (synthesis.hostedIssuerUrl) {
            out.write(`\nSelf-managed cluster: the stack hosts the issuer ${synthesis.hostedIssuerUrl} (${ISSUER_DIR}/ has its documents). Set on every kube-apiserver:\n`);
            out.write(`${apiServerFlags(synthesis.hostedIssuerUrl).map((f) => `  ${f}`).join("\n")}\n`);
        }
        out.write("\n");
        const permissions = synthesis.roles.reduce((n, r) => n + r.permissionPolicies.length + r.managedPolicies.length, 0);
        const written = [
            `${synthesis.roles.length} trust ${synthesis.roles.length === 1 ? "policy" : "policies"} in ${TRUST_DIR}/`,
            `${permissions} permission ${permissions === 1 ? "policy" : "policies"} in ${PERMISSION_DIR}/`,
            `${KUBERNETES_FILE} (${objects})`,
            ...(context.afterKubeflow ? [`${AFTER_KUBEFLOW_FILE} (${objectCounts(context.afterKubeflow)})`] : []),
            ...(synthesis.podIdentityAssociations.length > 0 ? [`${POD_IDENTITY_FILE} (${synthesis.podIdentityAssociations.length} associations)`] : []),
            ...(synthesis.issuerDocuments.size > 0 ? [`${ISSUER_DIR}/ (discovery document and JWKS)`] : []),
            SUMMARY_FILE,
        ];
        out.write(`Wrote ${shown(outDir)}: ${written.join(", ")}\n`);
        const second = secondMs !== undefined ? ` (and again in ${secondMs} ms with ${KUBEFLOW_INSTALLED_KEY}=true)` : "";
        out.write(`Evaluated the program in ${evaluated - started} ms${second}; ${Date.now() - started} ms in all.\n`);
        if (findings.length > 0) out.write(`\n${findingLines(findings).join("\n")}\n`);
        if (hasMandatory(findings)) {
            // As `pulumi preview --policy-pack policy` would: the files stay, for the review.
            io.stderr.write(`error: ${findings.filter(isMandatory).length} mandatory trust-policy finding(s); the files are written for review, but \`pulumi preview --policy-pack policy\` would refuse this stack\n`);
            return EXIT_INVALID;
        }
        return EXIT_OK;
    } catch (err) {
        if (err instanceof SynthError) {
            io.stderr.write(`error: ${err.message}\n`);
            discardPrevious();
            return EXIT_INVALID;
        }
        io.stderr.write(`synth: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
        discardPrevious();
        return EXIT_FAILED;
    }
}

if (require.main === module) {
    muteNodeVersionSupportWarning();
    main(process.argv.slice(2), process).then(
        (code) => process.exit(code),
        (err) => {
            process.stderr.write(`synth: unexpected error: ${err instanceof Error ? err.stack : String(err)}\n`);
            process.exit(EXIT_FAILED);
        },
    );
}