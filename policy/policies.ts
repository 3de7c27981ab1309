// The trust-policy rules (analysis/trustRules.ts) as CrossGuard policies, for any stack: each
// aws.iam.Role's assumeRolePolicy, and each kubeflow-irsa TrustSubjects resource (the statement it
// owns, from its inputs; its whole live policy's size, from its outputs). index.ts serves them;
// this module only defines them, so tests can drive them without starting the analyzer.

import type {
    PolicyResource,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
} from "@pulumi/policy";
import { buildTrustPolicy, DEFAULT_MAX_POLICY_CHARS, MAX_POLICY_CHARS_LIMIT, parsePolicyDocument, type PolicyDocument } from "../domain/trustPolicy";
import {
    checkTrustPolicy,
    DEFAULT_HEADROOM_THRESHOLD,
    headroomProblem,
    TRUST_RULES,
    type RuleId,
    type RuleOptions,
    type TrustRule,
} from "../analysis/trustRules";

export const ROLE_TYPE = "aws:iam/role:Role";
/** The dynamic resource type kubeflow-irsa registers its TrustSubjects under. */
export const TRUST_SUBJECTS_TYPE = "pulumi-nodejs:dynamic/kubeflow-irsa:TrustSubjects";

/** A role's trust policy as the resource carries it: JSON text (IAM's, maybe URL-encoded) or an object. */
function documentOf(value: unknown): PolicyDocument | undefined {
    if (typeof value === "string") {
        try {
            return parsePolicyDocument(value);
        } catch {
            return undefined; // not a policy document: the AWS provider and IAM reject it themselves
        }
    }
    if (typeof value === "object" && value !== null && "Statement" in value) return value as PolicyDocument;
    return undefined;
}

const strings = (value: unknown): string[] => (Array.isArray(value) ? value.filter((v): v is string => typeof v === "string") : []);

/**
 * The statement a TrustSubjects resource owns in its role: its provider's web-identity statement
 * with its anchors and subjects, as the provider writes it. Undefined without a provider or subject.
 */
export function ownedStatementOf(props: Record<string, unknown>): PolicyDocument | undefined {
    const providerArn = props.providerArn;
    const subjects = [...new Set([...strings(props.anchors), ...strings(props.subjects)])].sort();
    if (typeof providerArn !== "string" || subjects.length === 0) return undefined;
    try {
        return buildTrustPolicy(providerArn, subjects);
    } catch {
        return undefined; // the provider's own check refuses these inputs, naming them
    }
}

/** The document a resource's rules judge, if it is a role or a TrustSubjects resource. */
function judgedDocument(type: string, props: Record<string, unknown>): PolicyDocument | undefined {
    if (type === ROLE_TYPE) return documentOf(props.assumeRolePolicy);
    if (type === TRUST_SUBJECTS_TYPE) return ownedStatementOf(props);
    return undefined;
}

const violation = (f: { message: string; fix: string }) => `${f.message}; fix: ${f.fix}`;

/** One rule over one resource's document: each finding of that rule is one violation. */
function resourcePolicy(rule: TrustRule): ResourceValidationPolicy {
    return {
        name: rule.id,
        description: rule.description,
        enforcementLevel: rule.level,
        validateResource: (args: ResourceValidationArgs, reportViolation: ReportViolation) => {
            const document = judgedDocument(args.type, args.props);
            if (!document) return;
            for (const f of checkTrustPolicy(document).filter((x) => x.rule === rule.id)) reportViolation(violation(f));
        },
    };
}

interface HeadroomConfig {
    maxPolicyChars: number;
    threshold: number;
}

/**
 * trust-policy-headroom over outputs: a role's trust policy, measured against the configured quota;
 * a TrustSubjects resource's `policyChars` (its role's whole policy, as last written or read)
 * against its own `maxPolicyChars`.
 */
function headroomPolicy(rule: TrustRule): StackValidationPolicy {
    return {
        name: rule.id,
        description: rule.description,
        enforcementLevel: rule.level,
        configSchema: {
            properties: {
                maxPolicyChars: { type: "integer", minimum: DEFAULT_MAX_POLICY_CHARS, maximum: MAX_POLICY_CHARS_LIMIT, default: DEFAULT_MAX_POLICY_CHARS },
                threshold: { type: "number", exclusiveMinimum: 0, maximum: 1, default: DEFAULT_HEADROOM_THRESHOLD },
            },
        },
        validateStack: (args: StackValidationArgs, reportViolation: ReportViolation) => {
            const config = args.getConfig<HeadroomConfig>();
            const base: RuleOptions = { maxPolicyChars: config.maxPolicyChars ?? DEFAULT_MAX_POLICY_CHARS, headroomThreshold: config.threshold ?? DEFAULT_HEADROOM_THRESHOLD };
            for (const resource of args.resources) {
                for (const message of headroomViolations(resource, base)) reportViolation(message, resource.urn);
            }
        },
    };
}

export function headroomViolations(resource: Pick<PolicyResource, "type" | "props">, options: RuleOptions): string[] {
    if (resource.type === ROLE_TYPE) {
        const document = documentOf(resource.props.assumeRolePolicy);
        return document ? checkTrustPolicy(document, options).filter((f) => f.rule === "trust-policy-headroom").map(violation) : [];
    }
    if (resource.type === TRUST_SUBJECTS_TYPE) {
        const { policyChars, maxPolicyChars } = resource.props;
        if (typeof policyChars !== "number") return [];
        const quota = typeof maxPolicyChars === "number" ? maxPolicyChars : options.maxPolicyChars;
        const problem = headroomProblem(policyChars, { ...options, maxPolicyChars: quota });
        return problem ? [violation({ ...problem, message: `role ${String(resource.props.roleName ?? resource.props.role)}: ${problem.message}` })] : [];
    }
    return [];
}

const HEADROOM: RuleId = "trust-policy-headroom";

/** Every rule, in the rules' order; each named by its rule id. */
export const policies: (ResourceValidationPolicy | StackValidationPolicy)[] = TRUST_RULES.map((r) => (r.id === HEADROOM ? headroomPolicy(r) : resourcePolicy(r)));
