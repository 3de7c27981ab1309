// kubeflow-irsa: config → component → stack outputs. Everything else lives in components/ and providers/.
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "./components/config";
import { deployerAccount, drainingUserShards, KubeflowIrsa, mayDrainShards, needsDeployerAccount } from "./components/kubeflowIrsa";

const config = readStackConfig();
// Two questions to AWS, asked only when the answer matters, before anything is registered: the
// account the stack deploys to, when an awsIamRole ARN names a role this stack creates (STS);
// then which kf-user shards beyond the count still exist and may drain moved profiles (IAM) —
// with `userRoleShards: auto` the count depends on which of those ARNs are the stack's shards.
// Every other stack is built at once, as a plain module.
const stack =
    needsDeployerAccount(config) || mayDrainShards(config)
        ? deployerAccount(config).then(async (accountId) => {
              const draining = await drainingUserShards(config, accountId);
              return new KubeflowIrsa("kubeflow-irsa", { ...config, ...(accountId ? { accountId } : {}), drainingUserShards: draining });
          })
        : new KubeflowIrsa("kubeflow-irsa", config);

type Exported =
    | "clusterName"
    | "oidcProviderArn"
    | "oidcIssuer"
    | "kfAdminRoleArn"
    | "kfUserRoleArn"
    | "kfUserRoleArns"
    | "profileRoleArns"
    | "controllerRoleArns"
    | "podIdentityExternalIds"
    | "kubeconfig"
    | "drainingTrust";
function output<K extends Exported>(key: K): KubeflowIrsa[K] {
    return (stack instanceof Promise ? pulumi.output(stack.then((s) => s[key])) : stack[key]) as KubeflowIrsa[K];
}

export const clusterName = output("clusterName");
export const oidcProviderArn = output("oidcProviderArn");
export const oidcIssuer = output("oidcIssuer");
export const kfAdminRoleArn = output("kfAdminRoleArn");
export const kfUserRoleArn = output("kfUserRoleArn");
export const kfUserRoleArns = output("kfUserRoleArns");
export const profileRoleArns = output("profileRoleArns");
export const controllerRoleArns = output("controllerRoleArns");
export const podIdentityExternalIds = output("podIdentityExternalIds");
export const kubeconfig = output("kubeconfig");
export const drainingTrust = output("drainingTrust");
