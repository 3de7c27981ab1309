// The test-only IAM simulator (@cloud-copilot/iam-simulate, AGPL-3.0, not shipped), as the tests
// ask it: the overall verdict of one request, to cross-check the doctor's evaluator with.
import { strict as assert } from "assert";
import { anonymousPrincipal, runSimulation } from "@cloud-copilot/iam-simulate";
import type { PolicyDocument } from "../../domain/trustPolicy";

export interface SimulatedRequest {
    /** The caller's identity policies. @default none */
    identityPolicies?: { name: string; document: PolicyDocument }[];
    /** The resource's policy (a bucket policy, a role's trust policy). */
    resourcePolicy?: PolicyDocument;
    /** An ARN, a service principal, or undefined for an unsigned (anonymous) request. */
    principal: string | undefined;
    action: string;
    resource: string;
    /** The account that owns the resource. */
    account: string;
    context?: Record<string, string | string[]>;
}

/** "Allowed", "ImplicitlyDenied" or "ExplicitlyDenied", as iam-simulate decides. */
export async function simulate(request: SimulatedRequest): Promise<string> {
    const response = await runSimulation(
        {
            identityPolicies: (request.identityPolicies ?? []).map((p) => ({ name: p.name, policy: p.document as unknown as Record<string, unknown> })),
            serviceControlPolicies: [],
            resourceControlPolicies: [],
            ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
            request: {
                principal: request.principal ?? anonymousPrincipal,
                action: request.action,
                resource: { resource: request.resource, accountId: request.account },
                contextVariables: request.context ?? {},
            },
        } as unknown as Parameters<typeof runSimulation>[0],
        {},
    );
    assert.notEqual(response.resultType, "error", JSON.stringify(response));
    return (response as { overallResult: string }).overallResult;
}

/** The doctor's evaluator's decisions as iam-simulate names them. */
export const AS_SIMULATED = { allowed: "Allowed", "implicitly denied": "ImplicitlyDenied", "explicitly denied": "ExplicitlyDenied", undetermined: "Undetermined" } as const;
