// The kubeflow-irsa trust-policy guardrails as a Pulumi policy pack:
//   pulumi preview --policy-pack <path to this directory>
// (run `npm install` here once). The rules live in ../analysis/trustRules.ts, shared with
// `npm run synth` and `npm run doctor`; policies.ts turns them into CrossGuard policies.
import { PolicyPack } from "@pulumi/policy";
import { policies } from "./policies";

new PolicyPack("kubeflow-irsa-trust", { policies });
