// Another Pulumi program that uses the component, as a platform team's own program would: the
// stack config read as index.ts reads it and KubeflowIrsa built at once, without index.ts's STS
// question. With `platform:askSts` it first asks STS for the account the stack deploys to
// (deployerAccount), the fix the component names when it needs the account.
import * as pulumi from "@pulumi/pulumi";
import { readStackConfig } from "../../components/config";
import { deployerAccount, KubeflowIrsa } from "../../components/kubeflowIrsa";

export = async () => {
    const config = readStackConfig();
    const accountId = new pulumi.Config("platform").getBoolean("askSts") ? await deployerAccount(config) : undefined;
    const kubeflow = new KubeflowIrsa("kubeflow", { ...config, ...(accountId ? { accountId } : {}) });
    return { oidcProviderArn: kubeflow.oidcProviderArn, kfUserRoleArn: kubeflow.kfUserRoleArn, profileRoleArns: kubeflow.profileRoleArns };
};
